import Histogram

/// Records latencies (nanoseconds) into an HdrHistogram and answers percentiles, moments and
/// display buckets.
///
/// Values are kept to `significantDigits` decimal digits (3 by default: every value is known to
/// within 0.1 %), from 1 ns to `highestTrackableNanoseconds` (1 hour by default; larger values
/// grow the histogram once, they are never dropped). Count, min, max and the mean are exact; the
/// standard deviation is exact for values recorded here (Welford's update, merged with Chan's
/// formula) and within histogram precision for a recorder built by
/// ``ConcurrentLatencyRecorder/snapshot()``.
///
/// A value type: not shared between threads while it is mutated. For recording from many threads
/// use ``ConcurrentLatencyRecorder``.
///
/// - Complexity: ``record(_:)`` is O(1) (an index computation and an increment, no allocation);
///   percentile queries are O(number of histogram counters), about 34 000 for the defaults.
public struct LatencyRecorder: Sendable, Equatable {
    /// The underlying histogram (exposed for custom queries and serialisation).
    public private(set) var histogram: Histogram<UInt64>
    /// Decimal digits of precision kept for each value (0...5).
    public let significantDigits: Int

    private var moments = RunningMoments()
    private var exactMin = UInt64.max
    private var exactMax: UInt64 = 0

