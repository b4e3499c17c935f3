/// Limits beyond which ``BottleneckDetector`` reports a finding. `Codable`, so a configuration
/// file can set them; every value has a documented default.
public struct BottleneckThresholds: Codable, Sendable, Equatable {
    /// Process CPU use as a percentage of all active cores. Default 80.
    public var cpuPercent: Double = 80
    /// Memory in use as a percentage of the machine's (or cgroup's) memory. Default 85.
    public var memoryPercent: Double = 85
    /// 95th-percentile latency, milliseconds. Default 100.
    public var latencyP95Milliseconds: Double = 100
    /// 99th-percentile latency, milliseconds. Default 200.
    public var latencyP99Milliseconds: Double = 200
    /// p99 / p50 above which the tail is reported. Default 10.
    public var tailRatio: Double = 10
    /// A memory-bound operation at or above this % of the bandwidth roof is bandwidth-saturated. Default 70.
    public var bandwidthRoofPercent: Double = 70
    /// A compute-bound operation below this % of the compute roof under-uses the cores. Default 30.
    public var computeRoofPercent: Double = 30
    /// Instructions per cycle below which the core is mostly stalled. Default 0.7.
    public var instructionsPerCycle: Double = 0.7
    /// Last-level cache miss rate (misses / references) above which the working set does not fit. Default 0.2.
    public var cacheMissRate: Double = 0.2
    /// Involuntary context switches per second of wall time above which threads fight for cores. Default 200.
    public var involuntarySwitchesPerSecond: Double = 200
    /// Major page faults per second of wall time above which memory is paged from disk. Default 10.
    public var majorFaultsPerSecond: Double = 10
    /// Fraction of measurement samples that are Tukey outliers above which timings are noisy. Default 0.1.
    public var outlierFraction: Double = 0.1

    /// The defaults above.
    public init() {}
}

/// Thresholds for every component, with overrides for named components (a batch job tolerates
/// a longer p99 than an interactive search).
public struct BottleneckConfiguration: Codable, Sendable, Equatable {
    /// Thresholds of components without an override.
    public var defaults: BottleneckThresholds
    /// Overrides by component name.
    public var perComponent: [String: BottleneckThresholds]

    /// Creates a configuration.
    public init(defaults: BottleneckThresholds = BottleneckThresholds(), perComponent: [String: BottleneckThresholds] = [:]) {
        self.defaults = defaults
        self.perComponent = perComponent
    }

    /// The thresholds that apply to `component`.
    public func thresholds(for component: String) -> BottleneckThresholds { perComponent[component] ?? defaults }
}

/// What was measured for one component (any field may be missing; rules needing it stay silent).
public struct ComponentObservation: Codable, Sendable, Equatable {
    /// Component name (e.g. `hnsw.search`).
    public var component: String
    /// Latency distribution of its operations.
    public var latency: LatencySummary?
    /// Process usage while it ran.
    public var usage: ProcessUsage?
    /// Machine memory state while it ran.
    public var memory: MemoryStatus?
    /// Its operation placed on the roofline.
    public var roofline: RooflinePoint?
    /// Hardware counters while it ran.
    public var counters: CounterReport?
    /// Outliers of its timing samples.
    public var outliers: OutlierReport?

    /// Creates an observation.
    public init(component: String, latency: LatencySummary? = nil, usage: ProcessUsage? = nil, memory: MemoryStatus? = nil,
                roofline: RooflinePoint? = nil, counters: CounterReport? = nil, outliers: OutlierReport? = nil) {
        self.component = component
        self.latency = latency
        self.usage = usage
        self.memory = memory
        self.roofline = roofline
        self.counters = counters
        self.outliers = outliers
    }
}

/// One diagnosed bottleneck: what rule fired, how badly, the measured value against the
/// threshold, and what to do about it.
public struct BottleneckFinding: Codable, Sendable, Equatable {
    /// The rules ``BottleneckDetector`` applies.
    public enum Rule: String, Codable, Sendable, CaseIterable {
        /// CPU use above the threshold.
        case cpuSaturation
        /// Memory use above the threshold.
        case memoryPressure
        /// p95 latency above the threshold.
        case latencyP95
        /// p99 latency above the threshold.
        case latencyP99
        /// p99 / p50 above the threshold.
        case tailLatency
        /// Memory-bound near the bandwidth roof.
        case bandwidthBound
        /// Compute-bound far below the compute roof.
        case computeUnderused
        /// Low instructions per cycle.
        case lowIPC
        /// High last-level cache miss rate.
        case cacheMisses
        /// Many involuntary context switches.
        case oversubscription
        /// Many major page faults.
        case majorPageFaults
        /// Many outliers among timing samples.
        case noisyMeasurement
    }

    /// How urgent a finding is.
    public enum Severity: String, Codable, Sendable, Comparable {
        /// Worth knowing.
        case info
        /// Beyond the threshold.
        case warning
        /// Far beyond the threshold.
        case critical

        var rank: Int { self == .info ? 0 : (self == .warning ? 1 : 2) }
        public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
    }

    /// Component the finding is about.
    public var component: String
    /// The rule that fired.
    public var rule: Rule
    /// Severity.
    public var severity: Severity
    /// The measured value, in ``unit``.
    public var measured: Double
    /// The threshold it crossed, in ``unit``.
    public var threshold: Double
    /// Unit of ``measured`` and ``threshold``.
    public var unit: String
    /// What was found, with the numbers.
    public var summary: String
    /// What to do, derived from the measurement.
    public var recommendation: String
}
