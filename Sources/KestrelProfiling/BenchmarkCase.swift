/// What a benchmark case measured.
public struct BenchmarkOutcome {
    /// The figure judged against the target, in the target's unit.
    public var value: Double
    /// Unit of ``value`` (defaults to the target's).
    public var unit: String?
    /// Confidence interval of ``value``, when the case has one (WARN when it crosses a bound).
    public var interval: ConfidenceInterval?
    /// True when larger values are better (overrides the target's direction for baseline comparisons).
    public var higherIsBetter: Bool?
    /// Latency distribution behind the figure, if any.
    public var latency: LatencySummary?
    /// Comparison behind the figure, if any.
    public var comparison: ComparisonResult?
    /// Secondary figures (e.g. `recall@10`, `qps`), by name.
    public var metrics: [String: Double]
    /// Caveats; any note makes a passing case a WARN when ``warning`` is true.
    public var notes: [String]
    /// Turns a PASS into a WARN (e.g. a fallback path was measured).
    public var warning: Bool

    /// Creates an outcome.
    public init(value: Double, unit: String? = nil, interval: ConfidenceInterval? = nil, higherIsBetter: Bool? = nil,
                latency: LatencySummary? = nil, comparison: ComparisonResult? = nil, metrics: [String: Double] = [:],
                notes: [String] = [], warning: Bool = false) {
        self.value = value
        self.unit = unit
        self.interval = interval
        self.higherIsBetter = higherIsBetter
        self.latency = latency
        self.comparison = comparison
        self.metrics = metrics
        self.notes = notes
        self.warning = warning
    }

    /// The speedup of the first candidate of a comparison, with its interval.
    public static func speedup(_ comparison: ComparisonResult, metrics: [String: Double] = [:]) -> BenchmarkOutcome {
        let c = comparison.candidates.first
        return BenchmarkOutcome(value: c?.speedup.estimate ?? .nan, unit: "×", interval: c?.speedup, higherIsBetter: true,
                                comparison: comparison, metrics: metrics)
    }
}

/// Everything a running case may use: the measurement method and a way to report progress.
public struct BenchmarkContext {
    /// Measurement options for ``Measurer`` (quick or thorough, chosen by the runner).
    public var measurement: MeasurementOptions
    /// Options for ``Comparison``.
    public var comparison: ComparisonOptions
    /// Seed for synthetic data, so runs are reproducible.
    public var seed: UInt64
    /// Reports a sub-step (`"size 4096"`); the runner forwards it as ``BenchmarkProgress/message(case:text:)``.
    public var report: (String) -> Void

    /// Creates a context.
    public init(measurement: MeasurementOptions = MeasurementOptions(), comparison: ComparisonOptions = ComparisonOptions(),
                seed: UInt64 = 42, report: @escaping (String) -> Void = { _ in }) {
        self.measurement = measurement
        self.comparison = comparison
        self.seed = seed
        self.report = report
    }
}

/// A named benchmark with an optional target. Modules register their cases into a
/// ``BenchmarkSuite``; a case for code that does not exist is simply not registered.
public struct BenchmarkCase {
    /// Unique name, e.g. `flash-attention.speedup-vs-naive`.
    public var name: String
    /// The suite (group) it belongs to, e.g. `flash-attention`, `simd`, `hnsw`.
    public var suite: String
    /// One sentence: what is measured and on what data.
    public var summary: String
    /// The target it is judged against (nil: informational).
    public var target: BenchmarkTarget?
    /// Returns nil when the case cannot run here (the reason is the string), checked before ``run``.
    public var skipReason: () -> String?
    /// Performs the measurement. Errors are caught and reported as FAIL with the message.
    public var run: (BenchmarkContext) throws -> BenchmarkOutcome

    /// Creates a case.
    public init(name: String, suite: String, summary: String, target: BenchmarkTarget? = nil,
                skipReason: @escaping () -> String? = { nil }, run: @escaping (BenchmarkContext) throws -> BenchmarkOutcome) {
        self.name = name
        self.suite = suite
        self.summary = summary
        self.target = target
        self.skipReason = skipReason
        self.run = run
    }
}

/// Progress events of a suite run, for a terminal progress line or a log.
public enum BenchmarkProgress {
    /// A case starts: its 0-based index among `total`.
    case started(case: String, index: Int, total: Int)
    /// A case reported a sub-step.
    case message(case: String, text: String)
    /// A case finished.
    case finished(result: BenchmarkCaseResult, index: Int, total: Int)
}
