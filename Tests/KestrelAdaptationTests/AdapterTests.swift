import Foundation
import KestrelKernels
import KestrelTensor
import Testing
import _KestrelTestSupport
@testable import KestrelAdaptation

@Suite struct AdapterTests {
    func vec(_ rng: inout SplitMix64, _ n: Int, _ amp: Double = 1) -> [Float] { randomDoubles(&rng, n, amp).map { Float($0) } }

    @Test func newAdapterIsTheIdentity() throws {
        var rng = SplitMix64(seed: 1)
        for d in [1, 7, 768] {
            let a = try MicroLoRA(dimension: d, rank: 2, seed: 3)
            let x = vec(&rng, d)
            #expect(try a.apply(x) == x)
            let p = a.parameters
            #expect(p.count == 2 * 2 * d)
            #expect(p[(2 * d)...].allSatisfy { $0 == 0 }) // B = 0
            // A ~ N(0, 1/d): sample variance near 1/d for a large d.
            if d == 768 {
                let aVals = p[0..<(2 * d)].map(Double.init)
                let varA = aVals.reduce(0) { $0 + $1 * $1 } / Double(aVals.count)
                #expect(abs(varA * Double(d) - 1) < 0.15, "variance·d = \(varA * Double(d))")
            }
        }
        let lin = try MicroLoRA(inputDimension: 5, outputDimension: 3, rank: 1)
        #expect(try lin.apply([1, 2, 3, 4, 5], base: [7, 8, 9]) == [7, 8, 9])
        #expect(try lin.apply([1, 2, 3, 4, 5]) == [0, 0, 0])
    }

    @Test func badShapesAndSettingsThrowTypedErrors() {
        #expect(throws: KestrelError.invalidArgument(name: "rank", reason: "must be in 1...8, got 0")) { try MicroLoRA(dimension: 8, rank: 0) }
        #expect(throws: KestrelError.invalidArgument(name: "rank", reason: "must be in 1...8, got 9")) { try MicroLoRA(dimension: 8, rank: 9) }
        #expect(throws: KestrelError.invalidArgument(name: "rank", reason: "must be in 1...4, got 5")) { try LoRA(dimension: 4, rank: 5) }
        #expect(throws: KestrelError.invalidArgument(name: "inputDimension", reason: "must be >= 1, got 0")) { try LoRA(dimension: 0, rank: 1) }
        #expect(throws: KestrelError.self) { try MicroLoRA(dimension: 4, training: AdapterTraining(learningRate: -1)) }
        #expect(throws: KestrelError.self) { try MicroLoRA(dimension: 4, ewc: EWCConfiguration(lambda: 1, fisherDecay: 2)) }
    }

