import Foundation
import Kestrel

/// The git commit of the code being measured.
///
/// SwiftPM offers no way to pass a build-time define without `unsafeFlags` (which dependents
/// refuse), so the commit is read at run time: `git rev-parse HEAD` in the current directory,
/// accepted only when that checkout is the Kestrel package (its top-level Package.swift names
/// it), with `-dirty` appended when tracked files are modified. Anything else is "unknown" —
/// a binary run outside its checkout cannot know its commit.
enum GitCommit {
    /// Runs git with the arguments in a directory and returns its standard output, or nil when
    /// it cannot be run or fails.
    typealias Git = (_ arguments: [String], _ directory: URL) -> String?

    /// The commit for reports: a 40-hex id (plus `-dirty`), or "unknown".
    static func resolve(directory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
                        git: Git = runGit) -> String {
        guard let top = git(["rev-parse", "--show-toplevel"], directory)?.trimmingCharacters(in: .whitespacesAndNewlines),
              !top.isEmpty, isKestrelPackage(URL(fileURLWithPath: top).appendingPathComponent("Package.swift")),
              let head = git(["rev-parse", "HEAD"], directory)?.trimmingCharacters(in: .whitespacesAndNewlines),
              head.count >= 7, head.allSatisfy(\.isHexDigit)
        else { return "unknown" }
        let status = git(["status", "--porcelain", "--untracked-files=no"], directory) ?? ""
        return status.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? head : head + "-dirty"
    }

    /// True when the manifest declares the package `Kestrel`.
    static func isKestrelPackage(_ manifest: URL) -> Bool {
        guard let text = try? String(contentsOf: manifest, encoding: .utf8) else { return false }
        return text.contains("name: \"Kestrel\"")
    }

    /// `git -C directory arguments…` through `/usr/bin/env`, stderr discarded.
    static func runGit(_ arguments: [String], _ directory: URL) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git", "-C", directory.path] + arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationReason == .exit, p.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}

extension BenchmarkEnvironment {
    /// This process's environment with the kernel tier in use and the commit filled in.
    static func kestrel(gitCommit: String = GitCommit.resolve()) -> BenchmarkEnvironment {
        .current(isaLevel: ISALevel.active.rawValue, gitCommit: gitCommit)
    }
}
