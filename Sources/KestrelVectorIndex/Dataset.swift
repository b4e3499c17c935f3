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
    /// - Throws: `corruptFile` (with `url`'s path) for malformed contents; `io` (operation
    ///   "open", `EISDIR` for a directory, "stat" or "mmap", with the errno) for an unreadable
    ///   file; `invalidArgument` for an unknown extension.
    public static func readFloats(_ url: URL) throws(KestrelError) -> DatasetMatrix<Float> {
        let ext = url.pathExtension.lowercased()
        guard ["fvecs", "bvecs", "npy"].contains(ext) else {
            throw .invalidArgument(name: "url", reason: "unknown vector format '.\(url.pathExtension)' (use .fvecs, .bvecs or .npy)")
        }
        let file = try MappedFile.map(path: url.path)
        return try parsing(url, file) { (raw) throws(KestrelError) in
            switch ext {
            case "fvecs": return try parseFvecs(raw)
            case "bvecs":
                let b = try parseBvecs(raw)
                return try DatasetMatrix(rows: b.rows, dimension: b.dimension, values: b.values.map { Float($0) })
            default: return try parseNPYFloats(raw)
            }
        }
    }

    /// Reads int32 rows (e.g. ground-truth neighbour ids) from an `.ivecs` or int32 `.npy` file.
    /// - Throws: as ``readFloats(_:)``.
    public static func readInts(_ url: URL) throws(KestrelError) -> DatasetMatrix<Int32> {
        let ext = url.pathExtension.lowercased()
        guard ext == "ivecs" || ext == "npy" else {
            throw .invalidArgument(name: "url", reason: "unknown id format '.\(url.pathExtension)' (use .ivecs or .npy)")
        }
        let file = try MappedFile.map(path: url.path)
        return try parsing(url, file) { (raw) throws(KestrelError) in
            ext == "ivecs" ? try parseIvecs(raw) : try parseNPYInts(raw)
        }
    }

    /// Writes float vectors as `.fvecs`, or `.npy` float32 (`.npy` with `halfPrecision` writes `<f2`).
    /// The file is written to a temporary name and renamed (``AtomicFile``).
    /// - Throws: `invalidArgument` for another extension; `io` as ``FlatIndex/save(to:)``.
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
    /// - Throws: as ``write(_:to:halfPrecision:)``.
    public static func write(_ m: DatasetMatrix<Int32>, to url: URL) throws(KestrelError) {
        let bits = m.values.map { UInt32(bitPattern: $0) }
        switch url.pathExtension.lowercased() {
        case "ivecs": try writeAtomically(encodeVecs(m.rows, m.dimension, bits), to: url)
        case "npy": try writeAtomically(encodeNPY(descr: "<i4", rows: m.rows, dimension: m.dimension, payload: bits), to: url)
        default: throw .invalidArgument(name: "url", reason: "write ints as .ivecs or .npy, not '.\(url.pathExtension)'")
        }
    }

    /// Writes byte vectors as `.bvecs`.
    /// - Throws: as ``write(_:to:halfPrecision:)``.
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

    /// Validates a `.npy` file of rank 1 or 2 (``NPY/parseHeader(_:maxRank:)``); a 1-D array is one row.
    static func parseNPYHeader(_ raw: UnsafeRawBufferPointer) throws(KestrelError) -> NPYHeader {
        let h = try NPY.parseHeader(raw, maxRank: 2)
        let rows = h.shape.count == 2 ? h.shape[0] : 1
        return NPYHeader(descr: h.descr, rows: rows, dimension: h.shape[h.shape.count - 1], offset: h.offset)
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
        var out = NPY.header(descr: descr, shape: [rows, dimension])
        out.reserveCapacity(out.count + payload.count * MemoryLayout<T>.size)
        for v in payload { appendLE(&out, v) }
        return out
    }

    /// Runs a parser over a mapped file (the parsers copy what they keep), naming the file in
    /// its `corruptFile` errors.
    static func parsing<T>(
        _ url: URL, _ file: MappedFile, _ parse: (UnsafeRawBufferPointer) throws(KestrelError) -> T
    ) throws(KestrelError) -> T {
        do throws(KestrelError) {
            defer { withExtendedLifetime(file) {} }
            return try parse(file.bytes)
        } catch {
            throw error.locating(path: url.path)
        }
    }

    static func writeAtomically(_ bytes: [UInt8], to url: URL) throws(KestrelError) {
        try withBytes(bytes) { (b) throws(KestrelError) in try AtomicFile.write(b, to: url) }
    }
}
