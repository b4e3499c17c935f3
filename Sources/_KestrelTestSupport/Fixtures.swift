import Foundation

/// Loads test vectors copied into `Tests/Fixtures/` (so tests run wherever the package is cloned).
public enum Fixtures {
    /// The `Tests/Fixtures` folder of this checkout, found relative to this source file.
    public static var root: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // _KestrelTestSupport
            .deletingLastPathComponent()  // Sources
            .deletingLastPathComponent()  // package root
            .appendingPathComponent("Tests/Fixtures")
    }

    /// The bytes of `Tests/Fixtures/<path>`.
    public static func data(_ path: String) throws -> Data {
        try Data(contentsOf: root.appendingPathComponent(path))
    }

    /// A little-endian Float32 array stored raw in `Tests/Fixtures/<path>`.
    public static func floats(_ path: String) throws -> [Float] {
        let d = try data(path)
        return d.withUnsafeBytes { raw in
            (0..<(d.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }
}
