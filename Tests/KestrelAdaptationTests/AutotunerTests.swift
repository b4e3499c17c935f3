import Foundation
import KestrelAdaptation
import KestrelProfiling
import KestrelTensor
import Testing

/// A deterministic cost model: a known latency per configuration times (1 + noise·u), u uniform in
/// [-1, 1) from a seeded generator, so strategy logic is tested without timing noise.
final class FakeCost {
    var rng: SplitMix64
    let noise: Double
    let cost: (TuningConfiguration) -> Double
    let recall: ((TuningConfiguration) -> Double)?
    private(set) var calls = 0

    init(seed: UInt64 = 1, noise: Double = 0.02, recall: ((TuningConfiguration) -> Double)? = nil,
         _ cost: @escaping (TuningConfiguration) -> Double) {
        rng = SplitMix64(seed: seed)
        self.noise = noise
        self.cost = cost
        self.recall = recall
    }

    func sample(_ c: TuningConfiguration) -> TuningSample {
        calls += 1
        let u = Double(rng.nextSignedUnit())
        return TuningSample(latencyNanoseconds: cost(c) * (1 + noise * u), recall: recall?(c), memoryBytes: nil)
    }
}

@Suite struct AutotunerTests {
    static func space() throws -> TuningSpace {
        try TuningSpace([Tunable(name: "a", values: [1, 2, 3, 4], defaultValue: 1, estimate: 4),
                         Tunable(name: "b", values: [10, 20, 30], defaultValue: 10)])
    }

    /// Optimum (a 3, b 20) = 100; the default (1, 10) = 145.
    static func bowl(_ c: TuningConfiguration) -> Double {
        let a = Double(c["a"]!)
        return 100 + 10 * (a - 3) * (a - 3) + (c["b"] == 20 ? 0 : 5)
    }

    private func exhaustiveBest(_ space: TuningSpace, _ f: (TuningConfiguration) -> Double) throws -> TuningConfiguration {
        try space.allConfigurations().min { f($0) < f($1) }!
    }

    @Test func spaceEnumeratesTheProductAndTheNeighbourhood() throws {
        let s = try Self.space()
        #expect(try s.size() == 12)
        let all = try s.allConfigurations()
        #expect(all.count == 12 && Set(all).count == 12 && all.allSatisfy(s.contains))
        #expect(s.defaultConfiguration == TuningConfiguration(["a": 1, "b": 10]))
        #expect(s.estimatedConfiguration == TuningConfiguration(["a": 4, "b": 10]))
        // Default, then 3 more a values and 2 more b values: 1 + 3 + 2 (the estimate is among them).
        #expect(s.neighbourhood.count == 6 && s.neighbourhood[0] == s.defaultConfiguration)
        #expect(try exhaustiveBest(s, Self.bowl) == TuningConfiguration(["a": 3, "b": 20]))
    }

    @Test func estimateMeasuresNothing() throws {
        let s = try Self.space()
        let fake = FakeCost(Self.bowl)
        let plain = try Autotuner(space: s).tune(strategy: .estimate) { c throws(KestrelError) in fake.sample(c) }
        #expect(plain.chosen == s.estimatedConfiguration && plain.replacedDefault && plain.samplesTaken == 0)
        let model = try Autotuner(space: s, estimator: { Self.bowl($0) }).tune(strategy: .estimate) { c throws(KestrelError) in fake.sample(c) }
        #expect(model.chosen == TuningConfiguration(["a": 3, "b": 20]))
        #expect(fake.calls == 0)
    }

    @Test func measureSearchesThePrunedSetWithInterleavedRounds() throws {
        let s = try Self.space()
        let fake = FakeCost(Self.bowl)
        let r = try Autotuner(space: s).tune(strategy: .measure(rounds: 12)) { c throws(KestrelError) in fake.sample(c) }
        // Without a model the pruned set is the default's neighbourhood: (3, 10) = 105 is its best.
        #expect(r.chosen == TuningConfiguration(["a": 3, "b": 10]))
        #expect(r.replacedDefault && r.verdict?.kind == .faster)
        #expect(r.samplesTaken == 6 * 12 && fake.calls == 72)
        #expect(r.evaluations.count == 6 && r.evaluations.allSatisfy { $0.samples == 12 })
        #expect(abs(r.speedup!.estimate - 145.0 / 105) < 0.03)
        // With the model, the pruned set holds the true optimum.
        let fake2 = FakeCost(Self.bowl)
        let m = try Autotuner(space: s, estimator: { Self.bowl($0) }).tune(strategy: .measure(rounds: 12, maxCandidates: 3)) {
            c throws(KestrelError) in fake2.sample(c)
        }
        #expect(m.chosen == TuningConfiguration(["a": 3, "b": 20]))
        #expect(m.evaluations.count == 3 && fake2.calls == 36)
    }

