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
}
