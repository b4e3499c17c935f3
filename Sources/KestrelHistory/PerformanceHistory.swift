import Foundation
import GRDB
import KestrelKernels
import KestrelProfiling

/// The performance history: a SQLite database (through GRDB) of benchmark runs — metadata, each
/// case's value and verdict, and the whole report — and of key/value metrics with a namespace
/// and an optional time to live.
///
/// - The file is opened in WAL mode with a busy timeout, so several processes (two `kestrel
///   benchmark --save`, a `kestrel mcp` server and `kestrel status --watch`) read and write it at
///   once; each write is one transaction, so a crash never leaves half a run.
/// - Opening validates the file before anything is written to it: a file that is not SQLite,
///   a damaged one (`PRAGMA quick_check`), or another application's database throws
///   `KestrelError.corruptFile` / `.wrongFileKind` and is left byte for byte as it was. A schema
///   newer than this build throws `.unsupportedVersion`. An empty or missing file becomes a new
///   history (schema migrations run in one `BEGIN IMMEDIATE` transaction, so two processes
///   creating it at once agree).
/// - Expired metrics are pruned when the history is opened and on every metric store; queries
///   never return them.
///
/// Thread-safety: a `PerformanceHistory` may be shared by any number of threads (GRDB's
/// `DatabasePool`: concurrent reads, serialized writes).
public final class PerformanceHistory: Sendable {
    /// The schema version this build writes (SQLite `user_version`).
    public static let schemaVersion = 1
    /// Schema versions this build reads.
    public static let supportedSchemaVersions = 1...1
    /// The SQLite `application_id` that marks a Kestrel history ("KsHi").
    public static let applicationID: Int32 = 0x4B73_4869
    /// The kind name used in `wrongFileKind` errors.
    public static let fileKind = "Kestrel performance history"

    /// The database file.
    public let url: URL
    let pool: DatabasePool

    /// The default location: `$KESTREL_HISTORY` when set and non-empty, else
    /// `$XDG_CACHE_HOME/kestrel/history.sqlite`, else `~/.cache/kestrel/history.sqlite`
    /// (`~/Library/Caches/kestrel/history.sqlite` on Apple platforms).
    public static var defaultURL: URL { defaultURL(environment: ProcessInfo.processInfo.environment) }

