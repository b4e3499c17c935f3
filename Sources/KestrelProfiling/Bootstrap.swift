/// A two-sided confidence interval around a point estimate.
public struct ConfidenceInterval: Codable, Sendable, Equatable {
    /// The statistic computed on the original sample.
    public var estimate: Double
    /// Lower bound.
    public var lower: Double
    /// Upper bound.
    public var upper: Double
    /// Coverage, e.g. 0.95.
    public var level: Double

    /// Creates an interval.
    public init(estimate: Double, lower: Double, upper: Double, level: Double) {
        self.estimate = estimate
        self.lower = lower
        self.upper = upper
        self.level = level
    }

    /// True when `value` lies inside [lower, upper].
    public func contains(_ value: Double) -> Bool { value >= lower && value <= upper }

    /// Half the width relative to the estimate (0 when the estimate is 0): a precision figure.
    public var relativeHalfWidth: Double { estimate == 0 ? 0 : (upper - lower) / 2 / abs(estimate) }
}

/// Percentile-bootstrap confidence intervals with a seeded generator, so a report is reproducible.
///
/// The percentile method is used (not BCa): for medians and ratios of medians of timing samples
/// it is adequate and makes no normality assumption.
public enum Bootstrap {
    /// A confidence interval for `statistic` of `values`.
    ///
    /// - Parameters:
    ///   - values: the sample (at least 2 values).
    ///   - level: coverage in (0, 1), default 0.95.
    ///   - resamples: bootstrap resamples, at least 100 (default 2000).
    ///   - seed: generator seed; equal seeds give equal intervals.
    ///   - statistic: the statistic, e.g. `{ median($0) }`; it receives a resample.
    /// - Throws: ``ProfilingError/insufficientData(needed:got:)`` or ``ProfilingError/invalidArgument(name:reason:)``.
    /// - Complexity: O(resamples × cost of `statistic`).
    public static func confidenceInterval(
        _ values: [Double], level: Double = 0.95, resamples: Int = 2000, seed: UInt64 = 0x5EED,
        statistic: ([Double]) -> Double
    ) throws(ProfilingError) -> ConfidenceInterval {
        try validate(level: level, resamples: resamples)
        guard values.count >= 2 else { throw .insufficientData(needed: 2, got: values.count) }
        var rng = SplitMix64(seed: seed)
        var buffer = [Double](repeating: 0, count: values.count)
        var stats = [Double]()
        stats.reserveCapacity(resamples)
        for _ in 0..<resamples {
            resample(values, into: &buffer, &rng)
            stats.append(statistic(buffer))
        }
        return interval(estimate: statistic(values), stats: &stats, level: level)
    }

    /// A confidence interval for the median of `values`.
    public static func median(_ values: [Double], level: Double = 0.95, resamples: Int = 2000,
                              seed: UInt64 = 0x5EED) throws(ProfilingError) -> ConfidenceInterval {
        try validate(level: level, resamples: resamples)
        guard values.count >= 2 else { throw .insufficientData(needed: 2, got: values.count) }
        var rng = SplitMix64(seed: seed)
        var buffer = [Double](repeating: 0, count: values.count)
        var stats = [Double]()
        stats.reserveCapacity(resamples)
        for _ in 0..<resamples {
            resample(values, into: &buffer, &rng)
            stats.append(Descriptive.medianInPlace(&buffer))
        }
        return interval(estimate: Descriptive.median(values), stats: &stats, level: level)
    }

    /// A confidence interval for median(numerator) / median(denominator), resampling the two
    /// independent samples separately (e.g. baseline time / candidate time = speedup).
    ///
    /// - Throws: ``ProfilingError/insufficientData(needed:got:)`` if a sample has fewer than 2
    ///   values, ``ProfilingError/invalidArgument(name:reason:)`` if a median is not positive.
    public static func ratioOfMedians(
        numerator: [Double], denominator: [Double], level: Double = 0.95, resamples: Int = 2000, seed: UInt64 = 0x5EED
    ) throws(ProfilingError) -> ConfidenceInterval {
        try validate(level: level, resamples: resamples)
        guard numerator.count >= 2 else { throw .insufficientData(needed: 2, got: numerator.count) }
        guard denominator.count >= 2 else { throw .insufficientData(needed: 2, got: denominator.count) }
        let estimateDen = Descriptive.median(denominator)
        guard estimateDen > 0, Descriptive.median(numerator) >= 0 else {
            throw .invalidArgument(name: "denominator", reason: "medians must be positive")
        }
        var rng = SplitMix64(seed: seed)
        var a = [Double](repeating: 0, count: numerator.count)
        var b = [Double](repeating: 0, count: denominator.count)
        var stats = [Double]()
        stats.reserveCapacity(resamples)
        for _ in 0..<resamples {
            resample(numerator, into: &a, &rng)
            resample(denominator, into: &b, &rng)
            let d = Descriptive.medianInPlace(&b)
            stats.append(d > 0 ? Descriptive.medianInPlace(&a) / d : .infinity)
        }
        return interval(estimate: Descriptive.median(numerator) / estimateDen, stats: &stats, level: level)
    }

    /// Draws `values.count` values with replacement. The index is the high word of a 64×64-bit
    /// product (Lemire's method without the rejection step: bias below n / 2^64).
    @inline(__always)
    private static func resample(_ values: [Double], into buffer: inout [Double], _ rng: inout SplitMix64) {
        let n = UInt64(values.count)
        values.withUnsafeBufferPointer { src in
            buffer.withUnsafeMutableBufferPointer { dst in
                for i in 0..<dst.count { dst[i] = src[Int(rng.next().multipliedFullWidth(by: n).high)] }
            }
        }
    }

    private static func validate(level: Double, resamples: Int) throws(ProfilingError) {
        guard level > 0, level < 1 else { throw .invalidArgument(name: "level", reason: "must be in (0, 1), got \(level)") }
        guard resamples >= 100 else { throw .invalidArgument(name: "resamples", reason: "must be ≥ 100, got \(resamples)") }
    }

    private static func interval(estimate: Double, stats: inout [Double], level: Double) -> ConfidenceInterval {
        stats.sort()
        let alpha = (1 - level) / 2
        return ConfidenceInterval(estimate: estimate,
                                  lower: Descriptive.quantile(sorted: stats, alpha),
                                  upper: Descriptive.quantile(sorted: stats, 1 - alpha), level: level)
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a small seeded generator, equal sequences on every platform.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