    @Test func badInputIsRejectedAndLeavesTheAdapterUnchanged() throws {
        let a = try MicroLoRA(dimension: 6, rank: 2, seed: 1, training: AdapterTraining(learningRate: 0.1, optimizer: .adamDefault))
        _ = try a.step(.squared(input: [1, 2, 3, 4, 5, 6], target: [0, 0, 0, 0, 0, 1]))
        let before = a.parameters, steps = a.stepCount
        let x: [Float] = [1, 0, 0, 0, 0, 0]
        #expect(throws: KestrelError.dimensionMismatch(expected: [6], actual: [5])) { try a.step(.squared(input: [1, 2, 3, 4, 5], target: x)) }
        #expect(throws: KestrelError.dimensionMismatch(expected: [6], actual: [7])) { try a.step(.squared(input: x, target: x + [1])) }
        #expect(throws: KestrelError.nonFiniteValue(index: 2)) { try a.step(.squared(input: [1, 0, .nan, 0, 0, 0], target: x)) }
        #expect(throws: KestrelError.nonFiniteValue(index: 4)) { try a.step(.squared(input: x, target: [0, 0, 0, 0, .infinity, 0])) }
        #expect(throws: KestrelError.nonFiniteValue(index: 1)) { try a.step(.binary(query: x, result: [0, -.infinity, 0, 0, 0, 0], label: 1)) }
        #expect(throws: KestrelError.nonFiniteValue(index: 7)) {
            try a.step(.contrastive(query: x, positive: x, negatives: x + [0, .nan, 0, 0, 0, 0], temperature: 0.1))
        }
        #expect(throws: KestrelError.invalidArgument(name: "label", reason: "must be +1 or -1, got 0.5")) { try a.step(.binary(query: x, result: x, label: 0.5)) }
        #expect(throws: KestrelError.self) { try a.step(.contrastive(query: x, positive: x, negatives: [], temperature: 0)) }
        #expect(throws: KestrelError.capacityExceeded(limit: 64, requested: 65)) {
            try a.step(.contrastive(query: x, positive: x, negatives: [Float](repeating: 0, count: 65 * 6), temperature: 1))
        }
        #expect(throws: KestrelError.nonFiniteValue(index: 0)) { try a.accumulate(.squared(input: [.nan, 0, 0, 0, 0, 0], target: x)) }
        #expect(try a.commit() == nil) // the rejected sample was not added
        #expect(a.parameters == before)
        #expect(a.stepCount == steps)
        var y = [Float](repeating: 0, count: 5)
        #expect(throws: KestrelError.dimensionMismatch(expected: [6], actual: [5])) {
            try x.withUnsafeBufferPointer { (xp) throws(KestrelError) in
                try y.withUnsafeMutableBufferPointer { (yp) throws(KestrelError) in try a.apply(xp, base: nil, into: yp) }
            }
        }
    }

    @Test func zeroLearningRateChangesNothingAndSeedsReproduce() throws {
        var rng = SplitMix64(seed: 5)
        let samples = (0..<20).map { _ in (vec(&rng, 16), vec(&rng, 16)) }
        for opt in [AdapterOptimizer.sgd, .momentum(0.9), .adamDefault] {
            let frozen = try MicroLoRA(dimension: 16, rank: 2, seed: 9, training: AdapterTraining(learningRate: 0, optimizer: opt),
                                       ewc: EWCConfiguration(lambda: 1))
            let start = frozen.parameters
            for (i, (x, t)) in samples.enumerated() {
                _ = try frozen.step(.squared(input: x, target: t))
                if i == 10 { frozen.consolidate() }
            }
            #expect(frozen.parameters == start)
            let a = try MicroLoRA(dimension: 16, rank: 2, seed: 9, training: AdapterTraining(learningRate: 0.05, optimizer: opt))
            let b = try MicroLoRA(dimension: 16, rank: 2, seed: 9, training: AdapterTraining(learningRate: 0.05, optimizer: opt))
            for (x, t) in samples {
                _ = try a.step(.squared(input: x, target: t))
                _ = try b.step(.squared(input: x, target: t))
            }
            #expect(a.parameters.map(\.bitPattern) == b.parameters.map(\.bitPattern))
            #expect(a.parameters != start)
        }
    }

    /// SGD with B = 0 moves only B on the first step; a commit of k samples equals one step on their
    /// mean gradient (checked against the Double reference).
    @Test func miniBatchCommitIsTheMeanGradientStep() throws {
        var rng = SplitMix64(seed: 6)
        let d = 9, lr = 0.1
        let a = try MicroLoRA(dimension: d, rank: 2, seed: 4, training: AdapterTraining(learningRate: Float(lr)))
        let theta0 = a.parameters.map(Double.init)
        let ref = AdapterReference(dIn: d, dOut: d, rank: 2, scale: 1, residual: true)
        var mean = [Double](repeating: 0, count: theta0.count)
        var losses = 0.0
        for _ in 0..<3 {
            let x = vec(&rng, d), t = vec(&rng, d)
            let loss = try a.accumulate(.squared(input: x, target: t))
            let (l, g) = ref.lossAndGradient(theta0, x.map(Double.init), base: nil, .squared(target: t.map(Double.init)))
            #expect(abs(loss - l) < 1e-5 * max(1, l))
            losses += l
            for i in mean.indices { mean[i] += g[i] / 3 }
        }
        #expect(a.parameters.map(Double.init) == theta0) // nothing published before commit
        let r = try #require(try a.commit())
        #expect(abs(r.loss - losses / 3) < 1e-5 * max(1, losses))
        #expect(abs(r.gradNorm - mean.reduce(0) { $0 + $1 * $1 }.squareRoot()) < 1e-4 * r.gradNorm)
        #expect(!r.clipped)
        let got = a.parameters.map(Double.init)
        for i in got.indices { #expect(abs(got[i] - (theta0[i] - lr * mean[i])) < 1e-6) }
        #expect(try a.commit() == nil)
        #expect(a.stepCount == 1)
    }

    @Test func clippingReportsAndBoundsTheStep() throws {
        let a = try MicroLoRA(dimension: 4, rank: 1, seed: 2, training: AdapterTraining(learningRate: 1, clipNorm: 1e-3))
        let r = try a.step(.squared(input: [1, 2, 3, 4], target: [10, -10, 10, -10]))
        #expect(r.clipped)
        #expect(r.gradNorm > 1e-3)
        let p = a.parameters
        let moved = p.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        let p0 = try MicroLoRA(dimension: 4, rank: 1, seed: 2).parameters.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        #expect(abs(moved - p0) <= 1.01e-3) // |Δθ| = lr · clip
    }

    /// Training lowers each loss on a fixed planted problem.
    @Test(arguments: ["squared", "binary", "contrastive"])
    func trainingLowersTheLoss(loss: String) throws {
        var rng = SplitMix64(seed: 8)
        let d = 32
        let a = try MicroLoRA(dimension: d, rank: 2, seed: 1, training: AdapterTraining(learningRate: 0.05, optimizer: .adamDefault))
        let x = vec(&rng, d), t = vec(&rng, d), negs = vec(&rng, 4 * d)
        let fb: AdapterFeedback
        switch loss {
        case "squared": fb = .squared(input: x, target: t)
        case "binary": fb = .binary(query: x, result: t, label: -1)
        default: fb = .contrastive(query: x, positive: t, negatives: negs, temperature: 0.5)
        }
        let first = try a.step(fb).loss
        var last = first
        for _ in 0..<200 { last = try a.step(fb).loss }
        #expect(last < 0.5 * first, "\(loss): \(first) -> \(last)")
    }

    /// EWC++: after consolidating on task A, a strong λ keeps task A's loss lower while training on B.
    /// Each task is 16 random (input, target) pairs a rank-1 adapter cannot fit exactly, so the
    /// per-sample gradients (and the empirical Fisher) stay non-zero at the end of task A.
    @Test func ewcProtectsTheConsolidatedTask() throws {
        var rng = SplitMix64(seed: 10)
        let d = 12
        let taskA = (0..<16).map { _ in (vec(&rng, d), vec(&rng, d)) }, taskB = (0..<16).map { _ in (vec(&rng, d), vec(&rng, d)) }
        func lossA(_ a: MicroLoRA) throws -> Double {
            try taskA.reduce(0.0) { s, p in
                let y = try a.apply(p.0)
                return s + zip(y, p.1).reduce(0.0) { $0 + 0.5 * Double($1.0 - $1.1) * Double($1.0 - $1.1) }
            }
        }
        func run(lambda: Float) throws -> (afterA: Double, afterB: Double) {
            let a = try MicroLoRA(dimension: d, rank: 1, seed: 3, training: AdapterTraining(learningRate: 0.02),
                                  ewc: EWCConfiguration(lambda: lambda, fisherDecay: 0.99))
            for _ in 0..<40 { for (x, t) in taskA { _ = try a.step(.squared(input: x, target: t)) } }
            a.consolidate()
            let afterA = try lossA(a)
            for _ in 0..<40 { for (x, t) in taskB { _ = try a.step(.squared(input: x, target: t)) } }
            return (afterA, try lossA(a))
        }
        let free = try run(lambda: 0), held = try run(lambda: 3)
        #expect(free.afterA == held.afterA) // identical until the boundary
        #expect(held.afterB - held.afterA < free.afterB - free.afterA,
                "task-A loss increase with EWC \(held.afterB - held.afterA) vs without \(free.afterB - free.afterA)")
    }

    @Test func saveLoadRoundTripsAndDamagedFilesThrowWithoutChangingState() throws {
        let dir = TempDir()
        var rng = SplitMix64(seed: 11)
        let a = try MicroLoRA(dimension: 10, rank: 2, seed: 1, training: AdapterTraining(learningRate: 0.05, optimizer: .adamDefault),
                              ewc: EWCConfiguration(lambda: 0.5))
        for i in 0..<5 {
            _ = try a.step(.squared(input: vec(&rng, 10), target: vec(&rng, 10)))
            if i == 2 { a.consolidate() }
        }
        let url = dir.file("a.klora")
        try a.save(to: url)
        let b = try MicroLoRA(dimension: 10, rank: 2, seed: 99)
        try b.load(from: url)
        #expect(b.parameters == a.parameters)
        #expect(b.stepCount == 5)
        // The loaded state (moments, Fisher, anchor, settings) continues identically.
        let x = vec(&rng, 10), t = vec(&rng, 10)
        _ = try a.step(.squared(input: x, target: t))
        _ = try b.step(.squared(input: x, target: t))
        #expect(a.parameters.map(\.bitPattern) == b.parameters.map(\.bitPattern))

        try a.save(to: url)
        let good = try Data(contentsOf: url)
        let c = try MicroLoRA(dimension: 10, rank: 2, seed: 5)
        let before = c.parameters
        var flipped = good
        flipped[200] ^= 0x10
        try flipped.write(to: url)
        #expect(throws: KestrelError.self) { try c.load(from: url) }
        try good.prefix(good.count - 9).write(to: url)
        #expect(throws: KestrelError.self) { try c.load(from: url) }
        try Data(good.prefix(50)).write(to: url)
        #expect(throws: KestrelError.self) { try c.load(from: url) }
        var badVersion = good
        badVersion[8] = 9
        try badVersion.write(to: url)
        #expect(throws: KestrelError.unsupportedVersion(found: 9, supported: 1...1)) { try c.load(from: url) }
        try good.write(to: url)
        let other = try MicroLoRA(dimension: 11, rank: 2)
        #expect(throws: KestrelError.dimensionMismatch(expected: [11, 11, 2, 0], actual: [10, 10, 2, 0])) { try other.load(from: url) }
        #expect(throws: KestrelError.self) { try c.load(from: dir.file("missing")) }
        #expect(c.parameters == before)
        #expect(c.stepCount == 0)
    }

    @Test func loraOfHighRankTrainsALinearLayer() throws {
        var rng = SplitMix64(seed: 12)
        let a = try LoRA(inputDimension: 20, outputDimension: 6, rank: 6, seed: 2,
                         training: AdapterTraining(learningRate: 0.02, optimizer: .adamDefault))
        #expect(a.parameterCount == 6 * 26)
        let x = vec(&rng, 20), base = vec(&rng, 6), t = vec(&rng, 6)
        let first = try a.step(.squared(input: x, target: t), base: base).loss
        var last = first
        for _ in 0..<300 { last = try a.step(.squared(input: x, target: t), base: base).loss }
        #expect(last < 0.05 * first)
        #expect(throws: KestrelError.self) { try MicroLoRA(dimension: 4).step(.squared(input: [1, 2, 3, 4], target: [1, 2, 3, 4]), base: [0, 0, 0, 0]) }
    }
}

