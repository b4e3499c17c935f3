import Foundation

/// A named closure taking part in a ``Comparison``.
public struct ComparisonSubject {
    /// Name shown in the report.
    public var name: String
    /// The work; pass its result to ``blackHole(_:)``.
    public var body: () -> Void

    /// Creates a subject.
    public init(_ name: String, _ body: @escaping () -> Void) {
        self.name = name
        self.body = body
    }
}

/// How a ``Comparison`` runs and decides.
public struct ComparisonOptions: Codable, Sendable, Equatable {
    /// Rounds; each round times every subject once (one sample each). Default 60.
    public var rounds: Int = 60
    /// When the verdict after ``rounds`` is still undecided (neither a significant difference nor
    /// an interval inside the noise band), more batches of ``rounds`` are run, up to this many
    /// rounds in all. Set it equal to ``rounds`` for a fixed-length run. Default 240.
    public var maxRounds: Int = 240
    /// Warm-up per subject before the first round, nanoseconds. Default 30 ms.
    public var warmUpNanoseconds: UInt64 = 30_000_000
    /// Target duration of one sample (inner loop sized per subject), nanoseconds. Default 250 µs:
    /// well under a scheduler time slice, so preemption by other processes spoils few samples
    /// and the medians stay clean even on a loaded machine.
    public var targetSampleNanoseconds: UInt64 = 250_000
    /// Shuffle the order of the subjects in each round (seeded), so drift and ordering effects
    /// (turbo, caches warmed by the previous subject) spread evenly. Default true.
    public var randomizeOrder = true
    /// Seed of the shuffles and of the bootstrap. Default 0x5EED.
    public var seed: UInt64 = 0x5EED
    /// A speedup is only reported when its whole confidence interval is beyond 1 ± this relative
    /// band (0.05 → a change must be surely more than 5 %). Default 0.05.
    public var noiseBand: Double = 0.05
    /// Mann–Whitney significance level that must also be met. Default 0.01.
    public var significanceLevel: Double = 0.01
    /// Confidence level of the speedup interval. Default 0.95.
    public var confidenceLevel: Double = 0.95
    /// Bootstrap resamples. Default 2000.
    public var bootstrapResamples: Int = 2000

    /// Options with the defaults above.
    public init() {}

    func validate() throws(ProfilingError) {
        guard rounds >= 5 else { throw .invalidArgument(name: "rounds", reason: "must be ≥ 5, got \(rounds)") }
        guard maxRounds >= rounds else { throw .invalidArgument(name: "maxRounds", reason: "must be ≥ rounds") }
        guard noiseBand >= 0, noiseBand < 1 else { throw .invalidArgument(name: "noiseBand", reason: "must be in [0, 1)") }
        guard significanceLevel > 0, significanceLevel < 1 else {
            throw .invalidArgument(name: "significanceLevel", reason: "must be in (0, 1)")
        }
        guard confidenceLevel > 0, confidenceLevel < 1 else { throw .invalidArgument(name: "confidenceLevel", reason: "must be in (0, 1)") }
        guard bootstrapResamples >= 100 else { throw .invalidArgument(name: "bootstrapResamples", reason: "must be ≥ 100") }
        guard targetSampleNanoseconds > 0 else { throw .invalidArgument(name: "targetSampleNanoseconds", reason: "must be > 0") }
    }
}

/// The verdict on one candidate against the baseline.
public struct ComparisonVerdict: Codable, Sendable, Equatable, CustomStringConvertible {
    /// Direction of a significant difference.
    public enum Kind: String, Codable, Sendable {
        /// The candidate is faster beyond the noise band.
        case faster
        /// The candidate is slower beyond the noise band.
        case slower
        /// Not distinguishable from the baseline.
        case noSignificantDifference
    }

    /// Direction.
    public var kind: Kind
    /// How many times faster (or slower): ≥ 1, or 1 with no significant difference.
    public var factor: Double

    /// `"2.03× faster"`, `"1.98× slower"` or `"no significant difference"`.
    public var description: String {
        switch kind {
        case .faster: return String(format: "%.2f× faster", factor)
        case .slower: return String(format: "%.2f× slower", factor)
        case .noSignificantDifference: return "no significant difference"
        }
    }
}

/// One candidate's result in a ``ComparisonResult``.
public struct CandidateComparison: Codable, Sendable, Equatable {
    /// Candidate name.
    public var name: String
    /// Per-call times of the candidate's samples, nanoseconds.
    public var samplesNanoseconds: [Double]
    /// Statistics of the samples.
    public var statistics: SampleStatistics
    /// Outliers among the samples.
    public var outliers: OutlierReport
    /// Baseline median / candidate median (> 1: the candidate is faster), with its bootstrap interval.
    public var speedup: ConfidenceInterval
    /// Mann–Whitney U test of baseline against candidate times.
    public var test: MannWhitneyU
    /// The decision.
    public var verdict: ComparisonVerdict
}

/// The result of a ``Comparison``: the baseline's samples and each candidate's speedup and verdict.
public struct ComparisonResult: Codable, Sendable, Equatable {
    /// Baseline name.
    public var baselineName: String
    /// Baseline per-call times, nanoseconds.
    public var baselineSamplesNanoseconds: [Double]
    /// Statistics of the baseline samples.
    public var baselineStatistics: SampleStatistics
    /// Candidates in the order given.
    public var candidates: [CandidateComparison]
    /// Inner-loop iterations per sample, baseline first, then candidates.
    public var innerIterations: [Int]
    /// The options used.
    public var options: ComparisonOptions