    @Test func patientSuccessiveHalvingFindsTheExhaustiveOptimum() throws {
        let s = try Self.space()
        let fake = FakeCost(seed: 9, noise: 0.05, Self.bowl)
        let r = try Autotuner(space: s).tune(strategy: .patient(budget: 400)) { c throws(KestrelError) in fake.sample(c) }
        let best = try exhaustiveBest(s, Self.bowl)
        #expect(r.chosen == best)
        #expect(Self.bowl(r.chosen) / Self.bowl(best) == 1)  // regret 1
        #expect(r.evaluations.count == 12 && r.replacedDefault)
        // Halving spends about the budget: 4 rungs of ≥ 3 rounds.
        #expect(r.samplesTaken <= 500 && r.samplesTaken >= 100)
        // The default is sampled in every rung, so the verdict has as many of its samples as the winner's.
        let def = r.evaluations.first { $0.configuration == s.defaultConfiguration }!
        let win = r.evaluations.first { $0.configuration == best }!
        #expect(def.samples == win.samples)
    }

    @Test func aCandidateWithinTheNoiseDoesNotReplaceTheDefault() throws {
        let s = try TuningSpace([Tunable(name: "x", values: [0, 1], defaultValue: 0)])
        // 1 % faster under ±10 % noise: inside the 5 % noise band.
        let close = FakeCost(seed: 3, noise: 0.10) { $0["x"] == 1 ? 99 : 100 }
        let r = try Autotuner(space: s).tune(strategy: .measure(rounds: 40)) { c throws(KestrelError) in close.sample(c) }
        #expect(!r.replacedDefault && r.chosen == s.defaultConfiguration)
        #expect(r.verdict?.kind != .faster)
        // Identical costs: never replaced.
        let same = FakeCost(seed: 4, noise: 0.05) { _ in 100 }
        let q = try Autotuner(space: s).tune(strategy: .patient(budget: 64)) { c throws(KestrelError) in same.sample(c) }
        #expect(!q.replacedDefault)
        // 30 % faster under ±2 % noise: replaced.
        let far = FakeCost(seed: 5) { $0["x"] == 1 ? 70 : 100 }
        let f = try Autotuner(space: s).tune(strategy: .measure(rounds: 10)) { c throws(KestrelError) in far.sample(c) }
        #expect(f.replacedDefault && f.verdict?.kind == .faster)
    }

    @Test func recallRequirementPicksTheFastestAdmittedPointOfTheFront() throws {
        let ef = try Tunable.hnswEfSearch([8, 16, 32, 64, 128], default: 128)
        let s = try TuningSpace([ef])
        // Latency grows with ef; recall 1 − 4/ef: 0.5, 0.75, 0.875, 0.9375, 0.96875.
        let fake = FakeCost(recall: { 1 - 4 / Double($0["hnsw.efSearch"]!) }) { Double($0["hnsw.efSearch"]!) * 10 }
        let req = TuningRequirement(minimumRecall: 0.9)
        let r = try Autotuner(space: s).tune(strategy: .measure(rounds: 8), requirement: req) { c throws(KestrelError) in fake.sample(c) }
        #expect(r.chosen["hnsw.efSearch"] == 64 && r.requirementMet && r.replacedDefault)
        // Every point is on the front (faster ⇔ lower recall), fastest first.
        #expect(r.front.points.map { $0.configuration["hnsw.efSearch"]! } == [8, 16, 32, 64, 128])
        #expect(r.front.fastest(meeting: TuningRequirement(minimumRecall: 0.95))?.configuration["hnsw.efSearch"] == 128)
        #expect(r.front.fastest(meeting: TuningRequirement(minimumRecall: 0.99)) == nil)

        // A default that misses the requirement is replaced by an admitted point even when slower.
        let s2 = try TuningSpace([Tunable.hnswEfSearch([8, 16, 32, 64, 128], default: 8)])
        let fake2 = FakeCost(recall: { 1 - 4 / Double($0["hnsw.efSearch"]!) }) { Double($0["hnsw.efSearch"]!) * 10 }
        let r2 = try Autotuner(space: s2).tune(strategy: .measure(rounds: 8), requirement: req) { c throws(KestrelError) in fake2.sample(c) }
        #expect(r2.chosen["hnsw.efSearch"] == 64 && r2.replacedDefault && r2.verdict?.kind == .slower)
        // Nothing admitted: keep the default and say so.
        let r3 = try Autotuner(space: s2).tune(strategy: .measure(rounds: 6), requirement: TuningRequirement(minimumRecall: 0.999)) {
            c throws(KestrelError) in fake2.sample(c)
        }
        #expect(!r3.requirementMet && !r3.replacedDefault)
    }

