import Foundation

/// The result of one benchmark case. `Codable` (part of the versioned report schema).
public struct BenchmarkCaseResult: Codable, Sendable, Equatable {
    /// Case name.
    public var name: String
    /// Suite name.
    public var suite: String
    /// What the case measures.
    public var summary: String
    /// Its target, if any.
    public var target: BenchmarkTarget?
    /// The measured figure (nil when skipped, failed or not finite).
    public var value: Double?
    /// Unit of ``value``.
    public var unit: String
    /// Confidence interval of ``value``.
    public var interval: ConfidenceInterval?
    /// Direction used in baseline comparisons (nil: not judged).
    public var higherIsBetter: Bool?
    /// PASS / WARN / FAIL / SKIP / INFO.
    public var status: BenchmarkStatus
    /// Latency distribution behind the figure.
    public var latency: LatencySummary?
    /// Comparison behind the figure.
    public var comparison: ComparisonResult?
    /// Secondary figures.
    public var metrics: [String: Double] = [:]
    /// Caveats and skip reasons.
    public var notes: [String] = []
    /// The error message when the case threw.
    public var error: String?
    /// Wall time the case took, seconds.
    public var durationSeconds: Double = 0

    /// Creates a result (normally produced by ``BenchmarkSuite/run(suite:environment:context:progress:)``).
    public init(name: String, suite: String, summary: String, target: BenchmarkTarget?, value: Double? = nil, unit: String,
                interval: ConfidenceInterval? = nil, higherIsBetter: Bool? = nil, status: BenchmarkStatus) {
        self.name = name
        self.suite = suite
        self.summary = summary
        self.target = target
        self.value = value
        self.unit = unit
        self.interval = interval
        self.higherIsBetter = higherIsBetter
        self.status = status
    }
}

/// A benchmark run: environment, every case's result and optional bottleneck findings.
///
/// Serialised as JSON with a ``schemaVersion``; ``decode(_:)`` rejects versions it does not
/// know, so a saved baseline is never misread.
public struct BenchmarkReport: Codable, Sendable, Equatable {
    /// The schema version this build writes.
    public static let currentSchemaVersion = 1
    /// Schema versions this build reads.
    public static let supportedSchemaVersions = 1...1

    /// Schema version of this report.
    public var schemaVersion: Int
    /// When the run finished.
    public var createdAt: Date
    /// Where it ran.
    public var environment: BenchmarkEnvironment
    /// Suite run (`all` or a name).
    public var suite: String
    /// Results in run order.
    public var results: [BenchmarkCaseResult]
    /// Wall time of the run, seconds.
    public var durationSeconds: Double
    /// Bottleneck findings attached by the caller (e.g. `kestrel analyze`).
    public var findings: [BottleneckFinding]

    /// Creates a report; `createdAt` defaults to now, truncated to whole seconds (what JSON keeps).
    public init(environment: BenchmarkEnvironment, suite: String, results: [BenchmarkCaseResult], durationSeconds: Double,
                findings: [BottleneckFinding] = [], createdAt: Date? = nil) {
        self.schemaVersion = Self.currentSchemaVersion
        self.createdAt = createdAt ?? .wholeSeconds()
        self.environment = environment
        self.suite = suite
        self.results = results
        self.durationSeconds = durationSeconds
        self.findings = findings
    }

    /// Number of results with each status.
    public var statusCounts: [BenchmarkStatus: Int] {
        Dictionary(grouping: results, by: \.status).mapValues(\.count)
    }

    /// True when no case failed.
    public var passed: Bool { !results.contains { $0.status == .fail } }

    /// Pretty-printed JSON with sorted keys and ISO-8601 dates.
    public func jsonData() throws(ProfilingError) -> Data {
        do {
            return try JSONEncoder.iso8601.encode(self)
        } catch {
            throw .corruptFile(reason: "cannot encode report: \(error)")
        }
    }

    /// Decodes a report, checking its schema version first.
    ///
    /// - Throws: ``ProfilingError/unsupportedVersion(found:supported:)`` for another schema version,
    ///   ``ProfilingError/corruptFile(reason:)`` for anything that is not a valid report.
    public static func decode(_ data: Data) throws(ProfilingError) -> BenchmarkReport {
        struct VersionProbe: Decodable { var schemaVersion: Int }
        let version: Int
        do {
            version = try JSONDecoder().decode(VersionProbe.self, from: data).schemaVersion
        } catch {
            throw .corruptFile(reason: "not a benchmark report (no schemaVersion): \(error)")
        }
        guard supportedSchemaVersions.contains(version) else {
            throw .unsupportedVersion(found: version, supported: supportedSchemaVersions)
        }
        do {
            return try JSONDecoder.iso8601.decode(BenchmarkReport.self, from: data)
        } catch {
            throw .corruptFile(reason: "invalid benchmark report: \(error)")
        }
    }

    /// Writes the JSON report atomically (temporary file, then rename), creating the directory.
    ///
    /// - Throws: ``ProfilingError/io(path:reason:)``.
    public func save(to url: URL) throws(ProfilingError) {
        let data = try jsonData()
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: url, options: .atomic)
        } catch {
            throw .io(path: url.path, underlying: error)
        }
    }

    /// Loads a report saved with ``save(to:)``.
    ///
    /// - Throws: ``ProfilingError/io(path:reason:)`` when unreadable, or the errors of ``decode(_:)``.
    public static func load(from url: URL) throws(ProfilingError) -> BenchmarkReport {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw .io(path: url.path, underlying: error)
        }
        return try decode(data)
    }
}
