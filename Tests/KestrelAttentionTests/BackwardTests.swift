import Foundation
import Testing
import _KestrelTestSupport
@testable import KestrelAttention

/// The backward pass: NaiveAttention against central finite differences of a float64 forward,
/// FlashAttention against NaiveAttention on every mask and shape the forward supports, rows that
/// see no key, bad input, NaN propagation and f16 K/V.
@Suite struct BackwardTests {
    /// A problem: sizes, masks and data (f32 inputs, the Double reference reads them widened).
    struct Case {
        var b = 1, h = 1, hkv = 1, nq = 4, nk = 4, d = 8
        var causal = false, window: Int? = nil, lengths: [Int]? = nil, biasHeads = 0  // 0: no bias
        var scale: Float = 0.4
        var threads = 1
        var seed: UInt64 = 1

        var q: [Float] { random(b * h * nq * d, seed: seed) }
        var k: [Float] { random(b * hkv * nk * d, seed: seed &+ 1) }
        var v: [Float] { random(b * hkv * nk * d, seed: seed &+ 2) }
        var dO: [Float] { random(b * h * nq * d, seed: seed &+ 3) }
        var bias: [Float]? {
            guard biasHeads > 0 else { return nil }
            var x = random(biasHeads * nq * nk, seed: seed &+ 4)
            for i in stride(from: 3, to: x.count, by: 7) { x[i] = -.infinity }  // keys the bias masks
            return x
        }

        func random(_ n: Int, seed: UInt64) -> [Float] {
            var rng = SeededRNG(seed: seed)
            return rng.floats(n)
        }

        func options(checks: Bool = true) throws -> AttentionOptions {
            AttentionOptions(scale: scale, causal: causal, windowLeft: window, keyLengths: lengths,
                             bias: try bias.map { try Tensor($0, shape: [1, biasHeads, nq, nk]) }, threads: threads,
                             checksFiniteness: checks)
        }

        func tensors() throws -> (q: Tensor, k: Tensor, v: Tensor, dO: Tensor) {
            (try Tensor(q, shape: [b, h, nq, d]), try Tensor(k, shape: [b, hkv, nk, d]),
             try Tensor(v, shape: [b, hkv, nk, d]), try Tensor(dO, shape: [b, h, nq, d]))
        }

        /// L = Σ dO ∘ O(Q, K, V) in Double, written plainly (independent of both kernels).
        func loss(q: [Double], k: [Double], v: [Double], dO: [Double]) -> Double {
            var total = 0.0
            let bias = self.bias
            for bi in 0..<b {
                for hi in 0..<h {
                    let kvh = hi / (h / hkv)
                    for i in 0..<nq {
                        let pos = i + nk - nq
                        var s = [Double](repeating: -.infinity, count: nk)
                        for j in 0..<nk where j < (lengths?[bi] ?? nk) && !(causal && j > pos) && !(window.map { j < pos - $0 } ?? false) {
                            var dot = 0.0
                            for t in 0..<d { dot += q[((bi * h + hi) * nq + i) * d + t] * k[((bi * hkv + kvh) * nk + j) * d + t] }
                            s[j] = Double(scale) * dot + (bias.map { Double($0[((biasHeads == 1 ? 0 : hi) * nq + i) * nk + j]) } ?? 0)
                        }
                        let m = s.max()!
                        guard m > -.infinity else { continue }
                        let e = s.map { exp($0 - m) }, sum = e.reduce(0, +)
                        for t in 0..<d {
                            var o = 0.0
                            for j in 0..<nk where e[j] > 0 { o += e[j] * v[((bi * hkv + kvh) * nk + j) * d + t] }
                            total += dO[((bi * h + hi) * nq + i) * d + t] * o / sum
                        }
                    }
                }
            }
            return total
        }

        /// ∂L/∂x for every element of Q, K and V by central differences in Double.
        func finiteDifferences() -> (dq: [Double], dk: [Double], dv: [Double]) {
            var x = [q.map(Double.init), k.map(Double.init), v.map(Double.init)]
            let g = dO.map(Double.init), step = 1e-5
            var grads: [[Double]] = []
            for which in 0..<3 {
                var out = [Double](repeating: 0, count: x[which].count)
                for i in out.indices {
                    let saved = x[which][i]
                    x[which][i] = saved + step
                    let up = loss(q: x[0], k: x[1], v: x[2], dO: g)
                    x[which][i] = saved - step
                    let down = loss(q: x[0], k: x[1], v: x[2], dO: g)
                    x[which][i] = saved
                    out[i] = (up - down) / (2 * step)
                }
                grads.append(out)
            }
            return (grads[0], grads[1], grads[2])
        }
    }

