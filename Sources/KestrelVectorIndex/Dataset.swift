import Foundation
import CKestrelKernels
import KestrelTensor

/// A row-major matrix read from or written to a dataset file.
public struct DatasetMatrix<Element: Sendable & Equatable>: Sendable, Equatable {
    /// Number of rows (vectors).
    public var rows: Int
    /// Components per row.
    public var dimension: Int
    /// `rows * dimension` values, row after row.
    public var values: [Element]

    /// Creates a matrix; `values.count` must equal `rows * dimension`.
    /// - Throws: `dimensionMismatch` when it does not, `invalidArgument` for negative sizes.
    public init(rows: Int, dimension: Int, values: [Element]) throws(KestrelError) {
        guard rows >= 0, dimension >= 0 else { throw .invalidArgument(name: "rows/dimension", reason: "must be ≥ 0") }
        let (product, overflow) = rows.multipliedReportingOverflow(by: dimension)
        guard !overflow, values.count == product else {
            throw .dimensionMismatch(expected: [rows, dimension], actual: [values.count])
        }
        self.rows = rows
        self.dimension = dimension
        self.values = values
    }

    /// Row `i` as an array slice.
    public subscript(row i: Int) -> ArraySlice<Element> { values[(i * dimension)..<((i + 1) * dimension)] }
}

/// Readers and writers for the usual ANN benchmark formats. Every reader validates the whole
/// input and throws `KestrelError.corruptFile` for malformed bytes (short rows, inconsistent or
/// non-positive dimensions, bad headers, size mismatches), never reading out of bounds.
///
/// - `.fvecs` / `.ivecs` / `.bvecs` (TEXMEX): each row is a little-endian int32 dimension `d`
///   followed by `d` float32 / int32 / uint8 values; all rows must share `d`.
/// - `.npy` (NumPy format 1.0–3.0): a C-order 1-D or 2-D array of little-endian `<f4`, `<f2` or
///   `<i4`. A 1-D array is one row. Reading floats accepts f32 and f16 (widened exactly) and int32
///   (converted); reading ints accepts int32 only.
///
/// Thread-safety: stateless; call from any thread.
public enum Dataset {
    // MARK: Files

    /// Reads float vectors from a `.fvecs`, `.bvecs` or `.npy` file (by extension).
    /// - Throws: `corruptFile` for malformed contents, `invalidArgument` for an unreadable file or
    ///   an unknown extension.
    public static func readFloats(_ url: URL) throws(KestrelError) -> DatasetMatrix<Float> {
        let bytes = try readBytes(url)
        return try withBytes(bytes) { (raw) throws(KestrelError) in
            switch url.pathExtension.lowercased() {
            case "fvecs": return try parseFvecs(raw)
            case "bvecs":
                let b = try parseBvecs(raw)
                return try DatasetMatrix(rows: b.rows, dimension: b.dimension, values: b.values.map { Float($0) })
            case "npy": return try parseNPYFloats(raw)
            default: throw .invalidArgument(name: "url", reason: "unknown vector format '.\(url.pathExtension)' (use .fvecs, .bvecs or .npy)")
            }
        }
    }

    /// Reads int32 rows (e.g. ground-truth neighbour ids) from an `.ivecs` or int32 `.npy` file.
    /// - Throws: as ``readFloats(_:)``.
    public static func readInts(_ url: URL) throws(KestrelError) -> DatasetMatrix<Int32> {
        let bytes = try readBytes(url)
        return try withBytes(bytes) { (raw) throws(KestrelError) in
            switch url.pathExtension.lowercased() {
            case "ivecs": return try parseIvecs(raw)
            case "npy": return try parseNPYInts(raw)
            default: throw .invalidArgument(name: "url", reason: "unknown id format '.\(url.pathExtension)' (use .ivecs or .npy)")
            }
        }
    }

    /// Writes float vectors as `.fvecs`, or `.npy` float32 (`.npy` with `halfPrecision` writes `<f2`).
    /// The file is written to a temporary name and renamed.
    public static func write(_ m: DatasetMatrix<Float>, to url: URL, halfPrecision: Bool = false) throws(KestrelError) {
        switch url.pathExtension.lowercased() {
        case "fvecs": try writeAtomically(encodeVecs(m.rows, m.dimension, m.values.map { $0.bitPattern }), to: url)
        case "npy":
            if halfPrecision {
                var half = [UInt16](repeating: 0, count: m.values.count)
                m.values.withUnsafeBufferPointer { s in
                    half.withUnsafeMutableBufferPointer { d in kestrel_f32_to_f16(s.baseAddress, d.baseAddress, s.count) }
                }
                try writeAtomically(encodeNPY(descr: "<f2", rows: m.rows, dimension: m.dimension, payload: half), to: url)
            } else {
                try writeAtomically(encodeNPY(descr: "<f4", rows: m.rows, dimension: m.dimension, payload: m.values.map { $0.bitPattern }), to: url)
            }
        default: throw .invalidArgument(name: "url", reason: "write floats as .fvecs or .npy, not '.\(url.pathExtension)'")
        }
    }

