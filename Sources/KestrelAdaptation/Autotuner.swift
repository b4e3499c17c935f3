import Foundation
import KestrelProfiling
import KestrelTensor

/// One observation of a configuration by the caller's workload: a latency and, for
/// multi-objective problems, the recall and memory it reached.
public struct TuningSample: Sendable, Equatable {
    /// Time of one call (or one fixed batch of calls), nanoseconds; finite and ≥ 0.
    public var latencyNanoseconds: Double
    /// Recall in [0, 1], when the problem has one.
    public var recall: Double?
    /// Memory used, bytes, when the problem tracks it.
    public var memoryBytes: Double?

    /// A sample.
    public init(latencyNanoseconds: Double, recall: Double? = nil, memoryBytes: Double? = nil) {
        self.latencyNanoseconds = latencyNanoseconds
        self.recall = recall
        self.memoryBytes = memoryBytes
    }
}

/// Constraints a chosen configuration must meet, e.g. "recall ≥ 0.95".
public struct TuningRequirement: Sendable, Equatable, Codable {
    /// Smallest acceptable mean recall (nil: no constraint).
    public var minimumRecall: Double?
    /// Largest acceptable mean memory, bytes (nil: no constraint).
    public var maximumMemoryBytes: Double?

    /// A requirement; both nil means "just the fastest".
    public init(minimumRecall: Double? = nil, maximumMemoryBytes: Double? = nil) {
        self.minimumRecall = minimumRecall
        self.maximumMemoryBytes = maximumMemoryBytes
    }

    /// Whether `e` meets it (a missing objective fails a constraint on it).
    public func admits(_ e: TuningEvaluation) -> Bool {
        if let r = minimumRecall, !((e.recall ?? -1) >= r) { return false }
        if let m = maximumMemoryBytes, !((e.memoryBytes ?? .infinity) <= m) { return false }
        return true
    }
}

/// How much measuring the ``Autotuner`` may do.
public enum TuningStrategy: Sendable, Equatable {
    /// No measurement: the estimator's best configuration, or every tunable's rule-of-thumb estimate.
    case estimate
    /// A pruned candidate set (the estimator's best `maxCandidates`, or the default's
    /// one-at-a-time neighbourhood), each measured `rounds` (≥ 6) times in interleaved, shuffled rounds.
    case measure(rounds: Int = 15, maxCandidates: Int = 64)
    /// Successive halving over the whole space (pruned to `budget / 4` candidates when larger):
    /// rungs of interleaved rounds, each keeping the better half by median latency, until one is
    /// left; about `budget` samples in all.
    case patient(budget: Int = 2000)

    /// `estimate`, `measure` or `patient`.
    public var name: String {
        switch self {
        case .estimate: return "estimate"
        case .measure: return "measure"
        case .patient: return "patient"
        }
    }
}

/// What the tuner learnt about one configuration.
public struct TuningEvaluation: Sendable, Equatable, Codable {
    /// The configuration.
    public var configuration: TuningConfiguration
    /// Samples taken.
    public var samples: Int
    /// Median latency, nanoseconds.
    public var medianLatencyNanoseconds: Double
    /// Mean recall, when reported.
    public var recall: Double?
    /// Mean memory, bytes, when reported.
    public var memoryBytes: Double?

    /// An evaluation (tests and callers that measured elsewhere).
    public init(configuration: TuningConfiguration, samples: Int, medianLatencyNanoseconds: Double,
                recall: Double? = nil, memoryBytes: Double? = nil) {
        self.configuration = configuration
        self.samples = samples
        self.medianLatencyNanoseconds = medianLatencyNanoseconds
        self.recall = recall
        self.memoryBytes = memoryBytes
    }
}

/// The outcome of ``Autotuner/tune(strategy:requirement:workload:)``.
public struct TuningResult: Sendable, Equatable, Codable {
    /// ``TuningStrategy/name``.
    public var strategy: String
    /// The configuration to use.
    public var chosen: TuningConfiguration
    /// The space's default.
    public var defaultConfiguration: TuningConfiguration
    /// Whether ``chosen`` differs from the default: only when it was faster beyond the measured
    /// noise (``verdict`` is `.faster`), when the default does not meet the requirement, or with
    /// the estimate strategy.
    public var replacedDefault: Bool
    /// Whether ``chosen`` meets the requirement (false: nothing measured did; the default is kept).
    public var requirementMet: Bool
    /// The noise-aware verdict of the best candidate against the default (KestrelProfiling's
    /// ``Comparison``), nil when nothing was measured or the default won.
    public var verdict: ComparisonVerdict?
    /// Its speedup interval (default median / candidate median).
    public var speedup: ConfidenceInterval?
    /// Every configuration measured.
    public var evaluations: [TuningEvaluation]
    /// The non-dominated evaluations (latency, recall, memory).
    public var front: ParetoFront
    /// Workload calls made.
    public var samplesTaken: Int
    /// Wall time of the tuning, nanoseconds.
    public var tuningNanoseconds: UInt64
}