    /// One line per candidate, e.g. `flash vs naive: 2.51× faster (speedup 2.51 [2.44, 2.58], p=1e-11)`.
    public var lines: [String] {
        candidates.map { c in
            "\(c.name) vs \(baselineName): \(c.verdict) "
                + String(format: "(speedup %.3f [%.3f, %.3f], p=%.2g)", c.speedup.estimate, c.speedup.lower,
                         c.speedup.upper, c.test.pValue)
        }
    }
}

/// Compares candidate closures with a baseline closure in one run: rounds interleave the
/// subjects (optionally in a seeded random order per round), so slow drifts of the machine hit
/// all of them alike. The primary output is the ratio of medians (speedup) with a bootstrap
/// confidence interval, and a verdict that says "x× faster/slower" only when the interval lies
/// entirely beyond the noise band *and* the Mann–Whitney test is significant.
public enum Comparison {
    /// Runs the comparison.
    ///
    /// - Parameters:
    ///   - baseline: the reference.
    ///   - candidates: one or more alternatives, run on the same inputs (capture the same data).
    ///   - options: see ``ComparisonOptions``.
    /// - Throws: ``ProfilingError/invalidArgument(name:reason:)`` for bad options or no candidates.
    /// - Complexity: about (1 + candidates) × (warm-up + rounds × target sample time), up to
    ///   `maxRounds` rounds while the verdict is undecided.
    public static func run(baseline: ComparisonSubject, candidates: [ComparisonSubject],
                           options: ComparisonOptions = ComparisonOptions()) throws(ProfilingError) -> ComparisonResult {
        try options.validate()
        guard !candidates.isEmpty else { throw .invalidArgument(name: "candidates", reason: "at least one is needed") }
        let subjects = [baseline] + candidates
        let overhead = MonotonicClock.calibration.overheadNanoseconds
        let inner = subjects.map { s in
            Measurer.innerIterations(perCall: Measurer.warmUp(options.warmUpNanoseconds, s.body).perCall,
                                     target: options.targetSampleNanoseconds)
        }
        return try collect(names: subjects.map(\.name), innerIterations: inner, options: options) { i in
            Measurer.timeInnerLoop(inner[i], overhead: overhead, subjects[i].body)
        }
    }

    /// The sampling loop of ``run(baseline:candidates:options:)``: rounds of one sample per subject
    /// (index 0 is the baseline) in shuffled order, extended while a verdict is undecided. The
    /// seam where tests inject samples drawn from known distributions instead of timings.
    package static func collect(names: [String], innerIterations: [Int] = [], options: ComparisonOptions,
                                sample: (Int) -> Double) throws(ProfilingError) -> ComparisonResult {
        try options.validate()
        guard names.count >= 2 else { throw .invalidArgument(name: "candidates", reason: "at least one is needed") }
        var samples = [[Double]](repeating: [], count: names.count)
        var rng = SplitMix64(seed: options.seed)
        var order = Array(names.indices)
        while true {
            for _ in 0..<options.rounds {
                if options.randomizeOrder { order.shuffle(using: &rng) }
                for i in order { samples[i].append(sample(i)) }
            }
            let result = try analyze(baselineName: names[0], baseline: samples[0],
                                     candidates: (1..<names.count).map { (names[$0], samples[$0]) },
                                     innerIterations: innerIterations, options: options)
            if samples[0].count + options.rounds > options.maxRounds || result.candidates.allSatisfy({ decided($0, options) }) {
                return result
            }
        }
    }

    /// A verdict is settled when it found a difference, or when the whole speedup interval lies
    /// inside the noise band (surely no difference worth reporting).
    static func decided(_ c: CandidateComparison, _ options: ComparisonOptions) -> Bool {
        c.verdict.kind != .noSignificantDifference
            || (c.speedup.lower > 1 / (1 + options.noiseBand) && c.speedup.upper < 1 + options.noiseBand)
    }

    /// Analyses samples gathered elsewhere (or synthetic ones) exactly as ``run(baseline:candidates:options:)`` does.
    ///
    /// - Throws: ``ProfilingError/insufficientData(needed:got:)`` with fewer than 2 samples in a group.
    public static func analyze(baselineName: String, baseline: [Double], candidates: [(String, [Double])],
                               innerIterations: [Int] = [], options: ComparisonOptions = ComparisonOptions())
        throws(ProfilingError) -> ComparisonResult {
        try options.validate()
        let baseStats = try SampleStatistics(baseline)
        var results = [CandidateComparison]()
        for (k, (name, s)) in candidates.enumerated() {
            let stats = try SampleStatistics(s)
            let speedup = try Bootstrap.ratioOfMedians(numerator: baseline, denominator: s, level: options.confidenceLevel,
                                                      resamples: options.bootstrapResamples, seed: options.seed &+ UInt64(k + 1))
            let test = try MannWhitneyU(baseline, s)
            results.append(CandidateComparison(name: name, samplesNanoseconds: s, statistics: stats, outliers: OutlierReport(s),
                                               speedup: speedup, test: test, verdict: verdict(speedup, test, options)))
        }
        return ComparisonResult(baselineName: baselineName, baselineSamplesNanoseconds: baseline, baselineStatistics: baseStats,
                                candidates: results, innerIterations: innerIterations, options: options)
    }

    static func verdict(_ speedup: ConfidenceInterval, _ test: MannWhitneyU, _ options: ComparisonOptions) -> ComparisonVerdict {
        let significant = test.pValue < options.significanceLevel
        if significant && speedup.lower > 1 + options.noiseBand {
            return ComparisonVerdict(kind: .faster, factor: speedup.estimate)
        }
        if significant && speedup.upper < 1 / (1 + options.noiseBand) {
            return ComparisonVerdict(kind: .slower, factor: 1 / speedup.estimate)
        }
        return ComparisonVerdict(kind: .noSignificantDifference, factor: 1)
    }
}
