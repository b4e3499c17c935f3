import Foundation

/// The NumPy `.npy` format (versions 1.0–3.0, C order, little-endian), shared by every reader and
/// writer of the package: `Dataset` (vector files), the command line's benchmark inputs and
/// outputs, and ``Tensor`` files of any rank.
///
/// Thread-safety: stateless; call from any thread.
public enum NPY {
    /// A validated header: element type, shape and where the payload starts.
    public struct Header: Sendable, Equatable {
        /// NumPy type string: `<f4`, `<f2` or `<i4`.
        public var descr: String
        /// Dimensions, outermost first (C order).
        public var shape: [Int]
        /// Byte offset of the first element.
        public var offset: Int

        /// Bytes per element of ``descr``.
        public var itemBytes: Int { descr == "<f2" ? 2 : 4 }
        /// Product of the dimensions (validated not to overflow by ``NPY/parseHeader(_:maxRank:)``).
        public var elementCount: Int { shape.reduce(1, *) }
    }

    /// Validates the magic, version, header dictionary and payload size of `.npy` bytes. The
    /// payload must hold exactly the shape's elements. O(header length).
    /// - Parameter maxRank: largest rank accepted (a rank-0 array is never accepted).
    /// - Throws: `corruptFile` (no path) naming what is wrong: bad magic, version, truncated or
    ///   non-text header, missing keys, a dtype other than `<f4`/`<f2`/`<i4`, Fortran order, a
    ///   shape of the wrong rank or with negative dimensions, or a payload of the wrong size.
    public static func parseHeader(_ raw: UnsafeRawBufferPointer, maxRank: Int) throws(KestrelError) -> Header {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard raw.count >= 10, Array(raw[0..<6]) == magic else { throw .corruptFile(path: nil, section: nil, reason: "npy: bad magic") }
        let major = raw[6]
        let headerLen: Int
        let start: Int
        switch major {
        case 1:
            headerLen = Int(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt16.self)))
            start = 10
        case 2, 3:
            guard raw.count >= 12 else { throw .corruptFile(path: nil, section: nil, reason: "npy: truncated header") }
            headerLen = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
            start = 12
        default: throw .corruptFile(path: nil, section: nil, reason: "npy: unsupported format version \(major)")
        }
        guard headerLen <= 1 << 20, start + headerLen <= raw.count else { throw .corruptFile(path: nil, section: nil, reason: "npy: truncated header") }
        guard let text = String(bytes: raw[start..<(start + headerLen)], encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw .corruptFile(path: nil, section: nil, reason: "npy: header is not text")
        }
        guard let descr = value(text, key: "descr"), let fortran = value(text, key: "fortran_order"),
              let shapeText = value(text, key: "shape")
        else { throw .corruptFile(path: nil, section: nil, reason: "npy: header lacks descr, fortran_order or shape") }
        let d = descr.trimmingCharacters(in: CharacterSet(charactersIn: "'\" "))
        guard ["<f4", "<f2", "<i4"].contains(d) else { throw .corruptFile(path: nil, section: nil, reason: "npy: unsupported dtype '\(d)' (use <f4, <f2 or <i4)") }
        guard fortran.trimmingCharacters(in: .whitespaces) == "False" else { throw .corruptFile(path: nil, section: nil, reason: "npy: Fortran order is not supported") }
        let dims = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() ")).split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let parsed = dims.compactMap { Int($0) }
        guard parsed.count == dims.count, (1...max(1, maxRank)).contains(parsed.count), parsed.allSatisfy({ $0 >= 0 && $0 <= 1 << 40 }) else {
            let ranks = maxRank <= 2 ? "a 1-D or 2-D" : "a 1-D to \(maxRank)-D"
            throw .corruptFile(path: nil, section: nil, reason: "npy: shape '\(shapeText)' is not \(ranks) shape")
        }
        let item = d == "<f2" ? 2 : 4
        var total = 1
        for n in parsed {
            let (t, overflow) = total.multipliedReportingOverflow(by: n)
            guard !overflow, t <= raw.count / item else {
                throw .corruptFile(path: nil, section: nil, reason: "npy: payload shorter than shape \(shapeText)")
            }
            total = t
        }
        let offset = start + headerLen
        guard raw.count - offset == total * item else {
            throw .corruptFile(path: nil, section: nil, reason: "npy: payload is \(raw.count - offset) bytes, shape needs \(total * item)")
        }
        return Header(descr: d, shape: parsed, offset: offset)
    }

    /// The magic, version 1.0 and header of an array of `descr` and `shape`, padded with spaces so
    /// the payload starts on a 64-byte boundary and ended by a newline, as the format requires.
    public static func header(descr: String, shape: [Int]) -> [UInt8] {
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }"
        let prefix = 10  // magic (6) + version (2) + header length (2)
        let total = (prefix + dict.utf8.count + 1 + 63) / 64 * 64
        dict += String(repeating: " ", count: total - prefix - dict.utf8.count - 1) + "\n"
        let len = UInt16(dict.utf8.count)
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(len & 0xff), UInt8(len >> 8)] + Array(dict.utf8)
    }

    /// The text after `'key':` up to the next top-level comma or closing brace.
    static func value(_ header: String, key: String) -> String? {
        guard let r = header.range(of: "'\(key)'") ?? header.range(of: "\"\(key)\"") else { return nil }
        var rest = header[r.upperBound...].drop { $0 == " " }
        guard rest.first == ":" else { return nil }
        rest = rest.dropFirst()
        var depth = 0
        var out = ""
        for ch in rest {
            if ch == "(" { depth += 1 }
            if ch == ")" { depth -= 1 }
            if depth == 0 && (ch == "," || ch == "}") { break }
            out.append(ch)
            if depth < 0 { return nil }
        }
        return out.trimmingCharacters(in: .whitespaces)
    }
}