/// Picks settings for a ``TuningSpace`` by one of four budgets (``TuningStrategy``, plus
/// ``OnlineTuner`` for live traffic). The caller's workload returns one ``TuningSample`` per call,
/// so strategies can be tested with a deterministic cost model and run on real timings alike.
/// A measured candidate replaces the default only when KestrelProfiling's ``Comparison`` finds it
/// faster beyond the noise band with a significant Mann–Whitney test.
///
/// Thread-safety: a value; ``tune(strategy:requirement:workload:)`` runs the workload on the
/// calling thread.
public struct Autotuner: Sendable {
    /// The tunables.
    public var space: TuningSpace
    /// A cost model (lower is better) used by the estimate strategy and to prune candidates.
    public var estimator: (@Sendable (TuningConfiguration) -> Double)?
    /// Noise band, significance level, confidence level, bootstrap resamples and seed (also the
    /// seed of the round shuffles) of the verdicts.
    public var comparison: ComparisonOptions

    /// A tuner.
    public init(space: TuningSpace, estimator: (@Sendable (TuningConfiguration) -> Double)? = nil,
                comparison: ComparisonOptions = ComparisonOptions()) {
        self.space = space
        self.estimator = estimator
        self.comparison = comparison
    }

    /// Tunes.
    ///
    /// - Parameters:
    ///   - requirement: constraints on recall/memory; the fastest admitted configuration is chosen.
    ///   - workload: runs a configuration once and reports a sample (never called by `.estimate`).
    /// - Throws: `invalidArgument` for bad strategy parameters or a sample with a non-finite or
    ///   negative latency; `capacityExceeded` when the space is too large to enumerate; whatever
    ///   the workload throws.
    /// - Complexity: `.measure`: candidates × rounds workload calls; `.patient`: about `budget`.
    public func tune(strategy: TuningStrategy, requirement: TuningRequirement = TuningRequirement(),
                     workload: (TuningConfiguration) throws(KestrelError) -> TuningSample) throws(KestrelError) -> TuningResult {
        let start = MonotonicClock.now()
        let base = space.defaultConfiguration
        switch strategy {
        case .estimate:
            let chosen = try estimatedBest()
            return TuningResult(strategy: strategy.name, chosen: chosen, defaultConfiguration: base, replacedDefault: chosen != base,
                                requirementMet: requirement == TuningRequirement(), verdict: nil, speedup: nil, evaluations: [],
                                front: ParetoFront([]), samplesTaken: 0, tuningNanoseconds: MonotonicClock.elapsed(since: start))
        case .measure(let rounds, let maxCandidates):
            // With 5 samples each, the Mann–Whitney test cannot reach p < 0.01 even when every
            // candidate sample beats every default sample: no verdict could ever be "faster".
            guard rounds >= 6 else { throw .invalidArgument(name: "rounds", reason: "must be ≥ 6, got \(rounds)") }
            guard maxCandidates >= 1 else { throw .invalidArgument(name: "maxCandidates", reason: "must be ≥ 1") }
            var race = Race(candidates: try pruned(maxCandidates), seed: comparison.seed)
            try race.sample(Array(race.candidates.indices), rounds: rounds, workload)
            return try decide(race, strategy: strategy, requirement: requirement, winner: nil, start: start)
        case .patient(let budget):
            guard budget >= 16 else { throw .invalidArgument(name: "budget", reason: "must be ≥ 16, got \(budget)") }
            let size = try space.size()
            let candidates = size <= budget / 4 ? try space.allConfigurations() : try pruned(max(2, budget / 4))
            var race = Race(candidates: candidates.first == base ? candidates : [base] + candidates.filter { $0 != base },
                            seed: comparison.seed)
            var alive = Array(race.candidates.indices)
            let rungs = max(1, Int((log2(Double(alive.count))).rounded(.up)))
            while true {
                let perRound = alive.contains(0) ? alive.count : alive.count + 1
                let rounds = max(3, budget / (rungs * perRound))
                try race.sample(alive.contains(0) ? alive : [0] + alive, rounds: rounds, workload)
                if alive.count == 1 { break }
                alive = Array(race.ranked(alive, requirement).prefix((alive.count + 1) / 2))
                if alive.count == 1 { break }
            }
            return try decide(race, strategy: strategy, requirement: requirement, winner: alive[0], start: start)
        }
    }

    /// The estimator's argmin over the space (the first on ties), or the tunables' estimates.
    func estimatedBest() throws(KestrelError) -> TuningConfiguration {
        guard let estimator else { return space.estimatedConfiguration }
        let all = try space.allConfigurations()
        var best = all[0]
        var bestCost = estimator(best)
        for c in all.dropFirst() {
            let cost = estimator(c)
            if cost < bestCost { (best, bestCost) = (c, cost) }
        }
        return best
    }

