import Foundation
import Kestrel

/// The learning experiments of `kestrel adapt-bench --task` (issue 19): each claim about adapters
/// is measured against a control that could show the opposite, over several seeds, reported as
/// mean ± 95 % confidence half-width (Student t over the seeds).
///
/// - regression: a planted residual low-rank map y = x + U·Vᵀx plus noise of variance σ² per
///   coordinate; held-out mean squared error per coordinate before/after squared-loss training of
///   a rank-2 MicroLoRA, against the noise floor σ², and the same training on shuffled targets.
/// - query-drift: queries are (I + c·U·Vᵀ)·doc plus noise, normalised; exact inner-product search
///   (FlatIndex) over the documents; held-out recall@10 (the source document in the top 10) before
///   and after InfoNCE feedback (positive = the source, negatives = the current top-8 hard
///   negatives), and the same with random labels (a random positive and random negatives).
/// - forgetting: tasks A and B are two planted maps; a rank-4 adapter trains on A, consolidates,
///   trains on B; task-A error after B, backward transfer (A's error after B minus after A) and task-B
///   error for EWC++ λ in {0, 1, 10, 100, 1000} and for replay of a buffer holding as many floats as
///   EWC++'s extra state (F* and θ*), one replayed A sample after each B step.
struct AdaptExperiments {
    enum Task: String, CaseIterable { case regression, queryDrift = "query-drift", forgetting }

    var seeds: Int
    var dim = 64

