/// How ``Measurer`` runs a closure: warm-up, sample time, sample count, budget, statistics.
///
/// All durations are nanoseconds. `Codable` so a report records the method it used.
public struct MeasurementOptions: Codable, Sendable, Equatable {
    /// Time spent running the closure before measuring (caches, branch predictors, page faults,
    /// CPU frequency ramp-up). At least one call is always made. Default 50 ms.
    public var warmUpNanoseconds: UInt64 = 50_000_000
    /// Each sample runs the closure in an inner loop for about this long, so sub-microsecond work
    /// is timed over many calls and the clock's own cost (≈ 20 ns) vanishes. Default 500 µs:
    /// shorter than a scheduler time slice (≈ 3 ms), so on a loaded machine most samples are not
    /// preempted at all and the median stays clean; longer samples would all be contaminated.
    public var targetSampleNanoseconds: UInt64 = 500_000
    /// Samples wanted. Default 50.
    public var samples: Int = 50
    /// Samples taken even when the budget is exceeded (a slow closure). Default 5.
    public var minimumSamples: Int = 5
    /// Budget for the sampling phase; fewer samples are taken if it would be exceeded. Default 3 s.
    public var maxTotalNanoseconds: UInt64 = 3_000_000_000
    /// Fixed inner-loop iteration count; `nil` chooses it from the warm-up. Default nil.
    public var innerIterations: Int?
    /// Confidence level of the bootstrap intervals. Default 0.95.
    public var confidenceLevel: Double = 0.95
    /// Bootstrap resamples. Default 2000.
    public var bootstrapResamples: Int = 2000
    /// Seed of the bootstrap generator (reports are reproducible from their samples). Default 0x5EED.
    public var seed: UInt64 = 0x5EED

    /// Options with the defaults above.
    public init() {}

    /// Options for quick, low-precision runs (tests, smoke runs): 5 ms warm-up, 250 µs samples,
    /// 20 samples, 0.5 s budget.
    public static var quick: MeasurementOptions {
        var o = MeasurementOptions()
        o.warmUpNanoseconds = 5_000_000
        o.targetSampleNanoseconds = 250_000
        o.samples = 20
        o.maxTotalNanoseconds = 500_000_000
        return o
    }

    func validate() throws(ProfilingError) {
        guard samples >= 2 else { throw .invalidArgument(name: "samples", reason: "must be ≥ 2, got \(samples)") }
        guard minimumSamples >= 2, minimumSamples <= samples else {
            throw .invalidArgument(name: "minimumSamples", reason: "must be in 2...samples, got \(minimumSamples)")
        }
        guard targetSampleNanoseconds > 0 else { throw .invalidArgument(name: "targetSampleNanoseconds", reason: "must be > 0") }
        if let k = innerIterations, k < 1 {
            throw .invalidArgument(name: "innerIterations", reason: "must be ≥ 1, got \(k)")
        }
        guard confidenceLevel > 0, confidenceLevel < 1 else {
            throw .invalidArgument(name: "confidenceLevel", reason: "must be in (0, 1)")
        }
        guard bootstrapResamples >= 100 else { throw .invalidArgument(name: "bootstrapResamples", reason: "must be ≥ 100") }
    }
}

/// The outcome of measuring one closure: per-call times of every sample, their statistics,
/// outliers, bootstrap intervals, and what the method did (warm-up, inner loop, clock cost).
public struct MeasurementResult: Codable, Sendable, Equatable {
    /// Name of what was measured.
    public var name: String
    /// Per-call time of each sample, nanoseconds (sample time minus one clock reading, divided by
    /// the inner iterations).
    public var samplesNanoseconds: [Double]
    /// Calls per sample (the inner loop).
    public var innerIterations: Int
    /// Calls made during warm-up.
    public var warmUpIterations: Int
    /// Time spent warming up, nanoseconds.
    public var warmUpNanoseconds: UInt64
    /// Wall time of the sampling phase, nanoseconds.
    public var samplingNanoseconds: UInt64
    /// The clock's cost and resolution, measured in this process.
    public var clock: ClockCalibration
    /// Clock overhead per call after dividing by the inner iterations, nanoseconds: the
    /// systematic error left in each per-call time (it has been subtracted).
    public var timerOverheadPerCallNanoseconds: Double
    /// Statistics of ``samplesNanoseconds``.
    public var statistics: SampleStatistics
    /// Outliers of ``samplesNanoseconds`` (counted, not removed).
    public var outliers: OutlierReport
    /// Bootstrap interval of the median per-call time.
    public var medianInterval: ConfidenceInterval
    /// Bootstrap interval of the mean per-call time.
    public var meanInterval: ConfidenceInterval
    /// True when fewer samples than requested were taken because the budget ran out.
    public var truncated: Bool

    /// Calls per second at the median time.
    public var callsPerSecond: Double { statistics.median > 0 ? 1e9 / statistics.median : .infinity }

    /// One line, e.g. `dot: 12.3 ns/call [12.1, 12.6] 95% CI, 30 samples × 400000 calls, 2/30 Tukey outliers …`.
    public var line: String {
        "\(name): \(statistics.median.formattedNanoseconds)/call "
            + "[\(medianInterval.lower.formattedNanoseconds), \(medianInterval.upper.formattedNanoseconds)] "
            + "\(Int((medianInterval.level * 100).rounded()))% CI, \(statistics.count) samples × \(innerIterations) calls, "
            + outliers.line
    }
}

