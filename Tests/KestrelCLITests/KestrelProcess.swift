import Foundation
import Testing

/// Runs the `kestrel` executable SwiftPM built beside the test bundle: the one way the CLI tests
/// launch it, so every contract test sees the same binary and never deadlocks on a full pipe.
enum KestrelProcess {
    /// What one run printed and how it ended.
    struct Result {
        var status: Int32
        /// Standard output split into lines (no empty trailing line).
        var lines: [String]
        var stderr: String
    }

    /// The built `kestrel` executable (next to the test bundle, or one or two folders up).
    static func executable() throws -> URL {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [dir, dir.deletingLastPathComponent(), dir.deletingLastPathComponent().deletingLastPathComponent()]
            .map { $0.appendingPathComponent("kestrel") }
        return try #require(candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) },
                            "no kestrel executable near \(dir.path)")
    }

    /// Runs `kestrel ARGS` to completion. `environment` entries set (a nil value removes the
    /// variable). Standard error goes to a temporary file rather than a second pipe, so a child
    /// that writes more than a pipe buffer to both streams cannot block the test.
    static func run(_ args: [String], environment: [String: String?] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = try executable()
        p.arguments = args
        if !environment.isEmpty {
            var env = ProcessInfo.processInfo.environment
            for (key, value) in environment { env[key] = value }
            p.environment = env
        }
        let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("kestrel-stderr-\(UUID())")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errURL) }
        let errHandle = try FileHandle(forWritingTo: errURL)
        let out = Pipe()
        p.standardOutput = out
        p.standardError = errHandle
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        try errHandle.close()
        // FileHandle rather than Data(contentsOf:): the latter leaks its read buffer for an empty
        // file in this toolchain's FoundationEssentials (LeakSanitizer, 4096 bytes per call).
        let errData = (try? FileHandle(forReadingFrom: errURL)).map { h in
            defer { try? h.close() }
            return h.readDataToEndOfFile()
        } ?? Data()
        return Result(status: p.terminationStatus,
                      lines: String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}
