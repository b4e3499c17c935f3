import KestrelProfiling

/// Pure statistics and unit conversions used by the benchmarks (kept free of I/O so tests cover them).
enum BenchStatistics {
    /// The median of `samples`; the mean of the two middle values for an even count; nil when empty.
    /// NaN samples are ignored (a sample is a duration, so NaN can only mean a broken measurement).
    static func median(_ samples: [Double]) -> Double? {
        let sorted = samples.filter { !$0.isNaN }.sorted()
        guard !sorted.isEmpty else { return nil }
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    /// Throughput in GB/s (10^9 bytes per second) of `bytes` moved in `nanoseconds`; 0 for a
    /// non-positive duration. Bytes per nanosecond is exactly GB/s.
    static func gigabytesPerSecond(bytes: Double, nanoseconds: Double) -> Double {
        nanoseconds > 0 ? bytes / nanoseconds : 0
    }

    /// How many times faster `candidate` is than `baseline` (both durations); 0 when undefined.
    static func speedup(baseline: Double, candidate: Double) -> Double {
        candidate > 0 && baseline.isFinite ? baseline / candidate : 0
    }
}

/// How long and how often a kernel is timed.
struct TimingPolicy: Sendable, Equatable {
    /// Minimum total time of the timed samples, in seconds.
    var minSeconds: Double = 0.2
    /// Minimum number of timed samples; the median of them is reported.
    var repetitions: Int = 5
    /// Time spent running the body before timing (caches, page faults, frequency ramp), in seconds.
    var warmupSeconds: Double = 0.02

    /// Calls per sample so that `repetitions` samples together last about `minSeconds`, given a
    /// per-call estimate in nanoseconds. At least one call.
    func callsPerSample(estimatedNanosecondsPerCall ns: Double) -> Int {
        let target = minSeconds * 1e9 / Double(max(repetitions, 1))
        guard ns > 0, ns.isFinite else { return 1 }
        return max(1, min(Int(1 << 30), Int((target / ns).rounded(.up))))
    }
}

/// One timed kernel: the median time per call and the raw samples.
struct Measurement: Sendable, Equatable {
    /// Median over the samples of nanoseconds per call.
    let nanosecondsPerCall: Double
    /// Nanoseconds per call of every sample, in the order they were taken.
    let samples: [Double]
    /// Calls in each sample.
    let callsPerSample: Int
    /// Sum of everything the body returned, so the calls cannot be optimised away.
    let checksum: Double
}

/// Times `body`: warm-up, then samples of `callsPerSample` calls until at least `repetitions`
/// samples and `minSeconds` in total; reports the median sample.
func measure(_ policy: TimingPolicy, _ body: () -> Double) -> Measurement {
    var checksum = 0.0
    // Warm-up doubles as the per-call estimate for sizing the samples.
    var warmCalls = 0
    let w0 = MonotonicClock.now()
    var elapsed: UInt64 = 0
    repeat {
        checksum += body()
        warmCalls += 1
        elapsed = MonotonicClock.now() - w0
    } while Double(elapsed) < policy.warmupSeconds * 1e9
    let calls = policy.callsPerSample(estimatedNanosecondsPerCall: Double(elapsed) / Double(warmCalls))

    var samples: [Double] = []
    samples.reserveCapacity(policy.repetitions)
    var total: UInt64 = 0
    while samples.count < policy.repetitions || Double(total) < policy.minSeconds * 1e9 {
        let t0 = MonotonicClock.now()
        for _ in 0..<calls { checksum += body() }
        let dt = MonotonicClock.now() - t0
        total += dt
        samples.append(Double(dt) / Double(calls))
    }
    return Measurement(
        nanosecondsPerCall: BenchStatistics.median(samples) ?? .nan,
        samples: samples, callsPerSample: calls, checksum: checksum)
}