/// Measures closures with a careful method: warm-up, an inner loop sized from the warm-up so
/// each sample lasts ``MeasurementOptions/targetSampleNanoseconds``, the clock's own cost
/// subtracted, outliers counted (Tukey and MAD), and bootstrap intervals on median and mean.
///
/// Not thread-safe with respect to the measured closure (it runs on the calling thread); the
/// functions themselves can be called from any thread.
public enum Measurer {
    /// Measures `body`.
    ///
    /// - Parameters:
    ///   - name: label stored in the result.
    ///   - options: the method (see ``MeasurementOptions``).
    ///   - body: the work; pass its result to ``blackHole(_:)`` so it is not optimised away.
    /// - Throws: ``ProfilingError/invalidArgument(name:reason:)`` for invalid options.
    /// - Complexity: about warm-up + samples × target sample time, bounded by the budget.
    public static func measure(_ name: String, options: MeasurementOptions = MeasurementOptions(),
                               _ body: () -> Void) throws(ProfilingError) -> MeasurementResult {
        try options.validate()
        let clock = MonotonicClock.calibration
        let warm = warmUp(options.warmUpNanoseconds, body)
        let inner = options.innerIterations ?? innerIterations(perCall: warm.perCall, target: options.targetSampleNanoseconds)
        let expectedSample = warm.perCall * Double(inner)
        let affordable = expectedSample > 0 ? Int(Double(options.maxTotalNanoseconds) / expectedSample) : options.samples
        let wanted = Swift.max(options.minimumSamples, Swift.min(options.samples, affordable))

        var samples = [Double]()
        samples.reserveCapacity(wanted)
        let start = MonotonicClock.now()
        for _ in 0..<wanted {
            samples.append(timeInnerLoop(inner, overhead: clock.overheadNanoseconds, body))
            if samples.count >= options.minimumSamples && MonotonicClock.elapsed(since: start) > options.maxTotalNanoseconds {
                break
            }
        }
        let sampling = MonotonicClock.elapsed(since: start)
        return try result(name: name, samples: samples, inner: inner, warm: warm, sampling: sampling,
                          clock: clock, options: options, truncated: samples.count < options.samples)
    }

    struct WarmUp {
        var iterations: Int
        var nanoseconds: UInt64
        var perCall: Double
    }

    /// Runs `body` for at least `duration` and at least three doubling batches (1, 2, 4 … calls,
    /// so the clock is read O(log calls) times), unless one batch alone overruns 4 × `duration`.
    /// The per-call estimate is the fastest batch's: preemption and first-call costs only ever
    /// add time, so the minimum is the estimate they spoil least.
    static func warmUp(_ duration: UInt64, _ body: () -> Void) -> WarmUp {
        let start = MonotonicClock.now()
        var batch = 1
        var calls = 0
        var batches = 0
        var perCall = Double.infinity
        while true {
            let t0 = MonotonicClock.now()
            for _ in 0..<batch { body() }
            let dt = MonotonicClock.elapsed(since: t0)
            calls += batch
            batches += 1
            perCall = Swift.min(perCall, Double(dt) / Double(batch))
            let elapsed = MonotonicClock.elapsed(since: start)
            if elapsed >= duration && (batches >= 3 || elapsed >= 4 * duration) { break }
            if batch < (1 << 40) { batch *= 2 }
        }
        return WarmUp(iterations: calls, nanoseconds: MonotonicClock.elapsed(since: start), perCall: Swift.max(perCall, 0.01))
    }

    /// Calls per sample so that a sample lasts `target` ns (at least 1, at most 2^32).
    static func innerIterations(perCall: Double, target: UInt64) -> Int {
        let k = (Double(target) / Swift.max(perCall, 0.01)).rounded(.up)
        return Int(Swift.min(Swift.max(k, 1), Double(UInt32.max)))
    }

    /// Per-call nanoseconds of one sample of `inner` calls, the clock's cost subtracted.
    @inline(__always)
    static func timeInnerLoop(_ inner: Int, overhead: Double, _ body: () -> Void) -> Double {
        let t0 = MonotonicClock.now()
        for _ in 0..<inner { body() }
        let dt = Double(MonotonicClock.elapsed(since: t0))
        return Swift.max(dt - overhead, 0) / Double(inner)
    }

    static func result(name: String, samples: [Double], inner: Int, warm: WarmUp, sampling: UInt64,
                       clock: ClockCalibration, options: MeasurementOptions, truncated: Bool) throws(ProfilingError) -> MeasurementResult {
        let stats = try SampleStatistics(samples)
        let medianCI = try Bootstrap.median(samples, level: options.confidenceLevel,
                                            resamples: options.bootstrapResamples, seed: options.seed)
        let meanCI = try Bootstrap.confidenceInterval(samples, level: options.confidenceLevel,
                                                      resamples: options.bootstrapResamples, seed: options.seed &+ 1) {
            Descriptive.mean($0)
        }
        let outliers = OutlierReport(samples)
        if outliers.tukeyFraction > 0.1 {
            profilingLogger.debug("noisy measurement", metadata: ["name": "\(name)", "outliers": "\(outliers.line)"])
        }
        return MeasurementResult(
            name: name, samplesNanoseconds: samples, innerIterations: inner, warmUpIterations: warm.iterations,
            warmUpNanoseconds: warm.nanoseconds, samplingNanoseconds: sampling, clock: clock,
            timerOverheadPerCallNanoseconds: clock.overheadNanoseconds / Double(inner), statistics: stats,
            outliers: outliers, medianInterval: medianCI, meanInterval: meanCI, truncated: truncated)
    }
}