    /// Creates an empty recorder.
    ///
    /// - Parameters:
    ///   - significantDigits: decimal digits kept for every value, 1...5 (default 3 = 0.1 %).
    ///   - highestTrackableNanoseconds: the range allocated up front (default one hour); must be ≥ 2.
    /// - Throws: ``ProfilingError/invalidArgument(name:reason:)`` when an argument is out of range.
    /// - Complexity: O(counters) memory: about 270 KiB for the defaults, 33 KiB for two digits.
    public init(significantDigits: Int = 3, highestTrackableNanoseconds: UInt64 = 3_600_000_000_000) throws(ProfilingError) {
        guard (1...5).contains(significantDigits), let digits = SignificantDigits(rawValue: Int8(significantDigits)) else {
            throw .invalidArgument(name: "significantDigits", reason: "must be in 1...5, got \(significantDigits)")
        }
        guard highestTrackableNanoseconds >= 2, highestTrackableNanoseconds <= UInt64.max / 4 else {
            throw .invalidArgument(name: "highestTrackableNanoseconds", reason: "must be in 2...\(UInt64.max / 4)")
        }
        var h = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: highestTrackableNanoseconds,
                                  numberOfSignificantValueDigits: digits)
        h.autoResize = true
        histogram = h
        self.significantDigits = significantDigits
    }

    /// Builds a recorder around a histogram filled elsewhere, with its moments and extremes.
    init(histogram: Histogram<UInt64>, moments: RunningMoments, min: UInt64, max: UInt64) {
        self.histogram = histogram
        self.significantDigits = Int(histogram.numberOfSignificantValueDigits.rawValue)
        self.moments = moments
        exactMin = min
        exactMax = max
    }

    /// Records one latency in nanoseconds.
    ///
    /// - Complexity: O(1), no allocation (unless the value exceeds the allocated range, once).
    @inlinable @inline(__always)
    public mutating func record(_ nanoseconds: UInt64) {
        recordImpl(nanoseconds, count: 1)
    }

    /// Records `count` occurrences of the same latency (nanoseconds).
    public mutating func record(_ nanoseconds: UInt64, count: UInt64) {
        if count == 0 { return }
        recordImpl(nanoseconds, count: count)
    }

    /// Records a `Duration` (negative durations are recorded as 0).
    public mutating func record(_ duration: Duration) {
        let (s, atto) = duration.components
        if s < 0 { record(0); return }
        record(UInt64(s) &* 1_000_000_000 &+ UInt64(atto / 1_000_000_000))
    }

    @usableFromInline
    mutating func recordImpl(_ nanoseconds: UInt64, count: UInt64) {
        histogram.record(nanoseconds, count: count)
        moments.add(Double(nanoseconds), count: count)
        if nanoseconds < exactMin { exactMin = nanoseconds }
        if nanoseconds > exactMax { exactMax = nanoseconds }
    }

    /// Times `body` with ``MonotonicClock`` and records its duration; returns what `body` returned.
    @discardableResult
    public mutating func time<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        let start = MonotonicClock.now()
        defer { record(MonotonicClock.elapsed(since: start)) }
        return try body()
    }

    /// Adds every value recorded in `other` to this recorder.
    ///
    /// The result equals a recorder that saw the union of both inputs (same counters, count, min,
    /// max, mean; the variance is merged exactly with Chan's formula).
    /// - Throws: ``ProfilingError/incompatible(reason:)`` if the two recorders keep a different
    ///   number of significant digits.
    public mutating func merge(_ other: LatencyRecorder) throws(ProfilingError) {
        guard other.histogram.numberOfSignificantValueDigits == histogram.numberOfSignificantValueDigits,
              other.histogram.lowestDiscernibleValue == histogram.lowestDiscernibleValue else {
            throw .incompatible(reason: "histograms keep \(significantDigits) and \(other.significantDigits) significant digits")
        }
        if other.count == 0 { return }
        histogram.add(other.histogram)
        moments.merge(other.moments)
        exactMin = Swift.min(exactMin, other.exactMin)
        exactMax = Swift.max(exactMax, other.exactMax)
    }

    /// Forgets every recorded value, keeping the allocated counters.
    public mutating func reset() {
        histogram.reset()
        moments = RunningMoments()
        exactMin = .max
        exactMax = 0
    }

    /// Number of recorded values.
    public var count: UInt64 { histogram.totalCount }
    /// Smallest recorded value (exact), 0 when empty.
    public var min: UInt64 { count == 0 ? 0 : exactMin }
    /// Largest recorded value (exact), 0 when empty.
    public var max: UInt64 { count == 0 ? 0 : exactMax }
    /// Mean of the recorded values (exact up to Double rounding), 0 when empty.
    public var mean: Double { moments.mean }
    /// Sample standard deviation (n − 1 in the denominator), 0 with fewer than two values.
    public var standardDeviation: Double { moments.sampleStandardDeviation }

    /// The value at `percentile` (0...100): the smallest recorded value (to histogram precision) that
    /// at least `percentile` % of the values are less than or equal to; 0 when empty.
    ///
    /// The result is the highest value equivalent to the exact nearest-rank percentile, so it is
    /// within 10^-significantDigits (relative) of it.
    public func percentile(_ percentile: Double) -> UInt64 {
        if count == 0 { return 0 }
        let p = percentile.isNaN ? 50 : Swift.min(Swift.max(percentile, 0), 100)
        return Swift.min(histogram.valueAtPercentile(p), max)
    }

    /// Percentiles, moments and display buckets in one value (see ``LatencySummary``).
    ///
    /// - Complexity: O(counters) per percentile.
    public func summary() -> LatencySummary {
        LatencySummary(
            count: count, min: min, max: max, mean: mean, standardDeviation: standardDeviation,
            p50: percentile(50), p90: percentile(90), p95: percentile(95), p99: percentile(99), p999: percentile(99.9),
            significantDigits: significantDigits, buckets: buckets())
    }

    /// Display buckets by powers of two: bucket `k` holds the values in [2^k, 2^(k+1)) ns, and a
    /// first bucket [0, 1) holds zeros. Only the span between the smallest and largest non-empty
    /// bucket is returned (empty buckets inside it are kept, so the shape is honest).
    public func buckets() -> [LatencyBucket] {
        if count == 0 { return [] }
        var counts = [UInt64](repeating: 0, count: 65)
        for iv in histogram.recordedValues() {
            let v = histogram.lowestEquivalentForValue(iv.value)
            let k = v == 0 ? 0 : 64 - v.leadingZeroBitCount  // 1 → 1, [2,4) → 2, ...
            counts[k] &+= UInt64(iv.count)
        }
        guard let first = counts.firstIndex(where: { $0 > 0 }), let last = counts.lastIndex(where: { $0 > 0 }) else { return [] }
        return (first...last).map { k in
            let lower: UInt64 = k == 0 ? 0 : 1 << UInt64(k - 1)
            let upper: UInt64 = k == 0 ? 1 : (k == 64 ? .max : 1 << UInt64(k))
            return LatencyBucket(lowerNanoseconds: lower, upperNanoseconds: upper, count: counts[k])
        }
    }

    public static func == (lhs: LatencyRecorder, rhs: LatencyRecorder) -> Bool {
        lhs.histogram == rhs.histogram && lhs.count == rhs.count && lhs.min == rhs.min && lhs.max == rhs.max
    }
}

/// Count, mean and sum of squared deviations, updated one value at a time (Welford) and merged
/// exactly (Chan et al.), so the variance never suffers the cancellation of Σx² − n·mean².
struct RunningMoments: Sendable, Equatable {
    var count: UInt64 = 0
    var mean: Double = 0
    var m2: Double = 0

    @inline(__always)
    mutating func add(_ x: Double, count c: UInt64) {
        if c == 1 {
            count += 1
            let d = x - mean
            mean += d / Double(count)
            m2 += d * (x - mean)
        } else {
            merge(RunningMoments(count: c, mean: x, m2: 0))
        }
    }

    mutating func merge(_ o: RunningMoments) {
        if o.count == 0 { return }
        if count == 0 { self = o; return }
        let n = count + o.count
        let d = o.mean - mean
        let na = Double(count), nb = Double(o.count), nn = Double(n)
        mean += d * nb / nn
        m2 += o.m2 + d * d * na * nb / nn
        count = n
    }

    var sampleStandardDeviation: Double {
        count < 2 ? 0 : (Swift.max(m2, 0) / Double(count - 1)).squareRoot()
    }
}
