import Foundation
import Kestrel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes NumPy `.npy` files (format 1.0, C order) so peer scripts load the exact benchmark
/// inputs with `numpy.load`.
enum NPYFile {
    /// The NumPy type string of a benchmark dtype: bf16 is stored as its raw `<u2` bits and b1 as
    /// packed `|u1` bytes (NumPy has neither type).
    static func descr(_ dtype: BenchDType) -> String {
        switch dtype {
        case .f32: return "<f4"
        case .f16: return "<f2"
        case .bf16: return "<u2"
        case .i8: return "|i1"
        case .b1: return "|u1"
        }
    }

    /// The magic, version and header of an array of `descr` and `shape`, padded with spaces to a
    /// multiple of 64 bytes and ended by a newline, as the format requires.
    static func header(descr: String, shape: [Int]) -> [UInt8] {
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }"
        let prefix = 10  // magic (6) + version (2) + header length (2)
        let total = (prefix + dict.utf8.count + 1 + 63) / 64 * 64
        dict += String(repeating: " ", count: total - prefix - dict.utf8.count - 1) + "\n"
        let len = UInt16(dict.utf8.count)
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(len & 0xff), UInt8(len >> 8)] + Array(dict.utf8)
    }

    /// Writes `byteCount` bytes at `data` as an array to `path` (through a temporary file renamed
    /// at the end, so a failed write never leaves a truncated file under the final name).
    /// - Throws: `KestrelError.io` (operation "create", "write" or "rename", with the errno) when
    ///   the file cannot be written.
    static func write(
        path: String, descr: String, shape: [Int], data: UnsafeRawPointer, byteCount: Int
    ) throws(KestrelError) {
        let tmp = path + ".tmp"
        guard let f = fopen(tmp, "wb") else { throw .io(path: path, operation: "create", errno: errno) }
        let head = header(descr: descr, shape: shape)
        let okHead = head.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) == $0.count }
        let okBody = byteCount == 0 || fwrite(data, 1, byteCount, f) == byteCount
        let okClose = fclose(f) == 0
        guard okHead, okBody, okClose else {
            let code = errno
            unlink(tmp)
            throw .io(path: path, operation: "write", errno: code)
        }
        guard rename(tmp, path) == 0 else { throw .io(path: path, operation: "rename", errno: errno) }
    }

    /// Creates `dir` (and missing parents) when it does not exist.
    /// - Throws: `KestrelError.backendFailure` when it cannot be created.
    static func makeDirectory(_ dir: String) throws(KestrelError) {
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw .backendFailure(routine: "mkdir(\(dir)): \(error)", code: -1)
        }
    }
}
