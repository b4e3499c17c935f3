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

    /// The magic, version and header of an array of `descr` and `shape` (``NPY/header(descr:shape:)``).
    static func header(descr: String, shape: [Int]) -> [UInt8] { NPY.header(descr: descr, shape: shape) }

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
