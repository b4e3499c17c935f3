import Foundation
import GRDB
import KestrelHistory
import KestrelKernels
import KestrelProfiling
import KestrelTensor
import Testing
import _KestrelTestSupport

/// Damaged and foreign files give a typed error and are left byte for byte as they were; two
/// processes writing at once never corrupt the database.
@Suite struct HistoryFileSafetyTests {
    typealias F = HistoryFixtures

    /// Opens `url` as a history, expecting a throw; checks the file (and its directory listing) did not change.
    func expectRejected(_ url: URL, sourceLocation: SourceLocation = #_sourceLocation) throws -> KestrelError? {
        let before = try Data(contentsOf: url)
        let listing = try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path).sorted()
        let error = kestrelError { () throws(KestrelError) in _ = try PerformanceHistory(url: url) }
        #expect(error != nil, "opened a bad file", sourceLocation: sourceLocation)
        #expect(try Data(contentsOf: url) == before, "the file changed", sourceLocation: sourceLocation)
        let after = try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path).sorted()
        #expect(after == listing, "files appeared: \(after)", sourceLocation: sourceLocation)
        return error
    }

    @Test func randomBytesAreACorruptFile() throws {
        let dir = TempDir(prefix: "history")
        var rng = SeededRNG(seed: 42)
        for size in [1, 15, 100, 4096, 65_536] {
            let url = dir.file("random-\(size).sqlite")
            try Data((0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }).write(to: url)
            guard case .corruptFile(let path, _, _) = try expectRejected(url) else {
                Issue.record("size \(size): expected corruptFile")
                continue
            }
            #expect(path == url.path)
        }
    }

    @Test func anSQLiteHeaderFollowedByGarbageIsACorruptFile() throws {
        let dir = TempDir(prefix: "history")
        var rng = SeededRNG(seed: 7)
        let url = dir.file("garbage.sqlite")
        try Data(Array("SQLite format 3\0".utf8) + (0..<8192).map { _ in UInt8.random(in: 0...255, using: &rng) }).write(to: url)
        guard case .corruptFile = try expectRejected(url) else { Issue.record("expected corruptFile"); return }
        let short = dir.file("short.sqlite")
        try Data(Array("SQLite format 3\0".utf8) + [0, 16]).write(to: short)
        guard case .corruptFile(_, _, let reason) = try expectRejected(short) else { Issue.record("expected corruptFile"); return }
        #expect(reason.contains("truncated"))
    }

    @Test func aTruncatedHistoryIsACorruptFile() throws {
        let dir = TempDir(prefix: "history")
        let url = dir.file("h.sqlite")
        do {
            let h = try PerformanceHistory(url: url, now: F.now)
            for i in 0..<200 {
                _ = try h.record(F.report(at: F.now.addingTimeInterval(Double(i)), latency: Double(100 + i)))
                try h.storeMetric(namespace: "n", key: "k\(i)", value: Double(i), text: String(repeating: "x", count: 200), now: F.now)
            }
        }  // closing the pool checkpoints the WAL into the file and removes it
        let full = try Data(contentsOf: url)
        #expect(!FileManager.default.fileExists(atPath: url.path + "-wal"))
        #expect(full.count > 64 * 1024)
        for cut in [full.count / 2, full.count - 4096, 4096 + 100] {
            try full.prefix(cut).write(to: url)
            guard case .corruptFile = try expectRejected(url) else {
                Issue.record("cut at \(cut): expected corruptFile")
                continue
            }
        }
    }

    @Test func anotherApplicationsDatabaseIsTheWrongKind() throws {
        let dir = TempDir(prefix: "history")
        let url = dir.file("other.sqlite")
        do {
            let q = try DatabaseQueue(path: url.path)
            try q.write { db in
                try db.execute(sql: "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('a')")
            }
            try q.close()
        }
        guard case .wrongFileKind(let path, let expected, let found) = try expectRejected(url) else {
            Issue.record("expected wrongFileKind"); return
        }
        #expect(path == url.path && expected == PerformanceHistory.fileKind && found.contains("users"))

        // Another application id, even with no tables.
        let marked = dir.file("marked.sqlite")
        do {
            let q = try DatabaseQueue(path: marked.path)
            try q.write { db in try db.execute(sql: "PRAGMA application_id = 1234") }
            try q.close()
        }
        guard case .wrongFileKind = try expectRejected(marked) else { Issue.record("expected wrongFileKind"); return }
    }

    @Test func aNewerSchemaIsUnsupported() throws {
        let dir = TempDir(prefix: "history")
        let url = dir.file("h.sqlite")
        do { _ = try PerformanceHistory(url: url, now: F.now) }
        do {
            let q = try DatabaseQueue(path: url.path)
            try q.write { db in try db.execute(sql: "PRAGMA user_version = 99") }
            try q.close()
        }
        #expect(try expectRejected(url) == .unsupportedVersion(found: 99, supported: 1...1))
    }

    @Test func aDirectoryIsAnIOError() throws {
        let dir = TempDir(prefix: "history")
        let error = kestrelError { () throws(KestrelError) in _ = try PerformanceHistory(url: dir.url) }
        #expect(error == .io(path: dir.url.path, operation: "open", errno: EISDIR))
        #expect(kestrelError { () throws(KestrelError) in _ = try PerformanceHistory(url: URL(fileURLWithPath: "")) } != nil)
    }

    @Test func threadsSharingOneHistoryNeverLoseAWrite() throws {
        let dir = TempDir(prefix: "history")
        let h = try PerformanceHistory(url: dir.file("h.sqlite"), now: F.now)
        let threads = 4, perThread = 25
        let failures = ConcurrentFailures()
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            for i in 0..<perThread {
                do {
                    _ = try h.record(F.report(at: F.now.addingTimeInterval(-Double(i)), latency: Double(t * 1000 + i)))
                    try h.storeMetric(namespace: "t", key: "\(t).\(i)", value: Double(i), now: F.now)
                    _ = try h.runs(in: .all, now: F.now.addingTimeInterval(60))
                    _ = try h.metrics(namespace: "t", keyPrefix: "\(t).", now: F.now)
                } catch {
                    failures.add("\(error)")
                }
            }
        }
        #expect(failures.all.isEmpty)
        #expect(try h.runs(in: .all, now: F.now.addingTimeInterval(60)).count == threads * perThread)
        #expect(try h.metrics(namespace: "t", limit: 10_000, now: F.now).count == threads * perThread)
    }

    /// The built `kestrel` executable beside the test bundle (or $KESTREL_BINARY).
    static func kestrelBinary() -> URL? {
        var candidates: [URL] = []
        if let env = ProcessInfo.processInfo.environment["KESTREL_BINARY"] { candidates.append(URL(fileURLWithPath: env)) }
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("kestrel"))
        candidates.append(Bundle.main.bundleURL.appendingPathComponent("kestrel"))
        if let arg0 = CommandLine.arguments.first {
            let u = URL(fileURLWithPath: arg0)
            candidates.append(u.deletingLastPathComponent().appendingPathComponent("kestrel"))
            candidates.append(u.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("kestrel"))
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    @Test func twoProcessesWritingAtOnceNeverCorruptIt() throws {
        guard let binary = Self.kestrelBinary() else {
            Issue.record("the kestrel executable was not found beside the tests (build it, or set KESTREL_BINARY)")
            return
        }
        let dir = TempDir(prefix: "history")
        let url = dir.file("shared.sqlite")
        let runs = 30, metrics = 60
        // Both processes also create the file: the first transaction of each races with the other.
        let processes = try ["A", "B"].map { tag in
            let p = Process()
            p.executableURL = binary
            p.arguments = ["_history-writer", "--db", url.path, "--tag", tag, "--runs", "\(runs)", "--metrics", "\(metrics)"]
            let err = Pipe()
            p.standardError = err
            try p.run()
            return (p, err)
        }
        for (p, err) in processes {
            let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "writer failed: \(message)")
        }
        let h = try PerformanceHistory(url: url)
        let all = try h.runs(in: .all, now: Date().addingTimeInterval(60))
        #expect(all.count == 2 * runs)
        #expect(Set(all.compactMap(\.gitCommit)) == ["A", "B"])
        for tag in ["A", "B"] {
            let m = try h.metrics(namespace: "stress", keyPrefix: "\(tag).", limit: 10_000)
            #expect(m.count == metrics && m.allSatisfy { $0.text == tag })
            let runsOfTag = all.filter { $0.gitCommit == tag }
            // Each writer's runs carry its 8 cases with the values it wrote, in order.
            for (i, r) in runsOfTag.enumerated() {
                #expect(try h.caseValues(runID: r.id).map(\.value) == (0..<8).map { Double(i * 8 + $0) })
            }
        }
        let check = try DatabaseQueue(path: url.path).read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
        #expect(check == ["ok"])
    }
}

/// Errors collected from concurrent workers.
final class ConcurrentFailures: @unchecked Sendable {
    private let lock = PlainLock()
    private var items: [String] = []
    func add(_ s: String) { lock.withLock { items.append(s) } }
    var all: [String] { lock.withLock { items } }
}
