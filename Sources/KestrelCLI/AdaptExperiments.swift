import Foundation
import Kestrel

/// The learning experiments of `kestrel adapt-bench --task` (issue 19): each claim about adapters
/// is measured against a control that could show the opposite, over several seeds, reported as
/// mean ± 95 % confidence half-width (Student t over the seeds).
///
/// - regression: a planted residual low-rank map y = x + U·Vᵀx plus noise of variance σ² per
///   coordinate; held-out mean squared error per coordinate before/after squared-loss training of
///   a rank-2 MicroLoRA, against the noise floor σ², and the same training on shuffled targets.
/// - query-drift: queries are their documents with a planted norm-preserving drift (a reflection
///   in a plane of the documents' span) plus noise, normalised; exact inner-product search
///   (FlatIndex) over the documents; held-out recall@10 (the source document in the top 10, held-out
///   sources disjoint from training ones) before and after InfoNCE feedback (positive = the source,
///   negatives = the current top-8 hard negatives), and the same with labels that carry nothing about
///   the query (permuted positives, random negatives).
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

    /// Sizes of the regression experiment (the command's defaults; tests use smaller ones).
    var regressionSizes = (train: 2000, test: 500, epochs: 3)

    /// Per-seed held-out MSE of the regression experiment: planted targets and the shuffled-target control.
    ///
    /// The control is a genuine null: shuffling the targets among the training inputs keeps both
    /// marginals and destroys their dependence, so the cross-covariance the adapter would have to fit
    /// (E[t·xᵀ] = I + U·Vᵀ for the real targets) is 0 up to O(1/√n). The best a squared loss can then
    /// do is predict the targets' mean (0), i.e. shrink y — which can only raise the held-out error.
    func regressionRuns() throws -> (before: [Double], after: [Double], controlBefore: [Double], controlAfter: [Double]) {
        let sigma: Float = 0.1, rank = 2
        let (nTrain, nTest, epochs) = regressionSizes
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
                for _ in 0..<epochs { for (i, x) in train.map(\.0).enumerated() { _ = try a.step(.squared(input: x, target: targets[i])) } }
                let m = try Self.mse(a, test.map(\.0), test.map(\.1))
                if isControl { controlBefore.append(b); control.append(m) } else { before.append(b); after.append(m) }
            }
        }
        return (before, after, controlBefore, control)
    }

    func regression() throws -> [(String, Any)] {
        let r = try regressionRuns()
        return [("task", "regression"), ("seeds", seeds), ("dim", dim), ("rank", 2), ("noise_floor", 0.01)]
            + Self.fields("before_mse", r.before) + Self.fields("after_mse", r.after)
            + Self.fields("control_before_mse", r.controlBefore) + Self.fields("control_after_mse", r.controlAfter)
    }

    // MARK: query drift

    /// How a query departs from its document.
    enum Drift: String, CaseIterable {
        /// Norm-preserving: the documents' component in a plane P of their span is reflected
        /// (q = (I − 2·P·Pᵀ)·doc). The documents' distribution is symmetric under it, so queries and
        /// documents have the same distribution and only the pairing reveals the drift.
        case reflection
        /// The first design: q = (I + 40·U·Vᵀ)·doc. It inflates a rank-2 direction, so the query
        /// distribution itself shows the drift and label-free learning undoes it (kept to show that
        /// the control check catches such a design).
        case inflation
    }

    /// Sizes of the query-drift experiment (the command's defaults; tests use smaller ones).
    /// Training queries come from the first `docs − heldOutDocs` documents, held-out queries from the rest.
    var queryDriftSizes = (docs: 2000, heldOutDocs: 500, train: 3000, test: 500)
    var drift = Drift.reflection

    /// A standard normal deviate (Box–Muller over SplitMix64; the cosine branch only).
    static func gaussian(_ rng: inout SplitMix64) -> Double {
        let u1 = (Double(rng.next() >> 11) + 1) * 0x1p-53, u2 = Double(rng.next() >> 11) * 0x1p-53
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    /// `cols` orthonormal vectors of length `rows` (Gram–Schmidt, twice, on Gaussian vectors; float64).
    static func orthonormal(_ rng: inout SplitMix64, _ rows: Int, _ cols: Int) -> [[Double]] {
        var basis = [[Double]]()
        for _ in 0..<cols {
            var v = (0..<rows).map { _ in gaussian(&rng) }
            for _ in 0..<2 {
                for b in basis {
                    let dot = zip(v, b).reduce(0) { $0 + $1.0 * $1.1 }
                    for i in v.indices { v[i] -= dot * b[i] }
                }
            }
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            basis.append(v.map { $0 / n })
        }
        return basis
    }

    /// Per-seed held-out recall@10: before any feedback, after real feedback, after the control's.
    ///
    /// Documents: z ∈ R⁸ standard normal in a random 8-dimensional subspace S, plus isotropic ambient
    /// noise (0.3 of the signal's norm), normalised. Query: the drifted document plus isotropic
    /// noise (norm ≈ 0.5), normalised. Real feedback: InfoNCE with the source as positive and the
    /// adapted query's current top-8 other documents as negatives. Control: the same number of
    /// steps, optimizer and seed, labels carrying nothing about the query — the positive is the
    /// source of the next training query whose source differs (a permutation of the stream's
    /// positives) and the negatives are uniform random documents other than that positive.
    func queryDriftRuns() throws -> (before: [Double], after: [Double], control: [Double]) {
        let (nDocs, nHeld, nTrain, nTest) = queryDriftSizes
        let rank = 2, negatives = 8, intrinsic = 8
        guard dim >= intrinsic else { throw KestrelError.invalidArgument(name: "dim", reason: "query-drift needs >= \(intrinsic), got \(dim)") }
        guard nHeld >= 1, nHeld < nDocs, nDocs > negatives + 1 else {
            throw KestrelError.invalidArgument(name: "docs", reason: "need docs > heldOutDocs >= 1 and docs > \(negatives + 1)")
        }
        var before = [Double](), after = [Double](), control = [Double]()
        for seed in 0..<seeds {
            var rng = SplitMix64(seed: 2000 + UInt64(seed))
            func unit(_ v: [Float]) -> [Float] {
                let n = v.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
                return v.map { $0 / n }
            }
            let docs: [[Float]], query: (Int) -> [Float]
            switch drift {
            case .reflection:
                let s = Self.orthonormal(&rng, dim, intrinsic)
                let ambient = 0.3 * (Double(intrinsic) / Double(dim)).squareRoot()
                docs = (0..<nDocs).map { _ in
                    var x = (0..<dim).map { _ in ambient * Self.gaussian(&rng) }
                    for b in s {
                        let z = Self.gaussian(&rng)
                        for i in 0..<dim { x[i] += z * b[i] }
                    }
                    return unit(x.map(Float.init))
                }
                let noise = 0.5 / Double(dim).squareRoot()
                query = { i in
                    var q = docs[i].map(Double.init)
                    for b in s.prefix(2) {
                        let p = zip(q, b).reduce(0) { $0 + $1.0 * $1.1 }
                        for j in 0..<dim { q[j] -= 2 * p * b[j] }
                    }
                    return unit(q.map { Float($0 + noise * Self.gaussian(&rng)) })
                }
            case .inflation:
                docs = (0..<nDocs).map { _ in unit(vector(&rng)) }
                let u = Self.factor(&rng, dim, rank), v = Self.factor(&rng, dim, rank)
                query = { i in
                    let q = Self.planted(docs[i], u, v, rank: rank, c: 40)
                    return unit(zip(q, (0..<dim).map { _ in rng.nextSignedUnit() * 0.05 }).map(+))
                }
            }
            let index = try FlatIndex(dimension: dim, metric: .innerProduct)
            let flat = docs.flatMap { $0 }
            try flat.withUnsafeBufferPointer { (p) throws(KestrelError) in
                try index.add(keys: (0..<nDocs).map(UInt64.init), vectors: p, threads: 1)
            }
            // Held-out queries ask for documents no training query came from (no leakage through sources).
            let trainSources = (0..<nTrain).map { _ in Int(rng.next() % UInt64(nDocs - nHeld)) }
            let train = trainSources.map(query)
            let testSources = (0..<nTest).map { _ in nDocs - nHeld + Int(rng.next() % UInt64(nHeld)) }
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
                for (t, (q, s)) in zip(train, trainSources).enumerated() {
                    let positive: Int, ids: [Int]
                    if isControl {
                        var j = (t + 1) % nTrain
                        while trainSources[j] == s && j != t { j = (j + 1) % nTrain }
                        positive = trainSources[j] == s ? (s + 1) % nDocs : trainSources[j]
                        var r = [Int]()
                        while r.count < negatives {
                            let c = Int(rng.next() % UInt64(nDocs))
                            if c != positive { r.append(c) }
                        }
                        ids = r
                    } else {
                        positive = s
                        let y = try a.apply(q)
                        let top = try y.withUnsafeBufferPointer { (p) throws(KestrelError) in try index.search(p, k: negatives + 1, filter: nil) }
                        ids = Array(top.map { Int($0.key) }.filter { $0 != positive }.prefix(negatives))
                    }
                    _ = try a.step(.contrastive(query: q, positive: docs[positive], negatives: ids.flatMap { docs[$0] }, temperature: 0.05))
                }
                if isControl { control.append(try recall(a)) } else { after.append(try recall(a)) }
            }
        }
        return (before, after, control)
    }

    func queryDrift() throws -> [(String, Any)] {
        let r = try queryDriftRuns()
        let gain = zip(r.after, r.before).map { 100 * ($0 - $1) }, controlGain = zip(r.control, r.before).map { 100 * ($0 - $1) }
        let s = queryDriftSizes
        return [("task", "query-drift"), ("drift", drift.rawValue), ("seeds", seeds), ("dim", dim), ("docs", s.docs),
                ("held_out_docs", s.heldOutDocs), ("train", s.train), ("test", s.test)]
            + Self.fields("recall10_before", r.before) + Self.fields("recall10_after", r.after)
            + Self.fields("control_recall10_after", r.control) + Self.fields("gain_points", gain)
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
