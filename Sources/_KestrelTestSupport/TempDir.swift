import Foundation

/// A fresh temporary directory for one test, removed (with its contents) when the value goes away.
/// Not shared between tests, so parallel tests never see each other's files.
public final class TempDir: Sendable {
    /// The directory.
    public let url: URL

    /// Creates `kestrel-<prefix>-<UUID>` under the system temporary directory.
    public init(prefix: String = "test") {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("kestrel-\(prefix)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The URL of `name` inside the directory (not created).
    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    deinit { try? FileManager.default.removeItem(at: url) }
}