    /// Writes int32 rows as `.ivecs` or int32 `.npy`.
    public static func write(_ m: DatasetMatrix<Int32>, to url: URL) throws(KestrelError) {
        let bits = m.values.map { UInt32(bitPattern: $0) }
        switch url.pathExtension.lowercased() {
        case "ivecs": try writeAtomically(encodeVecs(m.rows, m.dimension, bits), to: url)
        case "npy": try writeAtomically(encodeNPY(descr: "<i4", rows: m.rows, dimension: m.dimension, payload: bits), to: url)
        default: throw .invalidArgument(name: "url", reason: "write ints as .ivecs or .npy, not '.\(url.pathExtension)'")
        }
    }

    /// Writes byte vectors as `.bvecs`.
    public static func write(_ m: DatasetMatrix<UInt8>, to url: URL) throws(KestrelError) {
        guard url.pathExtension.lowercased() == "bvecs" else {
            throw .invalidArgument(name: "url", reason: "write bytes as .bvecs, not '.\(url.pathExtension)'")
        }
        var out = [UInt8]()
        out.reserveCapacity(m.rows * (4 + m.dimension))
        for r in 0..<m.rows {
            appendLE(&out, UInt32(m.dimension))
            out.append(contentsOf: m[row: r])
        }
        try writeAtomically(out, to: url)
    }

    // MARK: Parsers (public so callers can validate in-memory bytes)

