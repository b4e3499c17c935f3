import Atomics
import Histogram
import Metrics

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A latency recorder that many threads record into at once, for production code paths.
///
/// Recording is wait-free: it computes the HdrHistogram counter index of the value (a
/// leading-zero count and two shifts) and adds 1 to that counter in the calling thread's shard
/// with one relaxed atomic `fetch-add`, plus one more for the exact sum. No lock, no
/// compare-and-swap loop, no allocation. Threads are spread over `shards` counter arrays by a
/// hash of their thread identity, so threads on different cores rarely touch the same cache line.
/// ``snapshot()`` sums the shards into an ordinary ``LatencyRecorder`` (HdrHistogram).
///
/// The counters use exactly HdrHistogram's layout (lowest discernible value 1 ns), so a
/// snapshot holds the same counts as a `Histogram` that recorded the same values; min and max
/// of a snapshot are known to histogram precision, the mean is exact. Values above
/// `highestTrackableNanoseconds` are clamped to it and counted in ``clampedCount``.
///
/// Optionally every recorded value is also sent to a swift-metrics `Timer`, whose backend is
/// then responsible for its own thread-safety and cost.
///
/// Thread-safety: all members may be called from any thread. A snapshot taken while other
/// threads record includes every record that completed before it started, and possibly some
/// that run concurrently (counts and sum are read per counter, not under one lock).
///
/// - Complexity: ``record(_:)`` O(1); ``snapshot()`` O(shards × counters); memory
///   shards × about 270 KiB for 3 significant digits up to one hour.
public final class ConcurrentLatencyRecorder: @unchecked Sendable {
    // @unchecked: the shared state is raw memory touched only through atomic operations.
    private let layout: HDRLayout
    private let shardMask: Int
    private let shardStride: Int
    private let storage: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>
    private let storageCount: Int
    private let timer: Timer?

    /// Number of shards (a power of two).
    public var shards: Int { shardMask + 1 }
    /// Decimal digits of precision kept for every value.
    public var significantDigits: Int { layout.significantDigits }
    /// The largest value recorded without clamping, nanoseconds.
    public var highestTrackableNanoseconds: UInt64 { layout.highestTrackable }

    /// Creates a recorder.
    ///
    /// - Parameters:
    ///   - significantDigits: decimal digits kept, 1...5 (default 3 = 0.1 %).
    ///   - highestTrackableNanoseconds: largest value kept exactly (default one hour); larger ones are clamped.
    ///   - shards: counter arrays; rounded up to a power of two in 1...64. Default: twice the
    ///     active processors, at least 4.
    ///   - timer: a swift-metrics timer that also receives every value (optional).
    /// - Throws: ``ProfilingError/invalidArgument(name:reason:)`` for out-of-range arguments.
    public init(significantDigits: Int = 3, highestTrackableNanoseconds: UInt64 = 3_600_000_000_000,
                shards: Int? = nil, timer: Timer? = nil) throws(ProfilingError) {
        guard (1...5).contains(significantDigits) else {
            throw .invalidArgument(name: "significantDigits", reason: "must be in 1...5, got \(significantDigits)")
        }
        guard highestTrackableNanoseconds >= 2, highestTrackableNanoseconds <= UInt64(1) << 62 else {
            throw .invalidArgument(name: "highestTrackableNanoseconds", reason: "must be in 2...2^62")
        }
        let requested = shards ?? Swift.max(4, 2 * SystemProbe.activeProcessorCount)
        guard requested >= 1 else { throw .invalidArgument(name: "shards", reason: "must be ≥ 1, got \(requested)") }
        var s = 1
        while s < Swift.min(requested, 64) { s <<= 1 }
        layout = HDRLayout(significantDigits: significantDigits, highestTrackable: highestTrackableNanoseconds)
        shardMask = s - 1
        // counters, then sum and clamped count, padded to a multiple of 64 bytes per shard.
        shardStride = (layout.countsLength + 2 + 7) & ~7
        storageCount = shardStride * s
        storage = .allocate(capacity: storageCount)
        storage.initialize(repeating: .init(0), count: storageCount)
        self.timer = timer
    }

    deinit {
        storage.deinitialize(count: storageCount)
        storage.deallocate()
    }

    @inline(__always)
    private func shardBase() -> Int {
        #if canImport(Darwin)
        let id = UInt64(UInt(bitPattern: pthread_self()))
        #else
        let id = UInt64(pthread_self())
        #endif
        // Fibonacci hashing: thread ids are aligned addresses, so take the high bits of the product.
        let h = Int(truncatingIfNeeded: (id &* 0x9E37_79B9_7F4A_7C15) >> 40)
        return (h & shardMask) * shardStride
    }

    /// Records one latency in nanoseconds (wait-free, no allocation).
    @inline(__always)
    public func record(_ nanoseconds: UInt64) {
        let base = shardBase()
        var v = nanoseconds
        if v > layout.highestTrackable {
            v = layout.highestTrackable
            UnsafeAtomic<UInt64>(at: storage + base + layout.countsLength + 1).wrappingIncrement(ordering: .relaxed)
        }
        UnsafeAtomic<UInt64>(at: storage + base + layout.index(v)).wrappingIncrement(ordering: .relaxed)
        UnsafeAtomic<UInt64>(at: storage + base + layout.countsLength).wrappingIncrement(by: v, ordering: .relaxed)
        timer?.recordNanoseconds(Int64(clamping: nanoseconds))
    }

    /// Records a `Duration` (negative durations are recorded as 0).
    public func record(_ duration: Duration) {
        let (s, atto) = duration.components
        record(s < 0 ? 0 : UInt64(s) &* 1_000_000_000 &+ UInt64(atto / 1_000_000_000))
    }

