import Foundation
import GRDB
import KestrelKernels
import KestrelProfiling

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The SQL behind ``PerformanceHistory``: opening with validation, migrations, and the queries.
enum HistoryStore {
    // MARK: Schema

    /// Migration `i` takes the schema from version `i` to `i + 1`; run in order inside one
    /// `BEGIN IMMEDIATE` transaction that re-reads `user_version`, so concurrent openers agree.
    static let migrations: [String] = [
        """
        CREATE TABLE run (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            recorded_at REAL NOT NULL,
            suite TEXT NOT NULL,
            cpu_model TEXT NOT NULL,
            architecture TEXT NOT NULL,
            isa_level TEXT,
            git_commit TEXT,
            library_version TEXT NOT NULL,
            build_configuration TEXT NOT NULL,
            duration_seconds REAL NOT NULL,
            case_count INTEGER NOT NULL,
            failures INTEGER NOT NULL,
            report_json BLOB NOT NULL
        );
        CREATE INDEX run_by_time ON run(recorded_at);
        CREATE TABLE case_result (
            run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            suite TEXT NOT NULL,
            value REAL,
            unit TEXT NOT NULL,
            lower REAL,
            upper REAL,
            higher_is_better INTEGER,
            status TEXT NOT NULL,
            PRIMARY KEY (run_id, name)
        );
        CREATE INDEX case_by_name ON case_result(name, run_id);
        CREATE TABLE metric (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            namespace TEXT NOT NULL,
            key TEXT NOT NULL,
            value REAL,
            text TEXT,
            recorded_at REAL NOT NULL,
            expires_at REAL
        );
        CREATE INDEX metric_by_key ON metric(namespace, key, recorded_at);
        CREATE INDEX metric_by_expiry ON metric(expires_at) WHERE expires_at IS NOT NULL;
        """,
    ]

    static let sqliteMagic = Array("SQLite format 3\0".utf8)

    // MARK: Opening

