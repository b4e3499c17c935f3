import Foundation
import Kestrel
import KestrelHistory
import Testing
import _KestrelTestSupport

@testable import KestrelCLI

/// `kestrel benchmark --save` recording into the history, `kestrel report --timeframe` and
/// `kestrel status`.
@Suite struct HistoryCommandTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// A report of the fake environment with one latency case.
    static func report(latency: Double, at date: Date) -> BenchmarkReport {
        var r = BenchmarkCaseResult(name: "simd.dot", suite: "simd", summary: "dot", target: nil, value: latency, unit: "ns",
                                    higherIsBetter: false, status: .pass)
        r.interval = ConfidenceInterval(estimate: latency, lower: latency * 0.99, upper: latency * 1.01, level: 0.95)
        return BenchmarkReport(environment: Fakes.environment, suite: "simd", results: [r], durationSeconds: 1, createdAt: date)
    }

    @Test func benchmarkSaveRecordsTheRunInTheHistory() throws {
        let dir = TempDir(prefix: "cli-history")
        let save = dir.file("run.json").path, db = dir.file("db/history.sqlite").path
        let output = OutputCollector()
        let result = try BenchmarkRunner.test(.fake(), output: output).run(BenchmarkRequest(save: save, history: db))
        let recorded = try #require(result.recorded)
        #expect(output.out.contains("recorded run #\(recorded.id) in the history \(db)"))
        let h = try PerformanceHistory(url: URL(fileURLWithPath: db))
        #expect(try h.report(runID: recorded.id) == result.report)
        #expect(try BenchmarkReport.load(from: URL(fileURLWithPath: save)) == result.report)  // --save unchanged
        #expect(try h.runs(in: .all, now: Date().addingTimeInterval(60)).map(\.id) == [recorded.id])

        // No history requested: nothing recorded.
        let plain = try BenchmarkRunner.test(.fake(), output: OutputCollector()).run(BenchmarkRequest(save: dir.file("b.json").path))
        #expect(plain.recorded == nil)
    }

    @Test func benchmarkRefusesToRecordIntoADamagedHistoryButKeepsTheSavedFile() throws {
        let dir = TempDir(prefix: "cli-history")
        let db = dir.file("bad.sqlite")
        let garbage = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try garbage.write(to: db)
        let save = dir.file("run.json").path
        #expect(throws: KestrelError.self) {
            _ = try BenchmarkRunner.test(.fake(), output: OutputCollector()).run(BenchmarkRequest(save: save, history: db.path))
        }
        #expect(try Data(contentsOf: db) == garbage)
        #expect(FileManager.default.fileExists(atPath: save))
    }

    @Test func benchmarkHistoryOptions() throws {
        #expect(try BenchmarkCommand.parse([]).historyPath == nil)
        #expect(try BenchmarkCommand.parse(["--save", "a.json"]).historyPath == PerformanceHistory.defaultURL.path)
        #expect(try BenchmarkCommand.parse(["--save", "a.json", "--db", "h.sqlite"]).historyPath == "h.sqlite")
        #expect(try BenchmarkCommand.parse(["--db", "h.sqlite"]).historyPath == "h.sqlite")
        #expect(try BenchmarkCommand.parse(["--save", "a.json", "--no-history"]).historyPath == nil)
        #expect(throws: (any Error).self) { try BenchmarkCommand.parse(["--db", ""]) }
        #expect(throws: (any Error).self) { try BenchmarkCommand.parse(["--db", "h", "--no-history"]) }
        #expect(PerformanceHistory.defaultURL(environment: ["XDG_CACHE_HOME": "/c", "HOME": "/h"]).path
            == "/c/kestrel/history.sqlite")
        #expect(PerformanceHistory.defaultURL(environment: ["KESTREL_HISTORY": "/x.db", "XDG_CACHE_HOME": "/c"]).path == "/x.db")
        #if !canImport(Darwin)
        #expect(PerformanceHistory.defaultURL(environment: ["HOME": "/h"]).path == "/h/.cache/kestrel/history.sqlite")
        #endif
    }

    @Test func reportOptions() throws {
        let c = try ReportCommand.parse(["--timeframe", "7d", "--db", "h.sqlite", "--format", "json", "--suite", "simd"])
        #expect(c.timeframe == .week && c.db == "h.sqlite" && c.suite == "simd")
        #expect(try ReportCommand.parse(["--timeframe", "24h"]).timeframe == .day)
        #expect(try ReportCommand.parse([]).timeframe == nil)
        for args in [["--timeframe", "1h"], ["--timeframe", "all", "--input", "r.json"], ["--db", "h.sqlite"],
                     ["--suite", "simd"], ["--timeframe", "all", "--db", ""], ["--timeframe", "all", "--threshold", "-1"]] {
            #expect(throws: (any Error).self, "\(args)") { try ReportCommand.parse(args) }
        }
    }

    @Test func reportRendersTrendsAndFlagsRegressions() throws {
        let dir = TempDir(prefix: "cli-history")
        let url = dir.file("h.sqlite")
        do {
            let h = try PerformanceHistory(url: url, now: Self.now)
            _ = try h.record(Self.report(latency: 100, at: Self.now.addingTimeInterval(-3 * 86_400)))
            _ = try h.record(Self.report(latency: 101, at: Self.now.addingTimeInterval(-7200)))
            _ = try h.record(Self.report(latency: 150, at: Self.now.addingTimeInterval(-3600)))
        }
        let detailed = try ReportCommand.renderHistory(url: url, timeframe: .week, format: .detailed, now: Self.now)
        #expect(detailed.contains("last 7d") && detailed.contains("(3 runs)"))
        #expect(detailed.contains("REGRESSION in 1 case(s): simd.dot"))
        #expect(detailed.contains("+50.0%"))  // the trend's first → last change
        let md = try ReportCommand.renderHistory(url: url, timeframe: .day, format: .markdown, now: Self.now)
        #expect(md.hasPrefix("# Kestrel performance history — last 24h"))
        #expect(md.contains("**REGRESSION**") && md.contains("| simd.dot |"))
        let json = try ReportCommand.renderHistory(url: url, timeframe: .all, format: .json, now: Self.now)
        let decoded = try JSONDecoder.iso8601.decode(HistoryTrendReport.self, from: Data(json.utf8))
        #expect(decoded.runs.count == 3 && decoded.regressions.map(\.name) == ["simd.dot"])
        #expect(decoded.regressions.first?.baseline == 101 && decoded.regressions.first?.current == 150)

        // Under a 60 % threshold, nothing is flagged.
        let lenient = try ReportCommand.renderHistory(url: url, timeframe: .all, threshold: 0.6, format: .detailed, now: Self.now)
        #expect(lenient.contains("no regression beyond 60%"))
    }

    @Test func reportOnAMissingOrDamagedHistory() throws {
        let dir = TempDir(prefix: "cli-history")
        let missing = dir.file("none.sqlite")
        let text = try ReportCommand.renderHistory(url: missing, timeframe: .all, format: .detailed)
        #expect(text.contains("No runs recorded"))
        #expect(!FileManager.default.fileExists(atPath: missing.path))  // never created by a report
        let foreign = dir.file("notes.sqlite")
        try Data("not a database at all".utf8).write(to: foreign)
        #expect(throws: KestrelError.self) { _ = try ReportCommand.renderHistory(url: foreign, timeframe: .all, format: .json) }
        #expect(try Data(contentsOf: foreign) == Data("not a database at all".utf8))
    }

    @Test func savedReportRenderingIsUnchanged() throws {
        // The file/stdin path of `kestrel report` still renders one saved report.
        let data = try Self.report(latency: 100, at: Self.now).jsonData()
        #expect(try ReportCommand.render(data, format: .markdown).hasPrefix("# Kestrel benchmark — suite `simd`"))
    }

    @Test func statusShowsMachineAndPublishedServers() throws {
        let dir = TempDir(prefix: "cli-history")
        let url = dir.file("h.sqlite")
        let h = try PerformanceHistory(url: url)
        let start = try SystemProbe.processSample()
        let t0 = Date().addingTimeInterval(-2)  // published in the past: entries from the future are not listed
        let first = MCPServerStats(processID: 4242, startedAt: t0.addingTimeInterval(-123), updatedAt: t0, transport: "stdio",
                                   requests: 100, errors: 2, p50Milliseconds: 0.25, p95Milliseconds: 1.5, p99Milliseconds: 4,
                                   maxMilliseconds: 12, process: start)
        try h.publish(first, ttl: 30)
        let before = StatusSnapshot.take(history: h, note: nil)
        #expect(before.servers == [first])
        var second = first
        second.requests = 300
        second.updatedAt = t0.addingTimeInterval(2)
        var later = start
        later.timestampNanoseconds += 2_000_000_000
        later.userCPUSeconds += 1  // 1 s of CPU in 2 s: 50 %
        later.residentBytes = 64 << 20
        second.process = later
        try h.publish(second, ttl: 30)
        let after = StatusSnapshot.take(history: h, note: nil)
        let frame = StatusCommand.frame(after, previous: before, historyPath: url.path, interval: 1, watching: true)
        #expect(frame.contains("cpu: ") && frame.contains("memory: ") && frame.contains("Ctrl-C"))
        let row = try #require(frame.split(separator: "\n").first { $0.hasPrefix("4242") }, "\(frame)")
        let cells = row.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        // PID, transport, up (2 m 05 s = 4 cells), requests, errors, req/s, p50, p95, p99, max, CPU %, RSS (2), …
        #expect(cells[0] == "4242" && cells[1] == "stdio" && cells[6] == "300" && cells[7] == "2")
        #expect(cells[8] == "100.0" && cells[9] == "0.250" && cells[10] == "1.500" && cells[11] == "4.000" && cells[12] == "12.0")
        #expect(cells[13] == "50.0" && cells[14] == "64.0" && cells[15] == "MiB")

        let none = StatusCommand.frame(StatusSnapshot.take(history: nil, note: "no history"), previous: nil, historyPath: "x",
                                       interval: 1, watching: false)
        #expect(none.contains("none running — no history"))
        // One real frame, without creating a missing database.
        let missing = dir.file("missing.sqlite").path
        try StatusCommand.parse(["--watch", "--once", "--interval", "0.1", "--db", missing]).run()
        #expect(!FileManager.default.fileExists(atPath: missing))
        #expect(throws: (any Error).self) { try StatusCommand.parse(["--interval", "0"]) }
    }

    /// The run times of the report tables (formatted with `gmtime_r`, not a `DateFormatter` per
    /// row) against a `DateFormatter` with the old pattern: boundaries, fractions, a leap day,
    /// dates before 1970 and after 2038, and seeded random instants.
    @Test func runTimesMatchADateFormatter() {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        var instants: [Double] = [0, 1, 59.999, 86_399.5, -1, -0.25, 951_782_400, 1_735_689_599.999, 1_800_000_000,
                                  4_102_444_800, -2_208_988_800, 253_402_300_799]
        var rng = SeededRNG(seed: 20)
        for _ in 0..<300 { instants.append(Double.random(in: -2e9...5e9, using: &rng).rounded() + Double(Int.random(in: 0..<1000, using: &rng)) / 1000) }
        for t in instants {
            let d = Date(timeIntervalSince1970: t)
            #expect(HistoryTrendReport.time(d) == f.string(from: d), "\(t)")
        }
    }
}