    @Test func paretoFrontMatchesBruteForceDomination() throws {
        var rng = SplitMix64(seed: 12)
        var evals: [TuningEvaluation] = []
        for i in 0..<60 {
            evals.append(TuningEvaluation(configuration: TuningConfiguration(["i": i]), samples: 5,
                                          medianLatencyNanoseconds: Double(Int(rng.next() % 20)),
                                          recall: Double(rng.next() % 10) / 10, memoryBytes: Double(rng.next() % 5)))
        }
        let front = ParetoFront(evals)
        for e in evals {
            let dominated = evals.contains { o in
                o.medianLatencyNanoseconds <= e.medianLatencyNanoseconds && o.recall! >= e.recall! && o.memoryBytes! <= e.memoryBytes!
                    && (o.medianLatencyNanoseconds < e.medianLatencyNanoseconds || o.recall! > e.recall! || o.memoryBytes! < e.memoryBytes!)
            }
            #expect(front.points.contains(e) == !dominated)
        }
        #expect(zip(front.points, front.points.dropFirst()).allSatisfy { $0.medianLatencyNanoseconds <= $1.medianLatencyNanoseconds })
        #expect(ParetoFront([]).points.isEmpty)
    }

    @Test func onlineBanditLearnsTheBestArmPerCluster() throws {
        let s = try TuningSpace([Tunable(name: "arm", values: [0, 1, 2], defaultValue: 0)])
        let online = try OnlineTuner(space: s, bank: PatternBankConfiguration(dimension: 2, newPatternDistance: 9), exploration: 0.1)
        // Cluster A (near the origin) is fastest with arm value 1, cluster B (near (10, 10)) with 2.
        func cost(_ ctx: Int, _ c: TuningConfiguration) -> Double {
            let best = ctx == 0 ? 1 : 2
            return c["arm"] == best ? 50 : 100
        }
        var rng = SplitMix64(seed: 6)
        var pulls = [[Int]](repeating: [0, 0, 0], count: 2)
        for step in 0..<400 {
            let ctx = step % 2
            let e: [Float] = ctx == 0 ? [rng.nextSignedUnit(), rng.nextSignedUnit()] : [10 + rng.nextSignedUnit(), 10 + rng.nextSignedUnit()]
            let choice = try online.choose(context: e)
            pulls[ctx][choice.configuration["arm"]!] += 1
            let t = cost(ctx, choice.configuration) * (1 + 0.05 * Double(rng.nextSignedUnit()))
            try online.report(choice, context: e, latencyNanoseconds: t)
        }
        #expect(online.bank.count == 2)
        #expect(pulls[0][1] > 150 && pulls[1][2] > 150)
        let ra = try online.recommendation(context: [0, 0])
        let rb = try online.recommendation(context: [10, 10])
        #expect(ra.configuration["arm"] == 1 && ra.replacedDefault && ra.verdict?.kind == .faster)
        #expect(rb.configuration["arm"] == 2 && rb.replacedDefault)
        // An unseen, far context gets the default.
        #expect(try online.choose(context: [100, -100]).arm == 0)
    }