    /// Mean and 95 % half-width (t quantile with seeds − 1 degrees of freedom).
    static func summary(_ v: [Double]) -> (mean: Double, ci95: Double) {
        let n = Double(v.count), mean = v.reduce(0, +) / n
        guard v.count > 1 else { return (mean, .nan) }
        let sd = (v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)).squareRoot()
        let t: [Double] = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
                           2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086]
        let q = v.count - 1 <= t.count ? t[v.count - 2] : 1.96
        return (mean, q * sd / n.squareRoot())
    }

    static func fields(_ name: String, _ v: [Double]) -> [(String, Any)] {
        let s = summary(v)
        return [("\(name)_mean", s.mean), ("\(name)_ci95", s.ci95)]
    }

    /// Gaussian-free planted factors: entries uniform with variance 1/d.
    static func factor(_ rng: inout SplitMix64, _ rows: Int, _ cols: Int) -> [Float] {
        let a = Float(3.0 / Double(rows)).squareRoot()
        return (0..<(rows * cols)).map { _ in rng.nextSignedUnit() * a }
    }

    /// x + c·U·(Vᵀx) for U, V of d × r (row-major).
    static func planted(_ x: [Float], _ u: [Float], _ v: [Float], rank: Int, c: Float) -> [Float] {
        let d = x.count
        var h = [Float](repeating: 0, count: rank)
        for k in 0..<rank { for i in 0..<d { h[k] += v[i * rank + k] * x[i] } }
        var y = x
        for i in 0..<d { for k in 0..<rank { y[i] += c * u[i * rank + k] * h[k] } }
        return y
    }

    func vector(_ rng: inout SplitMix64, _ scale: Float = 1) -> [Float] { (0..<dim).map { _ in rng.nextSignedUnit() * scale } }

    static func mse(_ a: any Adapter, _ xs: [[Float]], _ ts: [[Float]]) throws -> Double {
        var s = 0.0
        for (x, t) in zip(xs, ts) {
            let y = try a.apply(x)
            for j in y.indices { s += Double(y[j] - t[j]) * Double(y[j] - t[j]) }
        }
        return s / Double(xs.count * (xs.first?.count ?? 1))
    }

    func run(_ task: Task) throws -> [(String, Any)] {
        switch task {
        case .regression: return try regression()
        case .queryDrift: return try queryDrift()
        case .forgetting: return try forgetting()
        }
    }

    // MARK: planted regression

    func regression() throws -> [(String, Any)] {
        let sigma: Float = 0.1, nTrain = 2000, nTest = 500, rank = 2
        var before = [Double](), after = [Double](), control = [Double](), controlBefore = [Double]()
        for seed in 0..<seeds {
            var rng = SplitMix64(seed: 1000 + UInt64(seed))
            let u = Self.factor(&rng, dim, rank), v = Self.factor(&rng, dim, rank)
            let noise = sigma * Float(3).squareRoot()
            func sample() -> ([Float], [Float]) {
                let x = vector(&rng)
                return (x, zip(Self.planted(x, u, v, rank: rank, c: 1), (0..<dim).map { _ in rng.nextSignedUnit() * noise }).map(+))
            }
            let train = (0..<nTrain).map { _ in sample() }, test = (0..<nTest).map { _ in sample() }
            var shuffled = train.map(\.1)
            shuffled.shuffle(using: &rng)
            for (targets, isControl) in [(train.map(\.1), false), (shuffled, true)] {
                let a = try MicroLoRA(dimension: dim, rank: rank, seed: UInt64(seed),
                                      training: AdapterTraining(learningRate: 3e-3, optimizer: .adamDefault))
                let b = try Self.mse(a, test.map(\.0), test.map(\.1))
                for _ in 0..<3 { for (i, x) in train.map(\.0).enumerated() { _ = try a.step(.squared(input: x, target: targets[i])) } }
                let m = try Self.mse(a, test.map(\.0), test.map(\.1))
                if isControl { controlBefore.append(b); control.append(m) } else { before.append(b); after.append(m) }
            }
        }
        return [("task", "regression"), ("seeds", seeds), ("dim", dim), ("rank", rank), ("noise_floor", Double(sigma * sigma))]
            + Self.fields("before_mse", before) + Self.fields("after_mse", after)
            + Self.fields("control_before_mse", controlBefore) + Self.fields("control_after_mse", control)
    }

    // MARK: query drift

    func queryDrift() throws -> [(String, Any)] {
        let nDocs = 2000, nTrain = 3000, nTest = 500, rank = 2, negatives = 8
        var before = [Double](), after = [Double](), control = [Double]()
        for seed in 0..<seeds {
            var rng = SplitMix64(seed: 2000 + UInt64(seed))
            func unit(_ v: [Float]) -> [Float] {
                let n = v.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
                return v.map { $0 / n }
            }
            let docs = (0..<nDocs).map { _ in unit(vector(&rng)) }
            let index = try FlatIndex(dimension: dim, metric: .innerProduct)
            let flat = docs.flatMap { $0 }
            try flat.withUnsafeBufferPointer { (p) throws(KestrelError) in
                try index.add(keys: (0..<nDocs).map(UInt64.init), vectors: p, threads: 1)
            }
            let u = Self.factor(&rng, dim, rank), v = Self.factor(&rng, dim, rank)
            func query(_ i: Int) -> [Float] {
                let q = Self.planted(docs[i], u, v, rank: rank, c: 40)
                return unit(zip(q, (0..<dim).map { _ in rng.nextSignedUnit() * 0.05 }).map(+))
            }
            let trainSources = (0..<nTrain).map { _ in Int(rng.next() % UInt64(nDocs)) }
            let train = trainSources.map(query)
            let testSources = (0..<nTest).map { _ in Int(rng.next() % UInt64(nDocs)) }
            let test = testSources.map(query)
            func recall(_ a: (any Adapter)?) throws -> Double {
                let adapted = try test.map { q throws -> [Float] in try a?.apply(q) ?? q }.flatMap { $0 }
                let res = try adapted.withUnsafeBufferPointer { (p) throws(KestrelError) in
                    try index.search(batch: p, k: 10, threads: 1, filter: nil)
                }
                return Double(zip(res, testSources).filter { r, s in r.contains { $0.key == UInt64(s) } }.count) / Double(nTest)
            }
            before.append(try recall(nil))
            for isControl in [false, true] {
                let a = try MicroLoRA(dimension: dim, rank: rank, seed: UInt64(seed),
                                      training: AdapterTraining(learningRate: 3e-3, optimizer: .adamDefault), maxNegatives: negatives)
                for (q, s) in zip(train, trainSources) {
                    let positive = isControl ? Int(rng.next() % UInt64(nDocs)) : s
                    let y = try a.apply(q)
                    let top = try y.withUnsafeBufferPointer { (p) throws(KestrelError) in try index.search(p, k: negatives + 1, filter: nil) }
                    // Control: every label random (positive and negatives), so no ranking signal reaches it.
                    let ids = isControl ? (0..<negatives).map { _ in Int(rng.next() % UInt64(nDocs)) }
                                        : Array(top.map { Int($0.key) }.filter { $0 != positive }.prefix(negatives))
                    let negs = ids.flatMap { docs[$0] }
                    _ = try a.step(.contrastive(query: q, positive: docs[positive], negatives: negs, temperature: 0.05))
                }
                if isControl { control.append(try recall(a)) } else { after.append(try recall(a)) }
            }
        }
        let gain = zip(after, before).map { 100 * ($0 - $1) }, controlGain = zip(control, before).map { 100 * ($0 - $1) }
        return [("task", "query-drift"), ("seeds", seeds), ("dim", dim), ("docs", nDocs), ("train", nTrain), ("test", nTest)]
            + Self.fields("recall10_before", before) + Self.fields("recall10_after", after)
            + Self.fields("control_recall10_after", control) + Self.fields("gain_points", gain)
            + Self.fields("control_gain_points", controlGain)
    }

    // MARK: forgetting

    func forgetting() throws -> [(String, Any)] {
        let rank = 4, nTrain = 1500, nTest = 300, lambdas: [Float] = [0, 1, 10, 100, 1000]
        let n = rank * 2 * dim
        let replayCount = 2 * n / (2 * dim) // F* and θ* hold 2n floats; a sample (x, target) holds 2d
        var out: [(String, Any)] = [("task", "forgetting"), ("seeds", seeds), ("dim", dim), ("rank", rank),
                                    ("replay_samples", replayCount)]
        var results: [String: [Double]] = [:]
        for seed in 0..<seeds {
            var rng = SplitMix64(seed: 3000 + UInt64(seed))
            let ua = Self.factor(&rng, dim, 2), va = Self.factor(&rng, dim, 2)
            let ub = Self.factor(&rng, dim, 2), vb = Self.factor(&rng, dim, 2)
            func data(_ u: [Float], _ v: [Float], _ count: Int) -> [([Float], [Float])] {
                (0..<count).map { _ in
                    let x = vector(&rng)
                    let noise = (0..<dim).map { _ in rng.nextSignedUnit() * 0.1 * Float(3).squareRoot() }
                    return (x, zip(Self.planted(x, u, v, rank: 2, c: 1), noise).map(+))
                }
            }
            let trainA = data(ua, va, nTrain), testA = data(ua, va, nTest)
            let trainB = data(ub, vb, nTrain), testB = data(ub, vb, nTest)
            let replay = Array(trainA.prefix(replayCount))
            let configs: [(String, Float?, Bool)] = lambdas.map { ("lambda_\(Int($0))", $0, false) } + [("replay", nil, true)]
            for (name, lambda, useReplay) in configs {
                let a = try MicroLoRA(dimension: dim, rank: rank, seed: UInt64(seed),
                                      training: AdapterTraining(learningRate: 3e-3, optimizer: .adamDefault),
                                      ewc: lambda.map { EWCConfiguration(lambda: $0, fisherDecay: 0.99) })
                for (x, t) in trainA { _ = try a.step(.squared(input: x, target: t)) }
                let aAfterA = try Self.mse(a, testA.map(\.0), testA.map(\.1))
                a.consolidate()
                for (i, (x, t)) in trainB.enumerated() {
                    _ = try a.step(.squared(input: x, target: t))
                    if useReplay {
                        let r = replay[i % replay.count]
                        _ = try a.step(.squared(input: r.0, target: r.1))
                    }
                }
                let aAfterB = try Self.mse(a, testA.map(\.0), testA.map(\.1))
                let bAfterB = try Self.mse(a, testB.map(\.0), testB.map(\.1))
                results["\(name)_a_after_a", default: []].append(aAfterA)
                results["\(name)_a_after_b", default: []].append(aAfterB)
                results["\(name)_bwt", default: []].append(aAfterB - aAfterA)
                results["\(name)_b_after_b", default: []].append(bAfterB)
            }
        }
        for name in lambdas.map({ "lambda_\(Int($0))" }) + ["replay"] {
            for m in ["a_after_a", "a_after_b", "bwt", "b_after_b"] { out += Self.fields("\(name)_\(m)", results["\(name)_\(m)"]!) }
        }
        return out
    }
}
