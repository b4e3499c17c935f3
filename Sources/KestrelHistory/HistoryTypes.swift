import Foundation
import KestrelProfiling

/// A window of the history, counted back from "now": the last 24 hours, the last 7 days, or
/// everything. The raw values are the command-line spellings (`24h`, `7d`, `all`).
public enum HistoryTimeframe: String, CaseIterable, Sendable, Codable {
    /// The last 24 hours.
    case day = "24h"
    /// The last 7 days.
    case week = "7d"
    /// The whole history.
    case all

    /// The earliest instant inside the window ending at `now`; nil for ``all``.
    public func start(endingAt now: Date) -> Date? {
        switch self {
        case .day: return now.addingTimeInterval(-86_400)
        case .week: return now.addingTimeInterval(-7 * 86_400)
        case .all: return nil
        }
    }
}

/// One recorded benchmark run: its metadata (the environment the numbers came from). The case
/// values are in ``HistoryCaseValue`` rows; the whole report is kept too (``PerformanceHistory/report(runID:)``).
public struct HistoryRun: Codable, Sendable, Equatable {
    /// Row id in the database (increasing with insertion order).
    public var id: Int64
    /// When the run finished (the report's `createdAt`, whole seconds).
    public var recordedAt: Date
    /// Suite run (`all` or a suite name).
    public var suite: String
    /// CPU model.
    public var cpuModel: String
    /// Architecture the binary targets (`x86_64`, `arm64`, …).
    public var architecture: String
    /// Kernel tier in use (e.g. `avx512`), when reported.
    public var isaLevel: String?
    /// Git commit of the code measured, when known.
    public var gitCommit: String?
    /// Library version.
    public var libraryVersion: String
    /// `debug` or `release`.
    public var buildConfiguration: String
    /// Wall time of the run, seconds.
    public var durationSeconds: Double
    /// Number of case results recorded.
    public var caseCount: Int
    /// Cases whose status was FAIL.
    public var failures: Int

    /// Creates a run record (normally read from the database).
    public init(id: Int64, recordedAt: Date, suite: String, cpuModel: String, architecture: String, isaLevel: String?,
                gitCommit: String?, libraryVersion: String, buildConfiguration: String, durationSeconds: Double,
                caseCount: Int, failures: Int) {
        self.id = id
        self.recordedAt = recordedAt
        self.suite = suite
        self.cpuModel = cpuModel
        self.architecture = architecture
        self.isaLevel = isaLevel
        self.gitCommit = gitCommit
        self.libraryVersion = libraryVersion
        self.buildConfiguration = buildConfiguration
        self.durationSeconds = durationSeconds
        self.caseCount = caseCount
        self.failures = failures
    }
}

/// One case's measured value in one run: a point of the case's series.
public struct HistoryCaseValue: Codable, Sendable, Equatable {
    /// The run it belongs to.
    public var runID: Int64
    /// When that run finished.
    public var recordedAt: Date
    /// Case name.
    public var name: String
    /// Suite of the case.
    public var suite: String
    /// The measured figure (nil when skipped or failed).
    public var value: Double?
    /// Unit of ``value``.
    public var unit: String
    /// Confidence interval bounds of ``value``, when measured.
    public var lower: Double?
    /// Upper bound of the confidence interval.
    public var upper: Double?
    /// Direction used to judge changes (nil: not judged).
    public var higherIsBetter: Bool?
    /// Verdict: PASS / WARN / FAIL / SKIP / INFO (``BenchmarkStatus`` raw value).
    public var status: String

    /// Creates a value (normally read from the database).
    public init(runID: Int64, recordedAt: Date, name: String, suite: String, value: Double?, unit: String,
                lower: Double?, upper: Double?, higherIsBetter: Bool?, status: String) {
        self.runID = runID
        self.recordedAt = recordedAt
        self.name = name
        self.suite = suite
        self.value = value
        self.unit = unit
        self.lower = lower
        self.upper = upper
        self.higherIsBetter = higherIsBetter
        self.status = status
    }
}

/// A key/value metric: a number and/or a text under a namespace, with an optional expiry.
/// Storing appends a point (a metric key has a series), unless the store replaces the key.
public struct HistoryMetric: Codable, Sendable, Equatable {
    /// Row id (increasing with insertion order).
    public var id: Int64
    /// Namespace, e.g. `mcp` or an agent's project name. Non-empty.
    public var namespace: String
    /// Key inside the namespace (dots group keys: queries select by key prefix). Non-empty.
    public var key: String
    /// Numeric value (finite), if any.
    public var value: Double?
    /// Text value (e.g. JSON), if any.
    public var text: String?
    /// When it was stored.
    public var recordedAt: Date
    /// When it stops being returned and gets pruned; nil: kept forever.
    public var expiresAt: Date?

    /// Creates a metric (normally read from the database).
    public init(id: Int64, namespace: String, key: String, value: Double?, text: String?, recordedAt: Date, expiresAt: Date?) {
        self.id = id
        self.namespace = namespace
        self.key = key
        self.value = value
        self.text = text
        self.recordedAt = recordedAt
        self.expiresAt = expiresAt
    }
}

/// One case's values over the runs of a timeframe (oldest first), for trend rendering.
public struct HistoryCaseSeries: Codable, Sendable, Equatable {
    /// Case name.
    public var name: String
    /// Unit of the values (of the latest point).
    public var unit: String
    /// Direction used to judge changes, when known.
    public var higherIsBetter: Bool?
    /// The points, oldest first; points without a value are kept (their status says why).
    public var points: [HistoryCaseValue]

