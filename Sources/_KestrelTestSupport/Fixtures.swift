import Foundation

/// Test fixtures committed under `Tests/Fixtures/` (copied from the reference implementations'
/// sets in `shared/fixtures/`, so the tests run from any clone of the package).
public enum Fixtures {
    /// The package's `Tests/Fixtures` directory, found from this source file's path.
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // _KestrelTestSupport
        .deletingLastPathComponent()  // Sources
        .deletingLastPathComponent()  // package root
        .appendingPathComponent("Tests/Fixtures", isDirectory: true)

    /// URL of `relativePath` under `Tests/Fixtures` (e.g. `"ggml-quants/inputs.bin"`).
    public static func url(_ relativePath: String) -> URL { root.appendingPathComponent(relativePath) }

    /// The raw bytes of a fixture file; throws (Foundation's error) when it is missing.
    public static func bytes(_ relativePath: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: url(relativePath)))
    }

    /// A raw little-endian float32 fixture file (`.bin`) as floats.
    public static func floats(_ relativePath: String) throws -> [Float] {
        let b = try bytes(relativePath)
        return stride(from: 0, to: b.count - b.count % 4, by: 4).map { i in
            Float(bitPattern: UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24)
        }
    }

    /// A little-endian float32, float64 or int32 C-order `.npy` fixture of any rank: its shape and
    /// values (as Double, exact for both). Throws (Foundation's error, or `FixtureError`) for
    /// another dtype or a malformed header.
    public static func npy(_ relativePath: String) throws -> (shape: [Int], values: [Double]) {
        let b = try bytes(relativePath)
        guard b.count >= 10, b[0] == 0x93, Array(b[1..<6]) == Array("NUMPY".utf8) else { throw FixtureError.malformed(relativePath) }
        let major = b[6]
        let headerLength = major == 1 ? Int(b[8]) | Int(b[9]) << 8
            : Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24
        let start = major == 1 ? 10 : 12
        guard b.count >= start + headerLength else { throw FixtureError.malformed(relativePath) }
        let header = String(decoding: b[start..<(start + headerLength)], as: UTF8.self)
        let width = header.contains("'descr': '<f8'") ? 8 : 4
        let int32 = header.contains("'descr': '<i4'")  // page tables and lengths
        guard header.contains("'descr': '<f4'") || width == 8 || int32, header.contains("'fortran_order': False"),
              let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")")
        else { throw FixtureError.malformed(relativePath) }
        let shape = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *)
        let data = start + headerLength
        guard b.count == data + width * count else { throw FixtureError.malformed(relativePath) }
        let values = (0..<count).map { i -> Double in
            let o = data + width * i
            var bits: UInt64 = 0
            for j in (0..<width).reversed() { bits = bits << 8 | UInt64(b[o + j]) }
            if int32 { return Double(Int32(bitPattern: UInt32(truncatingIfNeeded: bits))) }
            return width == 8 ? Double(bitPattern: bits) : Double(Float(bitPattern: UInt32(truncatingIfNeeded: bits)))
        }
        return (shape, values)
    }
}

/// A fixture file that is not what its reader expects.
public enum FixtureError: Error {
    case malformed(String)
}