    @Test func badInputThrowsTypedErrors() throws {
        #expect(throws: KestrelError.invalidArgument(name: "a", reason: "default 5 is not among the values")) {
            _ = try Tunable(name: "a", values: [1, 2], defaultValue: 5)
        }
        #expect(throws: KestrelError.invalidArgument(name: "a", reason: "values must be distinct")) {
            _ = try Tunable(name: "a", values: [1, 1], defaultValue: 1)
        }
        #expect(throws: KestrelError.invalidArgument(name: "a", reason: "must declare 1...4096 values, got 0")) {
            _ = try Tunable(name: "a", values: [], defaultValue: 1)
        }
        #expect(throws: KestrelError.self) { _ = try Tunable(name: "", values: [1], defaultValue: 1) }
        #expect(throws: KestrelError.self) { _ = try Tunable(name: "a", values: [1], defaultValue: 1, estimate: 2) }
        let t = try Tunable(name: "a", values: [1], defaultValue: 1)
        #expect(throws: KestrelError.invalidArgument(name: "tunables", reason: "names must be distinct")) { _ = try TuningSpace([t, t]) }
        #expect(throws: KestrelError.self) { _ = try TuningSpace([]) }
        let big = try TuningSpace((0..<4).map { i throws(KestrelError) in try Tunable(name: "t\(i)", values: Array(0..<100), defaultValue: 0) })
        #expect(throws: KestrelError.capacityExceeded(limit: 65_536, requested: 100_000_000)) { _ = try big.allConfigurations() }

        let s = try Self.space()
        let tuner = Autotuner(space: s)
        #expect(throws: KestrelError.invalidArgument(name: "rounds", reason: "must be ≥ 6, got 5")) {
            _ = try tuner.tune(strategy: .measure(rounds: 5)) { _ throws(KestrelError) in TuningSample(latencyNanoseconds: 1) }
        }
        #expect(throws: KestrelError.invalidArgument(name: "budget", reason: "must be ≥ 16, got 10")) {
            _ = try tuner.tune(strategy: .patient(budget: 10)) { _ throws(KestrelError) in TuningSample(latencyNanoseconds: 1) }
        }
        #expect(throws: KestrelError.invalidArgument(name: "latencyNanoseconds", reason: "must be finite and ≥ 0, got nan")) {
            _ = try tuner.tune(strategy: .measure()) { _ throws(KestrelError) in TuningSample(latencyNanoseconds: .nan) }
        }
        // The workload's own error comes through unchanged.
        #expect(throws: KestrelError.unsupported("boom")) {
            _ = try tuner.tune(strategy: .measure()) { _ throws(KestrelError) in throw .unsupported("boom") }
        }

        let online = try OnlineTuner(space: s, bank: PatternBankConfiguration(dimension: 2, newPatternDistance: 1))
        let c = try online.choose(context: [0, 0])
        #expect(throws: KestrelError.invalidArgument(name: "latencyNanoseconds", reason: "must be finite and > 0, got 0.0")) {
            try online.report(c, context: [0, 0], latencyNanoseconds: 0)
        }
        var bad = c
        bad.arm = 99
        #expect(throws: KestrelError.invalidArgument(name: "arm", reason: "must be in 0..<6, got 99")) {
            try online.report(bad, context: [0, 0], latencyNanoseconds: 1)
        }
        #expect(throws: KestrelError.dimensionMismatch(expected: [2], actual: [3])) { _ = try online.choose(context: [0, 0, 0]) }
        #expect(online.bank.count == 0)
        #expect(throws: KestrelError.self) {
            _ = try OnlineTuner(space: s, candidates: [TuningConfiguration(["a": 7, "b": 10])],
                                bank: PatternBankConfiguration(dimension: 2, newPatternDistance: 1))
        }
    }

    @Test func presetsExposeThePackagesKnobs() throws {
        let isa = try Tunable.isaLevel()
        let space = try TuningSpace([isa, Tunable.vectorStorage(), Tunable.threads(maximum: 2), Tunable.prefetchScanBytes(),
                                     Tunable.attentionQueryBlock(), Tunable.attentionKeyBlock(), Tunable.batchSize()])
        let d = space.defaultConfiguration
        #expect(d.isaLevel == ISALevel.best)
        #expect(d.vectorStorage == .f32)
        #expect(isa.values.count == ISALevel.supported.count)
        #expect(try Tunable.threads(maximum: 2).estimate == 2)
    }
}