    /// Times `body` and records its duration; returns what `body` returned.
    @discardableResult
    public func time<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        let start = MonotonicClock.now()
        defer { record(MonotonicClock.elapsed(since: start)) }
        return try body()
    }

    /// Number of values that exceeded ``highestTrackableNanoseconds`` and were clamped.
    public var clampedCount: UInt64 {
        var total: UInt64 = 0
        for s in 0...shardMask {
            total &+= UnsafeAtomic<UInt64>(at: storage + s * shardStride + layout.countsLength + 1).load(ordering: .relaxed)
        }
        return total
    }

    /// Sums every shard into an HdrHistogram-backed ``LatencyRecorder``.
    ///
    /// - Complexity: O(shards × counters), about 135 000 atomic loads for 4 shards at the defaults.
    public func snapshot() -> LatencyRecorder {
        var h = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: layout.highestTrackable,
                                  numberOfSignificantValueDigits: SignificantDigits(rawValue: Int8(layout.significantDigits)) ?? .three)
        h.autoResize = true  // like every LatencyRecorder: later merges of larger values must grow, not trap
        var counts = [UInt64](repeating: 0, count: layout.countsLength)
        var sum: Double = 0
        for s in 0...shardMask {
            let base = storage + s * shardStride
            for i in 0..<layout.countsLength {
                counts[i] &+= UnsafeAtomic<UInt64>(at: base + i).load(ordering: .relaxed)
            }
            sum += Double(UnsafeAtomic<UInt64>(at: base + layout.countsLength).load(ordering: .relaxed))
        }
        var total: UInt64 = 0
        var minValue = UInt64.max, maxValue: UInt64 = 0
        for i in 0..<counts.count where counts[i] > 0 {
            let v = layout.value(at: i)
            h.record(v, count: counts[i])
            total &+= counts[i]
            minValue = Swift.min(minValue, v)
            maxValue = Swift.max(maxValue, v)
        }
        // Variance around the exact mean, each counter at the middle of its value range (the
        // HdrHistogram iterators would do the same, several times slower).
        var moments = RunningMoments()
        if total > 0 {
            let mean = sum / Double(total)
            var m2 = 0.0
            for i in 0..<counts.count where counts[i] > 0 {
                let d = layout.midpoint(at: i) - mean
                m2 += Double(counts[i]) * d * d
            }
            moments = RunningMoments(count: total, mean: mean, m2: m2)
        }
        return LatencyRecorder(histogram: h, moments: moments, min: total > 0 ? minValue : .max, max: maxValue)
    }

    /// Zeroes every counter. Records running concurrently may survive the reset or be lost.
    public func reset() {
        for i in 0..<storageCount {
            UnsafeAtomic<UInt64>(at: storage + i).store(0, ordering: .relaxed)
        }
    }
}

/// HdrHistogram's counter layout for a lowest discernible value of 1: bucket `b` holds values
/// with `b` low bits dropped; each bucket past the first has `subBucketCount / 2` counters.
struct HDRLayout: Sendable {
    let significantDigits: Int
    let highestTrackable: UInt64
    let subBucketHalfCountMagnitude: Int
    let subBucketHalfCount: Int
    let subBucketMask: UInt64
    let leadingZeroCountBase: Int
    let countsLength: Int

    init(significantDigits: Int, highestTrackable: UInt64) {
        self.significantDigits = significantDigits
        self.highestTrackable = highestTrackable
        // Single-unit resolution is needed up to 2·10^digits; round that up to a power of two.
        var largestSingleUnit: UInt64 = 2
        for _ in 0..<significantDigits { largestSingleUnit *= 10 }
        var magnitude = 0
        while (UInt64(1) << UInt64(magnitude)) < largestSingleUnit { magnitude += 1 }
        let subBucketCountMagnitude = Swift.max(magnitude, 1)
        subBucketHalfCountMagnitude = subBucketCountMagnitude - 1
        subBucketHalfCount = 1 << subBucketHalfCountMagnitude
        let subBucketCount = UInt64(1) << UInt64(subBucketCountMagnitude)
        subBucketMask = subBucketCount - 1
        leadingZeroCountBase = 64 - subBucketCountMagnitude
        var smallestUntrackable = subBucketCount
        var buckets = 1
        while smallestUntrackable <= highestTrackable {
            if smallestUntrackable > UInt64.max / 2 { buckets += 1; break }
            smallestUntrackable <<= 1
            buckets += 1
        }
        countsLength = (buckets + 1) * subBucketHalfCount
    }

    @inline(__always)
    func index(_ value: UInt64) -> Int {
        let bucket = leadingZeroCountBase - (value | subBucketMask).leadingZeroBitCount
        let sub = Int(truncatingIfNeeded: value >> UInt64(bucket))
        return ((bucket + 1) << subBucketHalfCountMagnitude) + sub - subBucketHalfCount
    }

    /// The middle of the values counted at `index`.
    func midpoint(at index: Int) -> Double {
        let bucket = Swift.max((index >> subBucketHalfCountMagnitude) - 1, 0)
        return Double(value(at: index)) + Double((UInt64(1) << UInt64(bucket)) - 1) / 2
    }

    func value(at index: Int) -> UInt64 {
        var bucket = (index >> subBucketHalfCountMagnitude) - 1
        var sub = (index & (subBucketHalfCount - 1)) + subBucketHalfCount
        if bucket < 0 {
            sub -= subBucketHalfCount
            bucket = 0
        }
        return UInt64(sub) << UInt64(bucket)
    }
}
