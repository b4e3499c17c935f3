import Foundation
import KestrelProfiling
import KestrelTensor

/// A configuration handed out by ``OnlineTuner/choose(context:)``.
public struct OnlineChoice: Sendable, Equatable {
    /// The pattern-bank cluster of the context, nil for a context unlike any seen so far.
    public var cluster: UInt64?
    /// Index of the arm in ``OnlineTuner/arms`` (0 is the default).
    public var arm: Int
    /// The arm's configuration.
    public var configuration: TuningConfiguration
}

/// What ``OnlineTuner/recommendation(context:)`` advises for a context.
public struct OnlineRecommendation: Sendable, Equatable {
    /// The cluster consulted, nil when the bank is empty.
    public var cluster: UInt64?
    /// The arm to use.
    public var arm: Int
    /// Its configuration.
    public var configuration: TuningConfiguration
    /// Whether it is not the default (only when faster beyond noise).
    public var replacedDefault: Bool
    /// The verdict of the best arm against the default, nil when there were too few samples.
    public var verdict: ComparisonVerdict?
}

/// The online strategy: a bandit per pattern-bank cluster that learns from live latencies.
///
/// Contexts (embeddings of the request: sizes, load, whatever the caller encodes) are grouped by
/// a ``PatternBank``; each cluster runs UCB1 over the arms on log-latency (lower is better):
/// arms with fewer than ``minimumPulls`` samples first (the default first of all, so every arm
/// has enough samples for a verdict against it), then the arm minimising
/// `mean log t − c·√(2 ln N / n)`. Log-latency makes the exploration weight `c` a relative
/// quantity, independent of the operation's time scale. Merges and re-clustering of the bank
/// move the arms' statistics with their patterns. ``recommendation(context:)`` replaces the
/// default only when the best arm's recent latencies are faster beyond noise (``Comparison``).
///
/// Thread-safety: not thread-safe (one owner); not `Sendable`.
public final class OnlineTuner {
    /// The arms; arm 0 is the space's default.
    public let arms: [TuningConfiguration]
    /// The bank whose clusters key the bandits.
    public let bank: PatternBank
    /// Exploration weight `c` (≥ 0).
    public let exploration: Double
    /// Recent latencies kept per arm and cluster for the verdict.
    public let recentCapacity: Int
    /// Samples every arm gets in a cluster before UCB1 decides (≥ 1; ≥ 5 lets
    /// ``recommendation(context:)`` judge every arm).
    public let minimumPulls: Int
    /// Noise band, significance and seed of the verdicts.
    public var comparison: ComparisonOptions

    struct Arm {
        var count = 0
        var sumLog = 0.0
        var recent: [Double] = []
        var next = 0

        mutating func add(_ t: Double, capacity: Int) {
            count += 1
            sumLog += log(t)
            if recent.count < capacity { recent.append(t) } else { recent[next] = t }
            next = (next + 1) % capacity
        }

        mutating func merge(_ o: Arm, capacity: Int) {
            count += o.count
            sumLog += o.sumLog
            for t in o.recent { if recent.count < capacity { recent.append(t) } }
        }

        var meanLog: Double { count > 0 ? sumLog / Double(count) : .infinity }
    }

    private var clusters: [UInt64: [Arm]] = [:]

    /// A tuner over `candidates` (default: the space's neighbourhood, the default first).
    /// - Throws: `invalidArgument` for a candidate outside the space, no candidates, a negative
    ///   exploration weight, `minimumPulls < 1` or `recentCapacity < 5`; the bank configuration's errors.
    public init(space: TuningSpace, candidates: [TuningConfiguration]? = nil, bank: PatternBankConfiguration,
                exploration: Double = 0.2, minimumPulls: Int = 5, recentCapacity: Int = 64, comparison: ComparisonOptions = ComparisonOptions()) throws(KestrelError) {
        let base = space.defaultConfiguration
        let list = candidates ?? space.neighbourhood
        guard !list.isEmpty else { throw .invalidArgument(name: "candidates", reason: "at least one is needed") }
        for c in list where !space.contains(c) {
            throw .invalidArgument(name: "candidates", reason: "\(c) is not a configuration of the space")
        }
        guard exploration >= 0, exploration.isFinite else { throw .invalidArgument(name: "exploration", reason: "must be finite and ≥ 0") }
        guard minimumPulls >= 1 else { throw .invalidArgument(name: "minimumPulls", reason: "must be ≥ 1, got \(minimumPulls)") }
        guard recentCapacity >= 5 else { throw .invalidArgument(name: "recentCapacity", reason: "must be ≥ 5, got \(recentCapacity)") }
        arms = [base] + list.filter { $0 != base }
        self.bank = try PatternBank(bank)
        self.exploration = exploration
        self.recentCapacity = recentCapacity
        self.minimumPulls = minimumPulls
        self.comparison = comparison
    }