    /// Forward then backward with `kernel` (its own forward supplies O and the log-sum-exp).
    static func gradients(_ kernel: any AttentionBackwardKernel, _ c: Case, checks: Bool = true,
                          dO: [Float]? = nil) throws -> (dq: [Float], dk: [Float], dv: [Float]) {
        let t = try c.tensors(), options = try c.options(checks: checks)
        let f = try kernel.forward(query: t.q, key: t.k, value: t.v, options: options)
        let grad = try dO.map { try Tensor($0, shape: [c.b, c.h, c.nq, c.d]) } ?? t.dO
        let g = try kernel.backward(query: t.q, key: t.k, value: t.v, output: f.output, logSumExp: f.logSumExp,
                                    outputGradient: grad, options: options)
        #expect(g.query.shape.dims == [c.b, c.h, c.nq, c.d] && g.key.shape.dims == [c.b, c.hkv, c.nk, c.d])
        return (try g.query.toArray(of: Float.self), try g.key.toArray(of: Float.self), try g.value.toArray(of: Float.self))
    }

    static func maxError(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        return zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    static let small = AttentionBlockSizes(query: 3, key: 5)

    @Test func naiveAndFlashMatchFiniteDifferences() throws {
        let cases = [
            Case(b: 1, h: 2, hkv: 1, nq: 5, nk: 7, d: 4, seed: 11),
            Case(b: 2, h: 2, hkv: 2, nq: 6, nk: 5, d: 3, causal: true, window: 2, lengths: [5, 3], biasHeads: 2, seed: 12),
        ]
        for c in cases {
            let fd = c.finiteDifferences()
            for kernel in [NaiveAttention(), FlashAttention(blockSizes: Self.small, tileProducts: .blas),
                           FlashAttention(blockSizes: Self.small, tileProducts: .cKernel)] as [any AttentionBackwardKernel] {
                let g = try Self.gradients(kernel, c)
                for (name, got, want) in [("dQ", g.dq, fd.dq), ("dK", g.dk, fd.dk), ("dV", g.dv, fd.dv)] {
                    let err = zip(got, want).map { abs(Double($0) - $1) }.max()!
                    #expect(err <= 2e-5, "\(type(of: kernel)) \(name) vs finite differences: \(err) (seed \(c.seed))")
                }
            }
        }
    }

    @Test func flashMatchesNaiveOnEveryMaskAndShape() throws {
        let cases = [
            Case(nq: 1, nk: 1, d: 16, seed: 20),
            Case(b: 1, h: 2, hkv: 2, nq: 1, nk: 40, d: 16, causal: true, seed: 21),
            Case(b: 1, h: 2, hkv: 1, nq: 77, nk: 77, d: 80, causal: true, threads: 2, seed: 22),
            Case(b: 2, h: 6, hkv: 2, nq: 33, nk: 50, d: 24, lengths: [50, 17], threads: 3, seed: 23),
            Case(b: 1, h: 4, hkv: 1, nq: 45, nk: 30, d: 16, causal: true, window: 6, biasHeads: 4, threads: 2, seed: 24),
            Case(b: 2, h: 2, hkv: 2, nq: 20, nk: 70, d: 17, window: 9, lengths: [60, 70], biasHeads: 1, seed: 25),
            Case(b: 1, h: 3, hkv: 3, nq: 90, nk: 64, d: 64, causal: true, threads: 2, seed: 26),
        ]
        for c in cases {
            let naive = try Self.gradients(NaiveAttention(), c)
            // Both tile-product paths: BLAS GEMMs per product, and the active tier's C backward tile.
            for blocks in [Self.small, AttentionBlockSizes(query: 16, key: 8), nil] {
                for products in [FlashAttention.TileProducts.blas, .cKernel] {
                    let flash = try Self.gradients(FlashAttention(blockSizes: blocks, tileProducts: products), c)
                    for (name, a, b) in [("dQ", flash.dq, naive.dq), ("dK", flash.dk, naive.dk), ("dV", flash.dv, naive.dv)] {
                        let err = Self.maxError(a, b)
                        #expect(err <= 1e-5, "\(name) seed \(c.seed) blocks \(String(describing: blocks)) \(products): \(err)")
                    }
                }
            }
        }
    }

    @Test func threadCountDoesNotChangeTheResult() throws {
        // Tasks of about a millisecond each, so that every worker takes some (its private dQ
        // copy then has to be summed in).
        let blocks = AttentionBlockSizes(query: 32, key: 16)
        var c = Case(b: 1, h: 8, hkv: 4, nq: 256, nk: 256, d: 64, causal: true, seed: 30)
        let one = try Self.gradients(FlashAttention(blockSizes: blocks), c)
        c.threads = 4
        let four = try Self.gradients(FlashAttention(blockSizes: blocks), c)
        #expect(one.dk == four.dk && one.dv == four.dv)  // each key block is owned by one task
        #expect(Self.maxError(one.dq, four.dq) <= 1e-6)  // dQ sums per-worker partials in another order
    }

    @Test func rowsThatSeeNoKeyGetZeroGradients() throws {
        // Causal with NQ > NK: rows 0..<3 see no key; batch item 1 has no valid key at all.
        let c = Case(b: 2, h: 2, hkv: 1, nq: 6, nk: 3, d: 8, causal: true, lengths: [3, 0], seed: 40)
        for kernel in [NaiveAttention(), FlashAttention(blockSizes: Self.small), FlashAttention()] as [any AttentionBackwardKernel] {
            let g = try Self.gradients(kernel, c)
            for h in 0..<2 {
                let rows = (h * 6)..<(h * 6 + 6)
                #expect(g.dq[(rows.lowerBound * 8)..<((rows.lowerBound + 3) * 8)].allSatisfy { $0 == 0 })
                #expect(g.dq[((rows.lowerBound + 3) * 8)..<(rows.upperBound * 8)].contains { $0 != 0 })
            }
            #expect(g.dq[(2 * 6 * 8)...].allSatisfy { $0 == 0 } && g.dk[(3 * 8)...].allSatisfy { $0 == 0 })
            #expect(g.dv[(3 * 8)...].allSatisfy { $0 == 0 } && g.dv[..<(3 * 8)].contains { $0 != 0 })
        }
        // Padding keys of a partly padded item get no gradient either.
        let padded = Case(b: 1, h: 1, hkv: 1, nq: 4, nk: 9, d: 8, lengths: [5], seed: 41)
        for kernel in [NaiveAttention(), FlashAttention(blockSizes: Self.small)] as [any AttentionBackwardKernel] {
            let g = try Self.gradients(kernel, padded)
            #expect(g.dk[(5 * 8)...].allSatisfy { $0 == 0 } && g.dv[(5 * 8)...].allSatisfy { $0 == 0 })
        }
    }

    @Test func halfPrecisionKeysAndValuesGiveTheGradientOfTheirF32Values() throws {
        let c = Case(b: 1, h: 2, hkv: 1, nq: 9, nk: 12, d: 16, causal: true, seed: 50)
        let t = try c.tensors(), options = try c.options()
        for dtype in [DType.f16, .bf16] {
            let k16 = try t.k.converted(to: dtype), v16 = try t.v.converted(to: dtype)
            let k32 = try k16.converted(to: .f32), v32 = try v16.converted(to: .f32)
            let f = try FlashAttention().forward(query: t.q, key: k16, value: v16, options: options)
            let direct = try FlashAttention().backward(query: t.q, key: k16, value: v16, output: f.output, logSumExp: f.logSumExp,
                                                       outputGradient: t.dO, options: options)
            let widened = try FlashAttention().backward(query: t.q, key: k32, value: v32, output: f.output, logSumExp: f.logSumExp,
                                                        outputGradient: t.dO, options: options)
            #expect(direct.key.dtype == .f32 && direct.value.dtype == .f32)
            #expect(try direct.key.toArray(of: Float.self) == (try widened.key.toArray(of: Float.self)))
            #expect(try direct.query.toArray(of: Float.self) == (try widened.query.toArray(of: Float.self)))
        }
    }

    @Test func badInputThrowsTypedErrors() throws {
        let c = Case(b: 1, h: 4, hkv: 2, nq: 8, nk: 8, d: 16, seed: 60)
        let t = try c.tensors(), options = try c.options()
        let f = try NaiveAttention().forward(query: t.q, key: t.k, value: t.v, options: options)
        for kernel in [NaiveAttention(), FlashAttention()] as [any AttentionBackwardKernel] {
            func run(o: Tensor? = nil, lse: Tensor? = nil, dO: Tensor? = nil, k: Tensor? = nil,
                     options opt: AttentionOptions? = nil) throws(KestrelError) {
                _ = try kernel.backward(query: t.q, key: k ?? t.k, value: k ?? t.v, output: o ?? f.output,
                                        logSumExp: lse ?? f.logSumExp, outputGradient: dO ?? t.dO, options: opt ?? options)
            }
            #expect(throws: KestrelError.dimensionMismatch(expected: [1, 4, 8, 16], actual: [1, 4, 8, 15])) {
                try run(dO: try Tensor.zeros([1, 4, 8, 15]))
            }
            #expect(throws: KestrelError.dimensionMismatch(expected: [1, 4, 8, 16], actual: [1, 2, 8, 16])) {
                try run(o: try Tensor.zeros([1, 2, 8, 16]))
            }
            #expect(throws: KestrelError.dimensionMismatch(expected: [1, 4, 8], actual: [1, 4, 8, 1])) {
                try run(lse: try Tensor.zeros([1, 4, 8, 1]))
            }
            #expect(throws: KestrelError.dimensionMismatch(expected: [1, 4, 8], actual: [1, 4, 7])) {
                try run(lse: try Tensor.zeros([1, 4, 7]))
            }
            #expect(throws: KestrelError.invalidArgument(name: "outputGradient", reason: "must be f32, got f16")) {
                try run(dO: try t.dO.converted(to: .f16))
            }
            #expect(throws: KestrelError.invalidArgument(name: "key", reason: "4 query heads are not a multiple of 3 K/V heads")) {
                try run(k: try Tensor.zeros([1, 3, 8, 16]))
            }
            #expect(throws: KestrelError.invalidArgument(name: "threads", reason: "must be ≥ 1, got 0")) {
                try run(options: AttentionOptions(threads: 0))
            }
            var bad = c.dO
            bad[77] = .nan
            #expect(throws: KestrelError.invalidArgument(name: "outputGradient", reason: "non-finite value at flat index 77")) {
                try run(dO: try Tensor(bad, shape: [1, 4, 8, 16]))
            }
            var lse = try f.logSumExp.toArray(of: Float.self)
            lse[5] = .infinity
            #expect(throws: KestrelError.invalidArgument(name: "logSumExp", reason: "NaN or +infinity at flat index 5")) {
                try run(lse: try Tensor(lse, shape: [1, 4, 8]))
            }
            lse[5] = -.infinity  // a row that sees no key: valid
            try run(lse: try Tensor(lse, shape: [1, 4, 8]))
        }
        #expect(throws: KestrelError.invalidArgument(name: "blockSizes", reason: "tile sizes must be ≥ 1, got 4 × 0")) {
            _ = try FlashAttention(blockSizes: .init(query: 4, key: 0)).backward(
                query: t.q, key: t.k, value: t.v, output: f.output, logSumExp: f.logSumExp, outputGradient: t.dO, options: options)
        }
    }

    @Test func nanInTheOutputGradientReachesOnlyWhatItsRowTouches() throws {
        // Without the finiteness scan, a NaN in dO at (b 0, head 1, row 10): with a causal window of
        // 3 that row sees keys 7...10 (NQ = NK).
        let c = Case(b: 2, h: 2, hkv: 1, nq: 16, nk: 16, d: 8, causal: true, window: 3, seed: 70)
        var dO = c.dO
        let row = 1 * 16 + 10
        dO[row * 8 + 2] = .nan
        for kernel in [NaiveAttention(), FlashAttention(blockSizes: AttentionBlockSizes(query: 4, key: 4))] as [any AttentionBackwardKernel] {
            let g = try Self.gradients(kernel, c, checks: false, dO: dO)
            let name = "\(type(of: kernel))"
            for r in 0..<(2 * 2 * 16) {
                let slice = g.dq[(r * 8)..<(r * 8 + 8)]
                #expect(r == row ? slice.allSatisfy { $0.isNaN } : slice.allSatisfy { $0.isFinite }, "\(name) dQ row \(r)")
            }
            for j in 0..<(2 * 16) {
                let seen = (7...10).contains(j)
                #expect(seen ? g.dk[(j * 8)..<(j * 8 + 8)].allSatisfy { $0.isNaN } : g.dk[(j * 8)..<(j * 8 + 8)].allSatisfy { $0.isFinite },
                        "\(name) dK row \(j)")
                if seen { #expect(g.dv[(j * 8)..<(j * 8 + 8)].contains { $0.isNaN }, "\(name) dV row \(j)") }
            }
            #expect(g.dv[(16 * 8)...].allSatisfy { $0.isFinite })  // the other batch item
        }
    }
}