extension Tensor {
    /// Reads a little-endian float32 (`<f4`), C-order `.npy` file of rank 1…8 into a contiguous
    /// f32 tensor of the file's shape. The file is mapped, validated whole, then copied: O(size).
    /// - Throws: `corruptFile` (with the path) for malformed bytes or a dtype other than `<f4`;
    ///   `io` (operation "open", `EISDIR` for a directory, "stat" or "mmap") when unreadable.
    ///   A shape with a zero dimension gives an empty tensor.
    public static func readNPY(_ url: URL) throws(KestrelError) -> Tensor {
        let file = try MappedFile.map(path: url.path)
        do throws(KestrelError) {
            defer { withExtendedLifetime(file) {} }
            let raw = file.bytes
            let h = try NPY.parseHeader(raw, maxRank: 8)
            guard h.descr == "<f4" else {
                throw .corruptFile(path: nil, section: nil, reason: "npy: expected little-endian float32 '<f4', found '\(h.descr)'")
            }
            var values = [Float](repeating: 0, count: h.elementCount)
            values.withUnsafeMutableBufferPointer { out in
                for i in 0..<out.count {
                    out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: h.offset + 4 * i, as: UInt32.self)))
                }
            }
            return try Tensor(values, shape: h.shape)
        } catch {
            if case .corruptFile(nil, let section, let reason) = error {
                throw .corruptFile(path: url.path, section: section, reason: reason)
            }
            throw error
        }
    }

    /// Writes this f32 tensor (any layout; written in C order) as a `<f4` `.npy` file, atomically
    /// (``AtomicFile``). O(size).
    /// - Throws: `invalidArgument` for a dtype other than f32; `io` from the write.
    public func writeNPY(to url: URL) throws(KestrelError) {
        guard dtype == .f32 else { throw .invalidArgument(name: "tensor", reason: "writeNPY needs f32, got \(dtype)") }
        let c = try contiguous()
        let head = NPY.header(descr: "<f4", shape: shape.dims)
        try AtomicFile.write(to: url) { (sink) throws(KestrelError) in
            try withBytes(head) { (b) throws(KestrelError) in try sink.write(b) }
            try c.withUnsafeBufferPointer { (p: UnsafeBufferPointer<Float>) throws(KestrelError) in
                #if _endian(big)
                let le = p.map { $0.bitPattern.littleEndian }
                try withBytes(le) { (b) throws(KestrelError) in try sink.write(b) }
                #else
                try sink.write(UnsafeRawBufferPointer(p))
                #endif
            }
        }
    }
}
