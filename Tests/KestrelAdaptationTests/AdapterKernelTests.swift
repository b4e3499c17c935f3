import CKestrelKernels
import Foundation
import KestrelKernels
import KestrelTensor
import Testing
import _KestrelTestSupport

/// The C kernels of every supported tier (scalar included) against the Double reference, at sizes
/// 1…1024 (odd, around every vector width), with arrays one float past an aligned address; and the
/// reference's own gradients against central finite differences.
@Suite struct AdapterKernelTests {
    static let dims = [1, 2, 3, 5, 8, 15, 16, 17, 31, 33, 64, 100, 127, 255, 384, 513, 768, 1000, 1024]

    /// An unaligned (one float past 64 bytes) copy of `v` that lives until `body` returns.
    func unaligned<R>(_ v: [Double], _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: (v.count + 17) * 4, alignment: 64)
        defer { raw.deallocate() }
        let p = raw.bindMemory(to: Float.self, capacity: v.count + 17) + 1
        for i in v.indices { p[i] = Float(v[i]) }
        return body(p)
    }

    func relErr(_ got: UnsafePointer<Float>, _ want: [Double]) -> Double {
        var num = 0.0, den = 0.0
        for i in want.indices {
            num += (Double(got[i]) - want[i]) * (Double(got[i]) - want[i])
            den += want[i] * want[i]
        }
        return num.squareRoot() / (den.squareRoot() + 1e-12)
    }

    @Test(arguments: [1, 2, 3, 9])
    func applyMatchesReferenceAtEveryTier(rank: Int) throws {
        var rng = SplitMix64(seed: UInt64(rank))
        for level in ISALevel.supported {
            let table = try #require(level.kernels)
            for d in Self.dims {
                for residual in [true, false] {
                    let dOut = residual ? d : Self.dims[(Self.dims.firstIndex(of: d)! + 5) % Self.dims.count]
                    let ref = AdapterReference(dIn: d, dOut: dOut, rank: rank, scale: 0.5, residual: residual)
                    let theta = randomDoubles(&rng, rank * (d + dOut), 1 / Double(d).squareRoot())
                    let x = randomDoubles(&rng, d), base = randomDoubles(&rng, dOut)
                    let want = ref.forward(theta, x, base: residual ? nil : base).y
                    var sh = kestrel_lora_shape(d_in: d, d_out: dOut, rank: rank, scale: 0.5)
                    let err = unaligned(theta) { tp in unaligned(x) { xp in unaligned(base) { bp in
                        unaligned([Double](repeating: 0, count: dOut)) { yp -> Double in
                            let st = table.pointee.lora_apply(&sh, tp, xp, residual ? xp : bp, yp)
                            return st == KESTREL_OK ? relErr(yp, want) : .infinity
                        }
                    } } }
                    #expect(err < 1e-5, "\(level) d=\(d) d_out=\(dOut) r=\(rank): rel err \(err)")
                }
            }
        }
    }

    enum LossKind: CaseIterable { case squared, binary, infoNCE }

    @Test(arguments: LossKind.allCases)
    func accumulateMatchesReferenceAtEveryTier(loss kind: LossKind) throws {
        var rng = SplitMix64(seed: 7)
        for level in ISALevel.supported {
            let table = try #require(level.kernels)
            for (n, d) in Self.dims.enumerated() {
                let rank = 1 + n % 3, dOut = n % 2 == 0 ? d : Self.dims[(n + 3) % Self.dims.count]
                let residual = dOut == d && n % 4 == 0
                let ref = AdapterReference(dIn: d, dOut: dOut, rank: rank, scale: 2 / Double(rank), residual: residual)
                let theta = randomDoubles(&rng, rank * (d + dOut), 1 / Double(d).squareRoot())
                let x = randomDoubles(&rng, d), t = randomDoubles(&rng, dOut, 1 / Double(dOut).squareRoot())
                let negs = (0..<3).map { _ in randomDoubles(&rng, dOut, 1 / Double(dOut).squareRoot()) }
                let label: Double = n % 2 == 0 ? 1 : -1
                let l: AdapterReference.Loss
                switch kind {
                case .squared: l = .squared(target: t)
                case .binary: l = .binary(result: t, label: label)
                case .infoNCE: l = .infoNCE(positive: t, negatives: negs, temperature: 0.3)
                }
                let (wantLoss, wantGrad) = ref.lossAndGradient(theta, x, base: nil, l)
                let (gotLoss, err): (Double, Double) = unaligned(theta) { tp in unaligned(x) { xp in unaligned(t) { ttp in
                    unaligned(negs.flatMap { $0 }) { np in
                        unaligned([Double](repeating: 0, count: theta.count)) { gp in
                            unaligned([Double](repeating: 0, count: rank + 2 * dOut + 8)) { sp in
                                var a = kestrel_lora_accumulate_args()
                                a.shape = kestrel_lora_shape(d_in: d, d_out: dOut, rank: rank, scale: Float(2 / Double(rank)))
                                a.params = UnsafePointer(tp); a.grad = gp; a.x = UnsafePointer(xp)
                                a.base = residual ? UnsafePointer(xp) : nil
                                a.loss = Int32(kind == .squared ? 0 : kind == .binary ? 1 : 2)
                                a.target = UnsafePointer(ttp); a.negatives = UnsafePointer(np)
                                a.n_neg = kind == .infoNCE ? 3 : 0; a.neg_stride = dOut
                                a.label = Float(label); a.temperature = 0.3; a.weight = 1; a.scratch = sp
                                let st = table.pointee.lora_accumulate(&a)
                                return st == KESTREL_OK ? (a.loss_out, relErr(gp, wantGrad)) : (.nan, .infinity)
                            }
                        }
                    }
                } } }
                #expect(err < 1e-4, "\(level) \(kind) d=\(d) r=\(rank): grad rel err \(err)")
                #expect(abs(gotLoss - wantLoss) <= 1e-4 * (abs(wantLoss) + 1e-3), "\(level) \(kind) d=\(d): loss \(gotLoss) vs \(wantLoss)")
            }
        }
    }

    /// The reference gradients are the derivatives of the reference losses (central differences).
    @Test(arguments: LossKind.allCases)
    func referenceGradientsMatchFiniteDifferences(loss kind: LossKind) {
        var rng = SplitMix64(seed: 11)
        for (d, dOut, rank, residual) in [(5, 5, 1, true), (7, 4, 2, false), (16, 16, 3, true)] {
            let ref = AdapterReference(dIn: d, dOut: dOut, rank: rank, scale: 0.7, residual: residual)
            let theta = randomDoubles(&rng, rank * (d + dOut)), x = randomDoubles(&rng, d)
            let t = randomDoubles(&rng, dOut), negs = (0..<4).map { _ in randomDoubles(&rng, dOut) }
            let l: AdapterReference.Loss
            switch kind {
            case .squared: l = .squared(target: t)
            case .binary: l = .binary(result: t, label: -1)
            case .infoNCE: l = .infoNCE(positive: t, negatives: negs, temperature: 0.5)
            }
            let g = ref.lossAndGradient(theta, x, base: nil, l).1
            let fd = finiteDifference(theta) { ref.lossAndGradient($0, x, base: nil, l).0 }
            #expect(relativeError(g, fd) < 1e-4, "\(kind) d=\(d) r=\(rank): \(relativeError(g, fd))")
        }
    }

    @Test func ewcGradientMatchesFiniteDifferences() {
        var rng = SplitMix64(seed: 12)
        let theta = randomDoubles(&rng, 40), anchor = randomDoubles(&rng, 40)
        let fisher = randomDoubles(&rng, 40).map { abs($0) }
        let g = AdapterReference.ewc(theta, anchor: anchor, fisher: fisher, lambda: 0.8).1
        let fd = finiteDifference(theta) { AdapterReference.ewc($0, anchor: anchor, fisher: fisher, lambda: 0.8).0 }
        #expect(relativeError(g, fd) < 1e-4)
    }

    func finiteDifference(_ theta: [Double], _ f: ([Double]) -> Double) -> [Double] {
        theta.indices.map { i in
            var p = theta, m = theta
            let h = 1e-6 * max(1, abs(theta[i]))
            p[i] += h
            m[i] -= h
            return (f(p) - f(m)) / (2 * h)
        }
    }

    func relativeError(_ a: [Double], _ b: [Double]) -> Double {
        let num = zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        return num / (b.reduce(0) { $0 + $1 * $1 }.squareRoot() + 1e-12)
    }

    /// One update of every optimizer with EWC and clipping against the Double formulas.
    @Test func updateMatchesReferenceAtEveryTier() throws {
        var rng = SplitMix64(seed: 13)
        for level in ISALevel.supported {
            let table = try #require(level.kernels)
            for n in [1, 3, 17, 100, 1537, 3072] {
                for opt in 0..<3 {
                    for (ewc, clip) in [(false, false), (true, false), (true, true)] {
                        let th = randomDoubles(&rng, n), g = randomDoubles(&rng, n), m = randomDoubles(&rng, n, 0.1)
                        let v = randomDoubles(&rng, n, 0.05).map { abs($0) }, f = randomDoubles(&rng, n).map { abs($0) }
                        let fs = randomDoubles(&rng, n).map { abs($0) }, an = randomDoubles(&rng, n)
                        let lr = 0.05, b1 = 0.9, b2 = 0.99, eps = 1e-6, gs = 0.5, lam = 0.3, gamma = 0.9
                        let c1 = 1 / (1 - b1 * b1), c2 = 1 / (1 - b2 * b2)
                        // Reference.
                        var G = (0..<n).map { gs * g[$0] + (ewc ? 2 * lam * fs[$0] * (th[$0] - an[$0]) : 0) }
                        let norm = G.reduce(0) { $0 + $1 * $1 }.squareRoot()
                        let clipNorm = clip ? 0.1 * norm : 0
                        if clip { G = G.map { $0 * clipNorm / norm } }
                        var wantTh = th, wantM = m, wantV = v
                        for i in 0..<n {
                            switch opt {
                            case 0: wantTh[i] -= lr * G[i]
                            case 1: wantM[i] = b1 * m[i] + G[i]; wantTh[i] -= lr * wantM[i]
                            default:
                                wantM[i] = b1 * m[i] + (1 - b1) * G[i]
                                wantV[i] = b2 * v[i] + (1 - b2) * G[i] * G[i]
                                wantTh[i] -= lr * (wantM[i] * c1) / ((wantV[i] * c2).squareRoot() + eps)
                            }
                        }
                        let wantF = (0..<n).map { gamma * f[$0] + (1 - gamma) * gs * g[$0] * gs * g[$0] }
                        let errs: [Double] = unaligned(th) { tp in unaligned(g) { gp in unaligned(m) { mp in unaligned(v) { vp in
                            unaligned(f) { fp in unaligned(fs) { fsp in unaligned(an) { ap in
                                var u = kestrel_lora_update_args()
                                u.n = n; u.params = tp; u.grad = gp; u.m = mp; u.v = vp; u.optimizer = Int32(opt)
                                u.lr = Float(lr); u.beta1 = Float(b1); u.beta2 = Float(b2); u.eps = Float(eps)
                                u.c1 = Float(c1); u.c2 = Float(c2); u.grad_scale = Float(gs); u.clip_norm = Float(clipNorm)
                                u.fisher = ewc ? fp : nil; u.fisher_decay = ewc ? Float(gamma) : -1
                                u.fisher_star = ewc ? UnsafePointer(fsp) : nil; u.anchor = ewc ? UnsafePointer(ap) : nil
                                u.ewc_lambda = Float(lam)
                                guard table.pointee.lora_update(&u) == KESTREL_OK else { return [.infinity] }
                                let zeroed = (0..<n).allSatisfy { gp[$0] == 0 }
                                return [relErr(tp, wantTh), opt > 0 ? relErr(mp, wantM) : 0, opt == 2 ? relErr(vp, wantV) : 0,
                                        ewc ? relErr(fp, wantF) : 0, abs(u.grad_norm_out - norm) / norm,
                                        (u.clipped_out != 0) == clip ? 0 : 1, zeroed ? 0 : 1]
                            } } }
                        } } } }
                        #expect(errs.allSatisfy { $0 < 1e-5 }, "\(level) n=\(n) opt=\(opt) ewc=\(ewc) clip=\(clip): \(errs)")
                    }
                }
            }
        }
    }
}
