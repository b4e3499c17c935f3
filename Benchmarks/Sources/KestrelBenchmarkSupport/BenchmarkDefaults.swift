import Benchmark

/// The configuration every Kestrel suite installs as `Benchmark.defaultConfiguration`.
///
/// Short runs (a quarter of a second per benchmark after a short warm-up) keep the whole
/// `swift package benchmark` within a few minutes on two cores. Metrics are wall-clock time,
/// throughput (calls per second, scaled by the benchmark's scaling factor) and the number of
/// mallocs: kernels never allocate, so `mallocCountTotal` is checked against the static
/// thresholds in `Thresholds/` with zero tolerance.
public enum BenchmarkDefaults {
    /// Metrics measured by every benchmark.
    public static var metrics: [BenchmarkMetric] { [.wallClock, .throughput, .mallocCountTotal] }

    /// Zero tolerance: any allocation inside a measured kernel loop is a regression.
    public static var thresholds: [BenchmarkMetric: BenchmarkThresholds] {
        [.mallocCountTotal: BenchmarkThresholds(absolute: BenchmarkThresholds.Absolute.strict)]
    }

    /// The default configuration with `scalingFactor` calls per measured iteration.
    /// - Parameter scalingFactor: inner-loop count; use `.kilo` for sub-microsecond kernels so the
    ///   harness's own overhead (clock and malloc-counter reads) stays negligible.
    public static func configuration(scalingFactor: BenchmarkScalingFactor = .one) -> Benchmark.Configuration {
        Benchmark.Configuration(
            metrics: metrics,
            warmupIterations: 3,
            scalingFactor: scalingFactor,
            maxDuration: .milliseconds(250),
            maxIterations: 1_000_000,
            thresholds: thresholds
        )
    }

    /// Installs ``configuration(scalingFactor:)`` as `Benchmark.defaultConfiguration`.
    /// Call first thing in a suite's `benchmarks` closure.
    public static func install() {
        Benchmark.defaultConfiguration = configuration()
    }
}