    /// Creates a series.
    public init(name: String, unit: String, higherIsBetter: Bool?, points: [HistoryCaseValue]) {
        self.name = name
        self.unit = unit
        self.higherIsBetter = higherIsBetter
        self.points = points
    }

    /// The values that exist, oldest first.
    public var values: [Double] { points.compactMap(\.value) }
    /// Relative change from the first to the last value, percent; nil with fewer than two values
    /// or a zero first value.
    public var changePercent: Double? {
        let v = values
        guard v.count >= 2, let first = v.first, let last = v.last, first != 0 else { return nil }
        return (last - first) / abs(first) * 100
    }
}

/// Trends and regression flags over a timeframe of the history: the runs, each case's series,
/// and the latest run compared with the previous comparable one by KestrelProfiling's
/// ``BaselineComparison`` (same suite, preferring the same CPU model and ISA level).
public struct HistoryTrendReport: Codable, Sendable, Equatable {
    /// Timeframe covered.
    public var timeframe: HistoryTimeframe
    /// The instant the timeframe ends at.
    public var generatedAt: Date
    /// Suite filter applied (nil: all suites).
    public var suite: String?
    /// Runs in the timeframe, oldest first.
    public var runs: [HistoryRun]
    /// The latest run (the one judged).
    public var latest: HistoryRun?
    /// The run it was compared with, when there is one.
    public var baseline: HistoryRun?
    /// Latest against baseline (nil when fewer than two comparable runs exist).
    public var comparison: BaselineComparison?
    /// Per-case series over the timeframe, sorted by case name.
    public var series: [HistoryCaseSeries]

    /// Creates a trend report (normally by ``PerformanceHistory/trend(timeframe:suite:threshold:now:)``).
    public init(timeframe: HistoryTimeframe, generatedAt: Date, suite: String?, runs: [HistoryRun], latest: HistoryRun?,
                baseline: HistoryRun?, comparison: BaselineComparison?, series: [HistoryCaseSeries]) {
        self.timeframe = timeframe
        self.generatedAt = generatedAt
        self.suite = suite
        self.runs = runs
        self.latest = latest
        self.baseline = baseline
        self.comparison = comparison
        self.series = series
    }

    /// Cases flagged as regressions in the latest run.
    public var regressions: [BaselineDelta] { comparison?.regressions ?? [] }
    /// Cases flagged as improvements in the latest run.
    public var improvements: [BaselineDelta] { comparison?.improvements ?? [] }
}

/// What a running `kestrel mcp` server publishes about itself (about once a second) so that
/// `kestrel status --watch` in another process can show it. Stored as a metric of namespace
/// ``PerformanceHistory/serverStatsNamespace`` with a short TTL: a server that stops publishing
/// (exits or crashes) disappears from the status once its last entry expires.
public struct MCPServerStats: Codable, Sendable, Equatable {
    /// The server's process id.
    public var processID: Int32
    /// When the server started.
    public var startedAt: Date
    /// When these figures were taken.
    public var updatedAt: Date
    /// Transport in use (e.g. `stdio`, `stdio-sdk`).
    public var transport: String
    /// Requests answered since start (responses and errors; notifications excluded).
    public var requests: UInt64
    /// Requests answered with a JSON-RPC error.
    public var errors: UInt64
    /// Median request latency, milliseconds (nil before the first request).
    public var p50Milliseconds: Double?
    /// 95th-percentile request latency, milliseconds.
    public var p95Milliseconds: Double?
    /// 99th-percentile request latency, milliseconds.
    public var p99Milliseconds: Double?
    /// Slowest request, milliseconds.
    public var maxMilliseconds: Double?
    /// The server process's resource usage when the figures were taken (``SystemProbe/processSample()``:
    /// CPU seconds, RSS, faults, context switches), so another process can show it; nil when not sampled.
    public var process: ProcessSample?

    /// Creates a stats record.
    public init(processID: Int32, startedAt: Date, updatedAt: Date = Date(), transport: String, requests: UInt64, errors: UInt64,
                p50Milliseconds: Double? = nil, p95Milliseconds: Double? = nil, p99Milliseconds: Double? = nil,
                maxMilliseconds: Double? = nil, process: ProcessSample? = nil) {
        self.processID = processID
        self.startedAt = startedAt
        self.updatedAt = updatedAt
        self.transport = transport
        self.requests = requests
        self.errors = errors
        self.p50Milliseconds = p50Milliseconds
        self.p95Milliseconds = p95Milliseconds
        self.p99Milliseconds = p99Milliseconds
        self.maxMilliseconds = maxMilliseconds
        self.process = process
    }

    /// Creates a stats record whose percentiles come from a latency distribution (nanoseconds),
    /// e.g. `ConcurrentLatencyRecorder.snapshot().summary()`; a summary with no samples leaves
    /// them nil.
    public init(processID: Int32, startedAt: Date, updatedAt: Date = Date(), transport: String, requests: UInt64, errors: UInt64,
                latency: LatencySummary, process: ProcessSample? = nil) {
        let ms = { (ns: UInt64) -> Double? in latency.count == 0 ? nil : Double(ns) / 1e6 }
        self.init(processID: processID, startedAt: startedAt, updatedAt: updatedAt, transport: transport, requests: requests,
                  errors: errors, p50Milliseconds: ms(latency.p50), p95Milliseconds: ms(latency.p95),
                  p99Milliseconds: ms(latency.p99), maxMilliseconds: ms(latency.max), process: process)
    }
}