    /// The default location computed from `environment` (see ``defaultURL``).
    public static func defaultURL(environment: [String: String]) -> URL {
        if let path = environment["KESTREL_HISTORY"], !path.isEmpty { return URL(fileURLWithPath: path) }
        if let cache = environment["XDG_CACHE_HOME"], cache.hasPrefix("/") {
            return URL(fileURLWithPath: cache).appendingPathComponent("kestrel/history.sqlite")
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        #if canImport(Darwin)
        return URL(fileURLWithPath: home).appendingPathComponent("Library/Caches/kestrel/history.sqlite")
        #else
        return URL(fileURLWithPath: home).appendingPathComponent(".cache/kestrel/history.sqlite")
        #endif
    }

    /// Opens the history at `url`, creating it (and its directory) when missing or empty,
    /// migrating an older schema, and pruning expired metrics.
    ///
    /// - Parameters:
    ///   - url: the database file.
    ///   - busyTimeout: how long a write waits for another process's write to finish, seconds.
    ///   - now: the clock used to prune (tests pass a fixed date).
    /// - Throws: `corruptFile(path:section:reason:)` when the file is not an SQLite database or
    ///   fails its integrity check; `wrongFileKind` when it is another application's database;
    ///   `unsupportedVersion` for a newer schema; `io` (operation "open", "mkdir", "lock") when it
    ///   cannot be opened, created or locked in time; `invalidArgument` for an empty path.
    ///   The file is never modified when any of these is thrown.
    /// - Complexity: O(file size) for the integrity check (`PRAGMA quick_check`) of an existing
    ///   file: about 30 ms per MB on a loaded 2-core machine (debug build). Open once per process.
    public init(url: URL, busyTimeout: TimeInterval = 10, now: Date = Date()) throws(KestrelError) {
        self.url = url
        pool = try HistoryStore.open(url: url, busyTimeout: busyTimeout)
        _ = try pruneExpired(now: now)
    }

    // MARK: Runs

    /// Records a benchmark run: its metadata, every case's value and verdict (one row per case
    /// name; a repeated name keeps the first), and the report's JSON (returned by ``report(runID:)``).
    /// One transaction: on a throw nothing is recorded.
    /// - Returns: the stored run.
    /// - Throws: `io` / `corruptFile` for database failures; `invalidArgument` when the report
    ///   cannot be encoded.
    public func record(_ report: BenchmarkReport) throws(KestrelError) -> HistoryRun {
        try HistoryStore.record(report, in: self)
    }

    /// Runs recorded in `timeframe` (ending at `now`), oldest first, optionally of one suite only.
    public func runs(in timeframe: HistoryTimeframe, suite: String? = nil, now: Date = Date()) throws(KestrelError) -> [HistoryRun] {
        try HistoryStore.runs(in: timeframe, suite: suite, now: now, history: self)
    }

    /// The run with row id `id`, or nil.
    public func run(id: Int64) throws(KestrelError) -> HistoryRun? {
        try HistoryStore.run(id: id, history: self)
    }

    /// The full report recorded with run `runID`, or nil when there is no such run.
    /// - Throws: `corruptFile` when the stored JSON no longer decodes.
    public func report(runID: Int64) throws(KestrelError) -> BenchmarkReport? {
        try HistoryStore.report(runID: runID, history: self)
    }

    /// Every case value of run `runID`, in the report's order.
    public func caseValues(runID: Int64) throws(KestrelError) -> [HistoryCaseValue] {
        try HistoryStore.caseValues(runID: runID, history: self)
    }

    /// The series of case `name` over `timeframe` (ending at `now`), oldest first.
    public func series(case name: String, in timeframe: HistoryTimeframe, now: Date = Date()) throws(KestrelError) -> [HistoryCaseValue] {
        try HistoryStore.series(case: name, in: timeframe, now: now, history: self)
    }

    /// Trends over `timeframe` and regression flags for its latest run: the latest run (of
    /// `suite`, or of any suite) is compared by ``BaselineComparison/compare(current:baseline:threshold:)``
    /// with the most recent earlier run of the same suite in the timeframe, preferring one with
    /// the same CPU model and ISA level.
    /// - Parameter threshold: relative change that counts as a regression (0.05 = 5 %).
    /// - Throws: `invalidArgument` for a negative or non-finite threshold; database errors.
    public func trend(timeframe: HistoryTimeframe, suite: String? = nil, threshold: Double = 0.05,
                      now: Date = Date()) throws(KestrelError) -> HistoryTrendReport {
        try HistoryStore.trend(timeframe: timeframe, suite: suite, threshold: threshold, now: now, history: self)
    }

    // MARK: Metrics

    /// Stores a metric point under `namespace`/`key`.
    ///
    /// - Parameters:
    ///   - value: a finite number, or nil when only `text` is stored (one of the two is required).
    ///   - text: a text value (for example JSON), at most 1 MiB of UTF-8.
    ///   - ttl: seconds until the point expires (> 0), or nil to keep it.
    ///   - replacing: remove the key's earlier points in the same transaction (a "current value").
    ///   - now: the time recorded.
    /// - Throws: `invalidArgument` for an empty namespace or key, a non-finite value, neither a
    ///   value nor a text, a text over 1 MiB, or a TTL ≤ 0; database errors.
    @discardableResult
    public func storeMetric(namespace: String, key: String, value: Double?, text: String? = nil, ttl: TimeInterval? = nil,
                            replacing: Bool = false, now: Date = Date()) throws(KestrelError) -> HistoryMetric {
        try HistoryStore.storeMetric(namespace: namespace, key: key, value: value, text: text, ttl: ttl,
                                     replacing: replacing, now: now, history: self)
    }

    /// Unexpired metric points of `namespace` whose key starts with `keyPrefix` (all keys for
    /// ""), newest first, optionally only those recorded inside `timeframe` and only the newest
    /// point of each key.
    /// - Parameter limit: at most this many points (≥ 1).
    public func metrics(namespace: String, keyPrefix: String = "", in timeframe: HistoryTimeframe = .all,
                        latestOnly: Bool = false, limit: Int = 1000, now: Date = Date()) throws(KestrelError) -> [HistoryMetric] {
        try HistoryStore.metrics(namespace: namespace, keyPrefix: keyPrefix, in: timeframe, latestOnly: latestOnly,
                                 limit: limit, now: now, history: self)
    }

    /// The namespaces that hold unexpired metrics, sorted.
    public func metricNamespaces(now: Date = Date()) throws(KestrelError) -> [String] {
        try HistoryStore.metricNamespaces(now: now, history: self)
    }

    /// Deletes metrics that expired at or before `now`.
    /// - Returns: how many points were deleted.
    @discardableResult
    public func pruneExpired(now: Date = Date()) throws(KestrelError) -> Int {
        try HistoryStore.pruneExpired(now: now, history: self)
    }

    // MARK: `kestrel mcp` server statistics

    /// Namespace of the statistics running `kestrel mcp` servers publish.
    public static let serverStatsNamespace = "mcp"

    /// Publishes a server's statistics, replacing its previous entry (key `server.<pid>`), with a
    /// time to live so that a server that stops publishing disappears.
    /// - Parameter ttl: seconds the entry stays visible (> 0; a few publishing intervals).
    public func publish(_ stats: MCPServerStats, ttl: TimeInterval = 5) throws(KestrelError) {
        try HistoryStore.publish(stats, ttl: ttl, history: self)
    }

    /// The statistics of every server whose entry has not expired at `now`, by process id.
    public func serverStats(now: Date = Date()) throws(KestrelError) -> [MCPServerStats] {
        try HistoryStore.serverStats(now: now, history: self)
    }

    /// Removes the statistics entry of server `processID` (a server calls it when it stops).
    public func removeServerStats(processID: Int32) throws(KestrelError) {
        try HistoryStore.removeServerStats(processID: processID, history: self)
    }
}