    private func cluster(of embedding: [Float], within limit: Double) throws(KestrelError) -> UInt64? {
        guard bank.count > 0 else {
            guard embedding.count == bank.configuration.dimension else {
                throw .dimensionMismatch(expected: [bank.configuration.dimension], actual: [embedding.count])
            }
            return nil
        }
        let near = try bank.nearest(embedding, k: 1)[0]
        return near.distance <= limit ? near.pattern.id : nil
    }

    /// The arm to run for a context (UCB1 in its cluster; the default for an unseen context).
    /// - Throws: `dimensionMismatch`, `nonFiniteValue(index:)` for a bad embedding.
    /// - Complexity: one bank search + O(arms).
    public func choose(context embedding: [Float]) throws(KestrelError) -> OnlineChoice {
        guard let c = try cluster(of: embedding, within: bank.configuration.newPatternDistance), let stats = clusters[c] else {
            let c = try cluster(of: embedding, within: bank.configuration.newPatternDistance)
            return OnlineChoice(cluster: c, arm: 0, configuration: arms[0])
        }
        if let untried = stats.firstIndex(where: { $0.count < minimumPulls }) {
            return OnlineChoice(cluster: c, arm: untried, configuration: arms[untried])
        }
        let total = Double(stats.reduce(0) { $0 + $1.count })
        var best = 0
        var bestScore = Double.infinity
        for (i, a) in stats.enumerated() {
            let score = a.meanLog - exploration * (2 * log(total) / Double(a.count)).squareRoot()
            if score < bestScore { (best, bestScore) = (i, score) }
        }
        return OnlineChoice(cluster: c, arm: best, configuration: arms[best])
    }

    /// Feeds back the latency an arm had in a context: the bank learns the context (reward
    /// −log latency, the arm as its settings) and the arm's statistics in its cluster are updated.
    /// - Throws: `invalidArgument` for an arm out of range or a latency that is not finite and > 0;
    ///   the bank's errors for a bad embedding. Validation comes first: a throw changes nothing.
    public func report(_ choice: OnlineChoice, context embedding: [Float], latencyNanoseconds t: Double) throws(KestrelError) {
        guard arms.indices.contains(choice.arm) else {
            throw .invalidArgument(name: "arm", reason: "must be in 0..<\(arms.count), got \(choice.arm)")
        }
        guard t.isFinite, t > 0 else { throw .invalidArgument(name: "latencyNanoseconds", reason: "must be finite and > 0, got \(t)") }
        let a = try bank.observe(embedding, settings: [choice.arm], reward: -log(t))
        for (from, into) in a.merged where from != into {
            guard let moved = clusters.removeValue(forKey: from) else { continue }
            var target = clusters[into] ?? Array(repeating: Arm(), count: arms.count)
            for i in target.indices { target[i].merge(moved[i], capacity: recentCapacity) }
            clusters[into] = target
        }
        var stats = clusters[a.pattern] ?? Array(repeating: Arm(), count: arms.count)
        stats[choice.arm].add(t, capacity: recentCapacity)
        clusters[a.pattern] = stats
    }

    /// Samples of `arm` in the cluster of `embedding` (tests and reports).
    public func samples(context embedding: [Float], arm: Int) throws(KestrelError) -> Int {
        guard let c = try cluster(of: embedding, within: .infinity), let s = clusters[c], s.indices.contains(arm) else { return 0 }
        return s[arm].count
    }

    /// The settings to use for a context now: the cluster's arm with the lowest mean log-latency
    /// (among arms with ≥ 5 samples) when ``Comparison`` finds its recent latencies faster than the
    /// default's beyond noise; otherwise the default.
    /// - Throws: `dimensionMismatch`, `nonFiniteValue(index:)` for a bad embedding.
    public func recommendation(context embedding: [Float]) throws(KestrelError) -> OnlineRecommendation {
        let fallback = OnlineRecommendation(cluster: nil, arm: 0, configuration: arms[0], replacedDefault: false, verdict: nil)
        guard let c = try cluster(of: embedding, within: .infinity) else { return fallback }
        guard let stats = clusters[c] else { return OnlineRecommendation(cluster: c, arm: 0, configuration: arms[0], replacedDefault: false, verdict: nil) }
        var best = 0
        for i in stats.indices where stats[i].count >= 5 && stats[i].meanLog < stats[best].meanLog { best = i }
        var rec = OnlineRecommendation(cluster: c, arm: 0, configuration: arms[0], replacedDefault: false, verdict: nil)
        guard best != 0, stats[0].recent.count >= 5, stats[best].recent.count >= 5 else { return rec }
        do {
            let r = try Comparison.analyze(baselineName: "default", baseline: stats[0].recent,
                                           candidates: [("arm \(best)", stats[best].recent)], options: comparison)
            rec.verdict = r.candidates[0].verdict
        } catch {
            return rec
        }
        if rec.verdict?.kind == .faster {
            rec.arm = best
            rec.configuration = arms[best]
            rec.replacedDefault = true
        }
        return rec
    }
}