    /// Parses `.fvecs` bytes.
    public static func parseFvecs(_ raw: UnsafeRawBufferPointer) throws(KestrelError) -> DatasetMatrix<Float> {
        let (rows, d) = try vecsShape(raw, elementSize: 4, format: "fvecs")
        var values = [Float](repeating: 0, count: rows * d)
        values.withUnsafeMutableBufferPointer { out in
            for r in 0..<rows {
                let row = 4 + r * (4 + 4 * d)
                for i in 0..<d {
                    out[r * d + i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: row + 4 * i, as: UInt32.self)))
                }
            }
        }
        return try DatasetMatrix(rows: rows, dimension: d, values: values)
    }

    /// Parses `.ivecs` bytes.
    public static func parseIvecs(_ raw: UnsafeRawBufferPointer) throws(KestrelError) -> DatasetMatrix<Int32> {
        let (rows, d) = try vecsShape(raw, elementSize: 4, format: "ivecs")
        var values = [Int32](repeating: 0, count: rows * d)
        values.withUnsafeMutableBufferPointer { out in
            for r in 0..<rows {
                let row = 4 + r * (4 + 4 * d)
                for i in 0..<d {
                    out[r * d + i] = Int32(littleEndian: raw.loadUnaligned(fromByteOffset: row + 4 * i, as: Int32.self))
                }
            }
        }
        return try DatasetMatrix(rows: rows, dimension: d, values: values)
    }

    /// Parses `.bvecs` bytes.
    public static func parseBvecs(_ raw: UnsafeRawBufferPointer) throws(KestrelError) -> DatasetMatrix<UInt8> {
        let (rows, d) = try vecsShape(raw, elementSize: 1, format: "bvecs")
        var values = [UInt8](repeating: 0, count: rows * d)
        values.withUnsafeMutableBufferPointer { out in
            for r in 0..<rows {
                let row = 4 + r * (4 + d)
                for i in 0..<d { out[r * d + i] = raw[row + i] }
            }
        }
        return try DatasetMatrix(rows: rows, dimension: d, values: values)
    }

    /// Checks a TEXMEX file: non-empty, positive consistent dimensions, whole rows.
    static func vecsShape(_ raw: UnsafeRawBufferPointer, elementSize: Int, format: String) throws(KestrelError) -> (Int, Int) {
        guard raw.count >= 4 else { throw .corruptFile(path: nil, section: nil, reason: "\(format): \(raw.count) bytes, too short for a header") }
        let d = Int(Int32(littleEndian: raw.loadUnaligned(as: Int32.self)))
        guard d > 0, d <= 1 << 24 else { throw .corruptFile(path: nil, section: nil, reason: "\(format): dimension \(d) out of range") }
        let rowBytes = 4 + d * elementSize
        guard raw.count % rowBytes == 0 else {
            throw .corruptFile(path: nil, section: nil, reason: "\(format): \(raw.count) bytes is not a whole number of \(rowBytes)-byte rows")
        }
        let rows = raw.count / rowBytes
        for r in 0..<rows {
            let dr = Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: r * rowBytes, as: Int32.self)))
            guard dr == d else { throw .corruptFile(path: nil, section: nil, reason: "\(format): row \(r) has dimension \(dr), expected \(d)") }
        }
        return (rows, d)
    }

    /// Parses a `.npy` file of `<f4`, `<f2` or `<i4` into floats.
    public static func parseNPYFloats(_ raw: UnsafeRawBufferPointer) throws(KestrelError) -> DatasetMatrix<Float> {
        let h = try parseNPYHeader(raw)
        let n = h.rows * h.dimension
        var values = [Float](repeating: 0, count: n)
        values.withUnsafeMutableBufferPointer { out in
            switch h.descr {
            case "<f4":
                for i in 0..<n { out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: h.offset + 4 * i, as: UInt32.self))) }
            case "<f2":
                var half = [UInt16](repeating: 0, count: n)
                for i in 0..<n { half[i] = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: h.offset + 2 * i, as: UInt16.self)) }
                half.withUnsafeBufferPointer { kestrel_f16_to_f32($0.baseAddress, out.baseAddress, n) }
            default:
                for i in 0..<n { out[i] = Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: h.offset + 4 * i, as: Int32.self))) }
            }
        }
        return try DatasetMatrix(rows: h.rows, dimension: h.dimension, values: values)
    }

    /// Parses a `.npy` file of `<i4`.
    public static func parseNPYInts(_ raw: UnsafeRawBufferPointer) throws(KestrelError) -> DatasetMatrix<Int32> {
        let h = try parseNPYHeader(raw)
        guard h.descr == "<i4" else { throw .corruptFile(path: nil, section: nil, reason: "npy: expected '<i4' ids, found '\(h.descr)'") }
        let n = h.rows * h.dimension
        var values = [Int32](repeating: 0, count: n)
        values.withUnsafeMutableBufferPointer { out in
            for i in 0..<n { out[i] = Int32(littleEndian: raw.loadUnaligned(fromByteOffset: h.offset + 4 * i, as: Int32.self)) }
        }
        return try DatasetMatrix(rows: h.rows, dimension: h.dimension, values: values)
    }

    struct NPYHeader {
        var descr: String
        var rows: Int
        var dimension: Int
        var offset: Int
    }

    /// Validates the magic, version, header dictionary and payload size of a `.npy` file.
    static func parseNPYHeader(_ raw: UnsafeRawBufferPointer) throws(KestrelError) -> NPYHeader {
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
        guard let descr = npyValue(text, key: "descr"), let fortran = npyValue(text, key: "fortran_order"),
              let shapeText = npyValue(text, key: "shape")
        else { throw .corruptFile(path: nil, section: nil, reason: "npy: header lacks descr, fortran_order or shape") }
        let d = descr.trimmingCharacters(in: CharacterSet(charactersIn: "'\" "))
        guard ["<f4", "<f2", "<i4"].contains(d) else { throw .corruptFile(path: nil, section: nil, reason: "npy: unsupported dtype '\(d)' (use <f4, <f2 or <i4)") }
        guard fortran.trimmingCharacters(in: .whitespaces) == "False" else { throw .corruptFile(path: nil, section: nil, reason: "npy: Fortran order is not supported") }
        let dims = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() ")).split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let parsed = dims.compactMap { Int($0) }
        guard parsed.count == dims.count, (1...2).contains(parsed.count), parsed.allSatisfy({ $0 >= 0 && $0 <= 1 << 40 }) else {
            throw .corruptFile(path: nil, section: nil, reason: "npy: shape '\(shapeText)' is not a 1-D or 2-D shape")
        }
        let rows = parsed.count == 2 ? parsed[0] : 1
        let dim = parsed.count == 2 ? parsed[1] : parsed[0]
        let item = d == "<f2" ? 2 : 4
        let (total, overflow) = rows.multipliedReportingOverflow(by: dim)
        guard !overflow, total <= (raw.count / item) else { throw .corruptFile(path: nil, section: nil, reason: "npy: payload shorter than shape \(shapeText)") }
        let offset = start + headerLen
        guard raw.count - offset == total * item else {
            throw .corruptFile(path: nil, section: nil, reason: "npy: payload is \(raw.count - offset) bytes, shape needs \(total * item)")
        }
        return NPYHeader(descr: d, rows: rows, dimension: dim, offset: offset)
    }

    /// The text after `'key':` up to the next top-level comma or closing brace.
    static func npyValue(_ header: String, key: String) -> String? {
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

    // MARK: Encoding helpers

    static func appendLE<T: FixedWidthInteger>(_ out: inout [UInt8], _ v: T) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    static func encodeVecs(_ rows: Int, _ d: Int, _ bits: [UInt32]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(rows * (4 + 4 * d))
        for r in 0..<rows {
            appendLE(&out, UInt32(d))
            for i in 0..<d { appendLE(&out, bits[r * d + i]) }
        }
        return out
    }

    static func encodeNPY<T: FixedWidthInteger>(descr: String, rows: Int, dimension: Int, payload: [T]) -> [UInt8] {
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(rows), \(dimension)), }"
        // Pad so the payload starts on a 64-byte boundary; the header ends with a newline.
        while (10 + dict.utf8.count + 1) % 64 != 0 { dict += " " }
        dict += "\n"
        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0]
        appendLE(&out, UInt16(dict.utf8.count))
        out.append(contentsOf: Array(dict.utf8))
        for v in payload { appendLE(&out, v) }
        return out
    }

    static func readBytes(_ url: URL) throws(KestrelError) -> Data {
        do {
            return try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw .invalidArgument(name: "url", reason: "cannot read \(url.path): \(error.localizedDescription)")
        }
    }

    static func writeAtomically(_ bytes: [UInt8], to url: URL) throws(KestrelError) {
        try withBytes(bytes) { (b) throws(KestrelError) in try AtomicFile.write(b, to: url) }
    }
}