/// The README's KestrelAdaptation sample, with its printed claims as expectations.
@Suite struct AdapterReadmeSampleTests {
    @Test func readmeSampleHolds() throws {
        let adapter = try MicroLoRA(dimension: 8, rank: 2, seed: 1,
                                    training: AdapterTraining(learningRate: 0.05, optimizer: .adamDefault, clipNorm: 5),
                                    ewc: EWCConfiguration(lambda: 10))
        let query: [Float] = [1, 0, 0, 0, 0, 0, 0, 0]
        let relevant: [Float] = [0, 1, 0, 0, 0, 0, 0, 0], other: [Float] = [0, 0, 1, 0, 0, 0, 0, 0]
        #expect(try adapter.apply(query) == query)
        var last = AdapterStepResult(loss: 0, gradNorm: 0, clipped: false)
        for _ in 0..<200 {
            last = try adapter.step(.contrastive(query: query, positive: relevant, negatives: other, temperature: 0.1))
        }
        let y = try adapter.apply(query)
        #expect(y[1] > y[2])
        #expect(last.loss < 0.01)
        adapter.consolidate()
        #expect(throws: KestrelError.nonFiniteValue(index: 0)) {
            try adapter.step(.squared(input: [.nan, 0, 0, 0, 0, 0, 0, 0], target: query))
        }
        let dir = TempDir()
        try adapter.save(to: dir.file("a.klora"))
        let copy = try MicroLoRA(dimension: 8, rank: 2, seed: 99)
        try copy.load(from: dir.file("a.klora"))
        #expect(copy.parameters == adapter.parameters)
    }

    /// The README's PatternBank / Autotuner sample, with its printed values as expectations.
    @Test func patternBankAndAutotunerSampleHolds() throws {
        let bank = try PatternBank(PatternBankConfiguration(dimension: 2, maxPatterns: 8, newPatternDistance: 0.5))
        for (x, y, ef, reward) in [(0.0, 0.0, 16, 0.7), (0.1, 0.0, 32, 0.9), (5.0, 5.0, 64, 0.4), (5.1, 4.9, 128, 0.8)] {
            _ = try bank.observe([Float(x), Float(y)], settings: [ef], reward: reward)
        }
        let near = try bank.nearest([0.05, 0.02], k: 1)[0].pattern
        #expect(bank.allPatterns.count == 2 && near.count == 2 && near.bestSettings == [32])
        let tuner = Autotuner(space: try TuningSpace([Tunable.hnswEfSearch([16, 32, 64, 128], default: 128)]))
        var calls = 0
        let result = try tuner.tune(strategy: .measure(rounds: 8), requirement: TuningRequirement(minimumRecall: 0.95)) { c in
            calls += 1
            let ef = Double(c["hnsw.efSearch"]!)
            return TuningSample(latencyNanoseconds: 1_000 * ef * (1 + 0.01 * Double(calls % 3)), recall: 1 - exp(-ef / 12))
        }
        #expect(result.chosen.description == "hnsw.efSearch=64" && result.replacedDefault)
        #expect(result.verdict?.kind.rawValue == "faster")
    }
}

