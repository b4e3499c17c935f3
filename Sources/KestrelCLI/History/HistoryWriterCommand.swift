import ArgumentParser
import Foundation
import Kestrel
import KestrelHistory

/// Hidden `kestrel _history-writer`: records `--runs` small benchmark runs and stores `--metrics`
/// metric points in a history, interleaved, as fast as it can. The two-process concurrency test
/// (KestrelHistoryTests) starts two of these on one database; it is no user command. With
/// `--timing` it prints the latency of each operation (Benchmarks.md §17.2).
struct HistoryWriterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_history-writer", abstract: "Test helper: write runs and metrics into a history concurrently.",
        shouldDisplay: false)

    @Option var db: String
    @Option var tag: String
    @Option var runs = 20
    @Option var metrics = 50
    @Flag var timing = false

    func validate() throws {
        guard !db.isEmpty, !tag.isEmpty, runs >= 0, metrics >= 0 else { throw ValidationError("bad arguments") }
    }

    func run() throws {
        var open = try LatencyRecorder(), record = try LatencyRecorder(), store = try LatencyRecorder()
        func timed<T>(_ r: inout LatencyRecorder, _ body: () throws -> T) rethrows -> T {
            let t0 = MonotonicClock.now()
            defer { r.record(MonotonicClock.now() - t0) }
            return try body()
        }
        let history = try timed(&open) { try PerformanceHistory(url: URL(fileURLWithPath: db)) }
        let env = BenchmarkEnvironment(
            cpuModel: "writer \(tag)", architecture: BenchmarkEnvironment.architecture, logicalCores: 1, activeCores: 1,
            isaLevel: nil, operatingSystem: "test", toolchain: "test", buildConfiguration: "debug", libraryVersion: "0",
            gitCommit: tag, physicalMemoryBytes: 0,
            clock: ClockCalibration(source: "test", overheadNanoseconds: 0, resolutionNanoseconds: 1, batches: 1))
        for i in 0..<max(runs, metrics) {
            if i < runs {
                let results = (0..<8).map { c in
                    BenchmarkCaseResult(name: "case.\(c)", suite: "stress", summary: "", target: nil, value: Double(i * 8 + c),
                                        unit: "ns", higherIsBetter: false, status: .pass)
                }
                let report = BenchmarkReport(environment: env, suite: "stress", results: results, durationSeconds: 0)
                _ = try timed(&record) { try history.record(report) }
            }
            if i < metrics {
                try timed(&store) { _ = try history.storeMetric(namespace: "stress", key: "\(tag).\(i)", value: Double(i), text: tag) }
            }
        }
        guard timing else { return }
        var runs = try LatencyRecorder(), series = try LatencyRecorder(), trend = try LatencyRecorder(),
            query = try LatencyRecorder(), stats = try LatencyRecorder()
        for i in 0..<50 {
            _ = try timed(&runs) { try history.runs(in: .week) }
            _ = try timed(&series) { try history.series(case: "case.\(i % 8)", in: .week) }
            _ = try timed(&trend) { try history.trend(timeframe: .week) }
            _ = try timed(&query) { try history.metrics(namespace: "stress", keyPrefix: "\(tag).", limit: 100) }
            let s = MCPServerStats(processID: 1, startedAt: Date(), transport: "stdio", requests: UInt64(i), errors: 0)
            try timed(&stats) { try history.publish(s) }
        }
        let rows: [(String, LatencyRecorder)] = [
            ("open (validate + migrate)", open), ("record run (8 cases)", record), ("store metric", store),
            ("runs(in: 7d)", runs), ("series(case:)", series), ("trend(7d)", trend), ("metrics(prefix, 100)", query),
            ("publish server stats", stats),
        ]
        for (name, r) in rows { print("\(name): \(r.summary().line)") }
    }
}