    static func open(url: URL, busyTimeout: TimeInterval) throws(KestrelError) -> DatabasePool {
        let path = url.path
        guard !path.isEmpty else { throw .invalidArgument(name: "url", reason: "empty database path") }
        let dir = url.deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw .io(path: dir, operation: "mkdir", errno: posixCode(error) ?? EACCES)
        }
        try checkHeader(path: path)
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        config.foreignKeysEnabled = true
        config.label = "kestrel-history"
        // In WAL mode NORMAL never corrupts the file (a power loss can only drop the last
        // commits), and a commit costs no fsync: records and metric stores stay sub-millisecond.
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        // Inspect with a plain connection first: the pool switches the file to WAL on open,
        // which would write to a foreign or damaged file.
        if FileManager.default.fileExists(atPath: path) {
            do {
                let queue = try DatabaseQueue(path: path, configuration: config)
                try queue.read { db in try inspect(db, path: path, integrity: true) }
                try queue.close()
            } catch let e as KestrelError {
                throw e
            } catch {
                throw map(error, path: path)
            }
        }
        do {
            let pool = try DatabasePool(path: path, configuration: config)
            try pool.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    // Another process may have created the file since the inspection: check its
                    // kind again (not its integrity: that was checked, and costs O(file size)).
                    try inspect(db, path: path, integrity: false)
                    let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                    if version < migrations.count {
                        for m in migrations[version...] { try db.execute(sql: m) }
                        try db.execute(sql: "PRAGMA application_id = \(PerformanceHistory.applicationID)")
                        try db.execute(sql: "PRAGMA user_version = \(migrations.count)")
                    }
                    return .commit
                }
            }
            return pool
        } catch let e as KestrelError {
            throw e
        } catch {
            throw map(error, path: path)
        }
    }

    /// Rejects a non-empty file that does not start with the SQLite header, without opening it.
    static func checkHeader(path: String) throws(KestrelError) {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT { return }
            throw .io(path: path, operation: "stat", errno: errno)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .io(path: path, operation: "open", errno: EISDIR) }
        if st.st_size == 0 { return }  // SQLite treats an empty file as a new database
        guard let h = FileHandle(forReadingAtPath: path) else { throw .io(path: path, operation: "open", errno: errno) }
        defer { try? h.close() }
        let head = [UInt8]((try? h.read(upToCount: 100)) ?? Data())
        guard head.count >= sqliteMagic.count, Array(head.prefix(sqliteMagic.count)) == sqliteMagic else {
            throw .corruptFile(path: path, section: nil, reason: "not an SQLite database (no 'SQLite format 3' header)")
        }
        guard head.count == 100 else {
            throw .corruptFile(path: path, section: nil, reason: "truncated SQLite header (\(head.count) of 100 bytes)")
        }
    }

    /// Checks integrity, application id and schema version; throws for anything but a Kestrel
    /// history this build reads or an empty database.
    static func inspect(_ db: Database, path: String, integrity: Bool) throws {
        if integrity {
            let check = try String.fetchAll(db, sql: "PRAGMA quick_check(5)")
            guard check == ["ok"] else {
                throw KestrelError.corruptFile(path: path, section: "quick_check", reason: check.joined(separator: "; "))
            }
        }
        let app = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
        let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
        let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
        if app == PerformanceHistory.applicationID {
            guard version <= PerformanceHistory.schemaVersion else {
                throw KestrelError.unsupportedVersion(found: version, supported: PerformanceHistory.supportedSchemaVersions)
            }
            return
        }
        if app == 0 && tables.isEmpty && version == 0 { return }  // empty database: becomes a history
        let listed = tables.prefix(5).joined(separator: ", ") + (tables.count > 5 ? ", …" : "")
        throw KestrelError.wrongFileKind(
            path: path, expected: PerformanceHistory.fileKind,
            found: "SQLite database of another application (application_id \(app), user_version \(version)"
                + (tables.isEmpty ? ")" : ", tables \(listed))"))
    }

    static func posixCode(_ error: any Error) -> Int32? {
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return Int32(ns.code) }
        if let u = ns.userInfo[NSUnderlyingErrorKey] as? NSError, u.domain == NSPOSIXErrorDomain { return Int32(u.code) }
        return nil
    }

    /// Maps GRDB / SQLite failures to `KestrelError`.
    static func map(_ error: any Error, path: String) -> KestrelError {
        if let e = error as? KestrelError { return e }
        guard let e = error as? DatabaseError else {
            return .io(path: path, operation: "sqlite", errno: posixCode(error) ?? EIO)
        }
        let message = e.message ?? "\(e)"
        switch e.resultCode {
        case .SQLITE_NOTADB: return .corruptFile(path: path, section: nil, reason: "not an SQLite database: \(message)")
        case .SQLITE_CORRUPT: return .corruptFile(path: path, section: nil, reason: message)
        case .SQLITE_BUSY, .SQLITE_LOCKED: return .io(path: path, operation: "lock", errno: EBUSY)
        case .SQLITE_FULL: return .io(path: path, operation: "write", errno: ENOSPC)
        case .SQLITE_CANTOPEN: return .io(path: path, operation: "open", errno: EACCES)
        case .SQLITE_READONLY, .SQLITE_PERM: return .io(path: path, operation: "write", errno: EACCES)
        case .SQLITE_IOERR: return .io(path: path, operation: "sqlite I/O", errno: EIO)
        default: return .backendFailure(routine: "sqlite: \(message)", code: Int(e.extendedResultCode.rawValue))
        }
    }

    static func run<T>(_ history: PerformanceHistory, _ body: () throws -> T) throws(KestrelError) -> T {
        do {
            return try body()
        } catch {
            throw map(error, path: history.url.path)
        }
    }

    // MARK: Runs

    static func seconds(_ d: Date) -> Double { d.timeIntervalSince1970 }
    static func date(_ s: Double) -> Date { Date(timeIntervalSince1970: s) }

    static func record(_ report: BenchmarkReport, in history: PerformanceHistory) throws(KestrelError) -> HistoryRun {
        let json: Data
        do {
            json = try report.jsonData()
        } catch {
            throw .invalidArgument(name: "report", reason: "cannot encode: \(error)")
        }
        let env = report.environment
        let failures = report.results.filter { $0.status == .fail }.count
        let id: Int64 = try run(history) {
            try history.pool.write { db in
                try db.execute(sql: """
                    INSERT INTO run (recorded_at, suite, cpu_model, architecture, isa_level, git_commit, library_version,
                                     build_configuration, duration_seconds, case_count, failures, report_json)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [seconds(report.createdAt), report.suite, env.cpuModel, env.architecture, env.isaLevel,
                                     env.gitCommit, env.libraryVersion, env.buildConfiguration,
                                     report.durationSeconds.isFinite ? report.durationSeconds : 0,
                                     report.results.count, failures, json])
                let id = db.lastInsertedRowID
                for (i, r) in report.results.enumerated() {
                    let finite = { (v: Double?) -> Double? in v.flatMap { $0.isFinite ? $0 : nil } }
                    try db.execute(sql: """
                        INSERT OR IGNORE INTO case_result (run_id, position, name, suite, value, unit, lower, upper,
                                                           higher_is_better, status)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [id, i, r.name, r.suite, finite(r.value), r.unit, finite(r.interval?.lower),
                                         finite(r.interval?.upper), r.higherIsBetter, r.status.rawValue])
                }
                return id
            }
        }
        return HistoryRun(id: id, recordedAt: report.createdAt, suite: report.suite, cpuModel: env.cpuModel,
                          architecture: env.architecture, isaLevel: env.isaLevel, gitCommit: env.gitCommit,
                          libraryVersion: env.libraryVersion, buildConfiguration: env.buildConfiguration,
                          durationSeconds: report.durationSeconds.isFinite ? report.durationSeconds : 0,
                          caseCount: report.results.count, failures: failures)
    }

    static let runColumns = """
        id, recorded_at, suite, cpu_model, architecture, isa_level, git_commit, library_version, build_configuration,
        duration_seconds, case_count, failures
        """

    // Decoders read columns by position (the SELECT lists above): several times faster than by name.
    static func decodeRun(_ row: Row) -> HistoryRun {
        HistoryRun(id: row[0], recordedAt: date(row[1]), suite: row[2], cpuModel: row[3], architecture: row[4], isaLevel: row[5],
                   gitCommit: row[6], libraryVersion: row[7], buildConfiguration: row[8], durationSeconds: row[9],
                   caseCount: row[10], failures: row[11])
    }

    static func runs(in timeframe: HistoryTimeframe, suite: String?, now: Date,
                     history: PerformanceHistory) throws(KestrelError) -> [HistoryRun] {
        let start = timeframe.start(endingAt: now).map(seconds) ?? -Double.greatestFiniteMagnitude
        return try run(history) {
            try history.pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT \(runColumns) FROM run
                    WHERE recorded_at >= ? AND recorded_at <= ? AND (? IS NULL OR suite = ?)
                    ORDER BY recorded_at, id
                    """, arguments: [start, seconds(now), suite, suite]).map(decodeRun)
            }
        }
    }

    static func run(id: Int64, history: PerformanceHistory) throws(KestrelError) -> HistoryRun? {
        try run(history) {
            try history.pool.read { db in
                try Row.fetchOne(db, sql: "SELECT \(runColumns) FROM run WHERE id = ?", arguments: [id]).map(decodeRun)
            }
        }
    }

    static func report(runID: Int64, history: PerformanceHistory) throws(KestrelError) -> BenchmarkReport? {
        let data: Data? = try run(history) {
            try history.pool.read { db in try Data.fetchOne(db, sql: "SELECT report_json FROM run WHERE id = ?", arguments: [runID]) }
        }
        guard let data else { return nil }
        do {
            return try BenchmarkReport.decode(data)
        } catch {
            throw .corruptFile(path: history.url.path, section: "run \(runID)", reason: "stored report does not decode: \(error)")
        }
    }

    static func decodeCase(_ row: Row) -> HistoryCaseValue {
        let hib: Int? = row[8]
        return HistoryCaseValue(runID: row[0], recordedAt: date(row[1]), name: row[2], suite: row[3], value: row[4], unit: row[5],
                                lower: row[6], upper: row[7], higherIsBetter: hib.map { $0 != 0 }, status: row[9])
    }

    static let caseColumns = """
        c.run_id, r.recorded_at, c.name, c.suite, c.value, c.unit, c.lower, c.upper, c.higher_is_better, c.status
        """

    static func caseValues(runID: Int64, history: PerformanceHistory) throws(KestrelError) -> [HistoryCaseValue] {
        try run(history) {
            try history.pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT \(caseColumns) FROM case_result c JOIN run r ON r.id = c.run_id
                    WHERE c.run_id = ? ORDER BY c.position
                    """, arguments: [runID]).map(decodeCase)
            }
        }
    }

    static func series(case name: String, in timeframe: HistoryTimeframe, now: Date,
                       history: PerformanceHistory) throws(KestrelError) -> [HistoryCaseValue] {
        let start = timeframe.start(endingAt: now).map(seconds) ?? -Double.greatestFiniteMagnitude
        return try run(history) {
            try history.pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT \(caseColumns) FROM case_result c JOIN run r ON r.id = c.run_id
                    WHERE c.name = ? AND r.recorded_at >= ? AND r.recorded_at <= ?
                    ORDER BY r.recorded_at, r.id
                    """, arguments: [name, start, seconds(now)]).map(decodeCase)
            }
        }
    }

    static func trend(timeframe: HistoryTimeframe, suite: String?, threshold: Double, now: Date,
                      history: PerformanceHistory) throws(KestrelError) -> HistoryTrendReport {
        guard threshold >= 0, threshold.isFinite else {
            throw .invalidArgument(name: "threshold", reason: "must be finite and ≥ 0, got \(threshold)")
        }
        let runs = try runs(in: timeframe, suite: suite, now: now, history: history)
        let start = timeframe.start(endingAt: now).map(seconds) ?? -Double.greatestFiniteMagnitude
        let points: [HistoryCaseValue] = try run(history) {
            try history.pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT \(caseColumns) FROM case_result c JOIN run r ON r.id = c.run_id
                    WHERE r.recorded_at >= ? AND r.recorded_at <= ? AND (? IS NULL OR r.suite = ?)
                    ORDER BY c.name, r.recorded_at, r.id
                    """, arguments: [start, seconds(now), suite, suite]).map(decodeCase)
            }
        }
        var series = [HistoryCaseSeries]()
        for p in points {
            if let last = series.last, last.name == p.name {
                series[series.count - 1].points.append(p)
                series[series.count - 1].unit = p.unit
                if let d = p.higherIsBetter { series[series.count - 1].higherIsBetter = d }
            } else {
                series.append(HistoryCaseSeries(name: p.name, unit: p.unit, higherIsBetter: p.higherIsBetter, points: [p]))
            }
        }
        let latest = runs.last
        var baseline: HistoryRun?
        if let latest {
            let earlier = runs.dropLast().filter { $0.suite == latest.suite }
            baseline = earlier.last { $0.cpuModel == latest.cpuModel && $0.isaLevel == latest.isaLevel } ?? earlier.last
        }
        var comparison: BaselineComparison?
        if let latest, let baseline, let current = try report(runID: latest.id, history: history),
           let base = try report(runID: baseline.id, history: history) {
            do {
                comparison = try BaselineComparison.compare(current: current, baseline: base, threshold: threshold)
            } catch {
                throw .invalidArgument(name: "threshold", reason: "\(error)")
            }
        }
        return HistoryTrendReport(timeframe: timeframe, generatedAt: now, suite: suite, runs: runs, latest: latest,
                                  baseline: baseline, comparison: comparison, series: series)
    }

    // MARK: Metrics

    static let maxTextBytes = 1 << 20

    static func storeMetric(namespace: String, key: String, value: Double?, text: String?, ttl: TimeInterval?, replacing: Bool,
                            now: Date, history: PerformanceHistory) throws(KestrelError) -> HistoryMetric {
        guard !namespace.isEmpty else { throw .invalidArgument(name: "namespace", reason: "must not be empty") }
        guard !key.isEmpty else { throw .invalidArgument(name: "key", reason: "must not be empty") }
        if let value, !value.isFinite { throw .invalidArgument(name: "value", reason: "must be finite, got \(value)") }
        guard value != nil || text != nil else { throw .invalidArgument(name: "value", reason: "a value or a text is required") }
        if let text, text.utf8.count > maxTextBytes {
            throw .invalidArgument(name: "text", reason: "\(text.utf8.count) bytes, at most \(maxTextBytes)")
        }
        if let ttl { guard ttl > 0, ttl.isFinite else { throw .invalidArgument(name: "ttl", reason: "must be > 0 seconds, got \(ttl)") } }
        let expires = ttl.map { now.addingTimeInterval($0) }
        let id: Int64 = try run(history) {
            try history.pool.write { db in
                try db.execute(sql: "DELETE FROM metric WHERE expires_at IS NOT NULL AND expires_at <= ?", arguments: [seconds(now)])
                if replacing {
                    try db.execute(sql: "DELETE FROM metric WHERE namespace = ? AND key = ?", arguments: [namespace, key])
                }
                try db.execute(sql: """
                    INSERT INTO metric (namespace, key, value, text, recorded_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)
                    """, arguments: [namespace, key, value, text, seconds(now), expires.map(seconds)])
                return db.lastInsertedRowID
            }
        }
        return HistoryMetric(id: id, namespace: namespace, key: key, value: value, text: text, recordedAt: now, expiresAt: expires)
    }

    static let metricColumns = "id, namespace, key, value, text, recorded_at, expires_at"

    static func decodeMetric(_ row: Row) -> HistoryMetric {
        let expires: Double? = row[6]
        return HistoryMetric(id: row[0], namespace: row[1], key: row[2], value: row[3], text: row[4], recordedAt: date(row[5]),
                             expiresAt: expires.map(date))
    }

    static func metrics(namespace: String, keyPrefix: String, in timeframe: HistoryTimeframe, latestOnly: Bool, limit: Int,
                        now: Date, history: PerformanceHistory) throws(KestrelError) -> [HistoryMetric] {
        guard limit >= 1 else { throw .invalidArgument(name: "limit", reason: "must be ≥ 1, got \(limit)") }
        let start = timeframe.start(endingAt: now).map(seconds) ?? -Double.greatestFiniteMagnitude
        // substr compares the prefix exactly (LIKE would treat % and _ in keys as wildcards).
        let filter = """
            namespace = ? AND substr(key, 1, length(?)) = ? AND recorded_at >= ? AND recorded_at <= ?
            AND (expires_at IS NULL OR expires_at > ?)
            """
        let args: StatementArguments = [namespace, keyPrefix, keyPrefix, start, seconds(now), seconds(now)]
        let sql = latestOnly
            ? """
              SELECT \(metricColumns) FROM metric m WHERE m.id IN (
                  SELECT (SELECT id FROM metric m2 WHERE m2.namespace = m1.namespace AND m2.key = m1.key
                          AND m2.recorded_at >= ? AND m2.recorded_at <= ? AND (m2.expires_at IS NULL OR m2.expires_at > ?)
                          ORDER BY m2.recorded_at DESC, m2.id DESC LIMIT 1)
                  FROM (SELECT DISTINCT namespace, key FROM metric WHERE \(filter)) m1)
              ORDER BY m.recorded_at DESC, m.id DESC LIMIT ?
              """
            : "SELECT \(metricColumns) FROM metric WHERE \(filter) ORDER BY recorded_at DESC, id DESC LIMIT ?"
        var all: StatementArguments = latestOnly ? [start, seconds(now), seconds(now)] : []
        all += args
        all += [limit]
        return try run(history) {
            try history.pool.read { db in try Row.fetchAll(db, sql: sql, arguments: all).map(decodeMetric) }
        }
    }

    static func metricNamespaces(now: Date, history: PerformanceHistory) throws(KestrelError) -> [String] {
        try run(history) {
            try history.pool.read { db in
                try String.fetchAll(db, sql: """
                    SELECT DISTINCT namespace FROM metric WHERE expires_at IS NULL OR expires_at > ? ORDER BY namespace
                    """, arguments: [seconds(now)])
            }
        }
    }

    static func pruneExpired(now: Date, history: PerformanceHistory) throws(KestrelError) -> Int {
        try run(history) {
            try history.pool.write { db in
                try db.execute(sql: "DELETE FROM metric WHERE expires_at IS NOT NULL AND expires_at <= ?", arguments: [seconds(now)])
                return db.changesCount
            }
        }
    }

    // MARK: Server statistics

    static func serverKey(_ pid: Int32) -> String { "server.\(pid)" }

    static func publish(_ stats: MCPServerStats, ttl: TimeInterval, history: PerformanceHistory) throws(KestrelError) {
        let text: String
        do {
            text = String(decoding: try JSONEncoder.historyEncoder.encode(stats), as: UTF8.self)
        } catch {
            throw .invalidArgument(name: "stats", reason: "cannot encode: \(error)")
        }
        _ = try storeMetric(namespace: PerformanceHistory.serverStatsNamespace, key: serverKey(stats.processID),
                        value: Double(stats.requests), text: text, ttl: ttl, replacing: true, now: stats.updatedAt,
                        history: history)
    }

    static func serverStats(now: Date, history: PerformanceHistory) throws(KestrelError) -> [MCPServerStats] {
        let rows = try metrics(namespace: PerformanceHistory.serverStatsNamespace, keyPrefix: "server.", in: .all,
                               latestOnly: true, limit: 1000, now: now, history: history)
        return rows.compactMap { m in
            m.text.flatMap { try? JSONDecoder.historyDecoder.decode(MCPServerStats.self, from: Data($0.utf8)) }
        }.sorted { $0.processID < $1.processID }
    }

    static func removeServerStats(processID: Int32, history: PerformanceHistory) throws(KestrelError) {
        try run(history) {
            try history.pool.write { db in
                try db.execute(sql: "DELETE FROM metric WHERE namespace = ? AND key = ?",
                               arguments: [PerformanceHistory.serverStatsNamespace, serverKey(processID)])
            }
        }
    }
}

extension JSONEncoder {
    /// Sorted keys; dates as their `Double` seconds since the reference date (Foundation's own
    /// representation, so sub-second times round-trip exactly).
    static var historyEncoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.dateEncodingStrategy = .deferredToDate
        return e
    }
}

extension JSONDecoder {
    /// Reads what ``JSONEncoder/historyEncoder`` writes.
    static var historyDecoder: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .deferredToDate
        return d
    }
}