    /// The default first, then the estimator's cheapest (or the neighbourhood), `limit` in all.
    func pruned(_ limit: Int) throws(KestrelError) -> [TuningConfiguration] {
        let base = space.defaultConfiguration
        var pool: [TuningConfiguration]
        if let estimator {
            let all = try space.allConfigurations()
            let costs = all.map(estimator)
            pool = all.indices.sorted { (costs[$0], $0) < (costs[$1], $1) }.map { all[$0] }
        } else {
            pool = space.neighbourhood
        }
        return Array(([base] + pool.filter { $0 != base }).prefix(max(1, limit)))
    }

    private func decide(_ race: Race, strategy: TuningStrategy, requirement: TuningRequirement, winner: Int?,
                        start: UInt64) throws(KestrelError) -> TuningResult {
        let evaluations = race.evaluations()
        let base = race.candidates[0]
        let w = winner ?? race.ranked(Array(race.candidates.indices), requirement)[0]
        let defaultOK = requirement.admits(evaluations[0])
        let winnerOK = requirement.admits(evaluations[w])
        var chosen = base, replaced = false
        var verdict: ComparisonVerdict?, speedup: ConfidenceInterval?
        if w != 0 {
            do {
                let r = try Comparison.analyze(baselineName: "default", baseline: race.latencies[0],
                                               candidates: [("candidate", race.latencies[w])], options: comparison)
                verdict = r.candidates[0].verdict
                speedup = r.candidates[0].speedup
            } catch {
                throw .invalidArgument(name: "samples", reason: "\(error)")
            }
            // The default must meet the requirement to be kept; otherwise any admitted winner replaces it.
            if winnerOK && (!defaultOK || verdict?.kind == .faster) {
                chosen = race.candidates[w]
                replaced = true
            }
        }
        return TuningResult(strategy: strategy.name, chosen: chosen, defaultConfiguration: base, replacedDefault: replaced,
                            requirementMet: replaced ? winnerOK : defaultOK, verdict: verdict, speedup: speedup,
                            evaluations: evaluations, front: ParetoFront(evaluations), samplesTaken: race.samplesTaken,
                            tuningNanoseconds: MonotonicClock.elapsed(since: start))
    }
}

/// Samples of several candidates gathered in interleaved, shuffled rounds.
struct Race {
    let candidates: [TuningConfiguration]
    var latencies: [[Double]]
    var recalls: [[Double]]
    var memories: [[Double]]
    var rng: SplitMix64
    var samplesTaken = 0

    init(candidates: [TuningConfiguration], seed: UInt64) {
        self.candidates = candidates
        latencies = Array(repeating: [], count: candidates.count)
        recalls = latencies
        memories = latencies
        rng = SplitMix64(seed: seed)
    }

    /// `rounds` rounds, each sampling every index of `which` once in a fresh random order, so a
    /// drift of the machine reaches all of them alike.
    mutating func sample(_ which: [Int], rounds: Int,
                         _ workload: (TuningConfiguration) throws(KestrelError) -> TuningSample) throws(KestrelError) {
        var order = which
        for _ in 0..<rounds {
            order.shuffle(using: &rng)
            for i in order {
                let s = try workload(candidates[i])
                guard s.latencyNanoseconds.isFinite, s.latencyNanoseconds >= 0 else {
                    throw .invalidArgument(name: "latencyNanoseconds", reason: "must be finite and ≥ 0, got \(s.latencyNanoseconds)")
                }
                latencies[i].append(s.latencyNanoseconds)
                if let r = s.recall { recalls[i].append(r) }
                if let m = s.memoryBytes { memories[i].append(m) }
                samplesTaken += 1
            }
        }
    }

    func evaluation(_ i: Int) -> TuningEvaluation {
        let mean = { (v: [Double]) -> Double? in v.isEmpty ? nil : v.reduce(0, +) / Double(v.count) }
        return TuningEvaluation(configuration: candidates[i], samples: latencies[i].count,
                                medianLatencyNanoseconds: Self.median(latencies[i]), recall: mean(recalls[i]),
                                memoryBytes: mean(memories[i]))
    }

    func evaluations() -> [TuningEvaluation] { candidates.indices.map(evaluation) }

    /// `which` ordered best first: admitted before not admitted, then by median latency, then index.
    func ranked(_ which: [Int], _ requirement: TuningRequirement) -> [Int] {
        let key = which.map { i in (i, requirement.admits(evaluation(i)) ? 0 : 1, Self.median(latencies[i])) }
        return key.sorted { ($0.1, $0.2, $0.0) < ($1.1, $1.2, $1.0) }.map(\.0)
    }

    static func median(_ v: [Double]) -> Double {
        guard !v.isEmpty else { return .infinity }
        return (try? SampleStatistics(v))?.median ?? .infinity
    }
}
