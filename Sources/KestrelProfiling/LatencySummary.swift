/// A snapshot of a latency distribution: percentiles with the sample count, moments and
/// display buckets. All times are nanoseconds. `Codable` for reports.
public struct LatencySummary: Codable, Sendable, Equatable {
    /// Number of samples.
    public var count: UInt64
    /// Smallest sample.
    public var min: UInt64
    /// Largest sample.
    public var max: UInt64
    /// Arithmetic mean.
    public var mean: Double
    /// Sample standard deviation (n − 1).
    public var standardDeviation: Double
    /// Median.
    public var p50: UInt64
    /// 90th percentile.
    public var p90: UInt64
    /// 95th percentile.
    public var p95: UInt64
    /// 99th percentile.
    public var p99: UInt64
    /// 99.9th percentile.
    public var p999: UInt64
    /// Decimal digits of precision of the percentiles (3 → within 0.1 %).
    public var significantDigits: Int
    /// Power-of-two buckets for display (see ``LatencyRecorder/buckets()``).
    public var buckets: [LatencyBucket]

    /// Creates a summary (normally obtained from ``LatencyRecorder/summary()``).
    public init(count: UInt64, min: UInt64, max: UInt64, mean: Double, standardDeviation: Double,
                p50: UInt64, p90: UInt64, p95: UInt64, p99: UInt64, p999: UInt64,
                significantDigits: Int, buckets: [LatencyBucket]) {
        self.count = count
        self.min = min
        self.max = max
        self.mean = mean
        self.standardDeviation = standardDeviation
        self.p50 = p50
        self.p90 = p90
        self.p95 = p95
        self.p99 = p99
        self.p999 = p999
        self.significantDigits = significantDigits
        self.buckets = buckets
    }

    /// p99 / p50, the usual tail-latency ratio (0 when the median is 0).
    public var tailRatio: Double { p50 == 0 ? 0 : Double(p99) / Double(p50) }

    /// One line: `n=1000 p50=1.20 µs p90=… p99.9=… mean=… ±sd min=… max=…`.
    public var line: String {
        "n=\(count) p50=\(Double(p50).formattedNanoseconds) p90=\(Double(p90).formattedNanoseconds) "
            + "p95=\(Double(p95).formattedNanoseconds) p99=\(Double(p99).formattedNanoseconds) "
            + "p99.9=\(Double(p999).formattedNanoseconds) mean=\(mean.formattedNanoseconds) "
            + "sd=\(standardDeviation.formattedNanoseconds) min=\(Double(min).formattedNanoseconds) "
            + "max=\(Double(max).formattedNanoseconds)"
    }

    /// A text histogram of ``buckets``, one line per bucket with a bar scaled to `width` characters.
    public func histogramText(width: Int = 40) -> String {
        let peak = buckets.map(\.count).max() ?? 0
        if peak == 0 { return "(no samples)\n" }
        var out = ""
        for b in buckets {
            let bar = Int((Double(b.count) / Double(peak) * Double(Swift.max(width, 1))).rounded(.up))
            let label = "[\(Double(b.lowerNanoseconds).formattedNanoseconds), \(Double(b.upperNanoseconds).formattedNanoseconds))"
            out += label.padding(toLength: 26, withPad: " ", startingAt: 0)
                + String(repeating: "#", count: b.count == 0 ? 0 : bar) + " \(b.count)\n"
        }
        return out
    }
}

/// One display bucket of a latency distribution: the values in [lower, upper) nanoseconds.
public struct LatencyBucket: Codable, Sendable, Equatable {
    /// Inclusive lower bound, nanoseconds.
    public var lowerNanoseconds: UInt64
    /// Exclusive upper bound, nanoseconds.
    public var upperNanoseconds: UInt64
    /// Number of samples in the bucket.
    public var count: UInt64

    /// Creates a bucket.
    public init(lowerNanoseconds: UInt64, upperNanoseconds: UInt64, count: UInt64) {
        self.lowerNanoseconds = lowerNanoseconds
        self.upperNanoseconds = upperNanoseconds
        self.count = count
    }
}
