import Foundation
import Testing
import _KestrelTestSupport
@testable import KestrelAttention

/// Options the fixtures do not cover (bias, key padding, f16/bf16 K/V, N_q ≠ N_k with windows),
/// against a float64 reference written out plainly here, and every bad input.
@Suite struct AttentionOptionsTests {
    /// softmax(scale·QKᵀ + bias + mask)·V in Double, one (b, h) at a time.
    static func reference(q: [Float], k: [Float], v: [Float], dims: (b: Int, h: Int, hkv: Int, nq: Int, nk: Int, d: Int),
                          scale: Double, causal: Bool, window: Int?, lengths: [Int]?, bias: [Float]?, biasHeads: Int)
        -> (o: [Double], lse: [Double]) {
        let (B, H, HKV, NQ, NK, D) = dims
        var o = [Double](repeating: 0, count: B * H * NQ * D), lse = [Double](repeating: -.infinity, count: B * H * NQ)
        for b in 0..<B {
            for h in 0..<H {
                let kvh = h / (H / HKV)
                for i in 0..<NQ {
                    let pos = i + NK - NQ
                    var scores = [Double](repeating: -.infinity, count: NK)
                    for j in 0..<NK {
                        if j >= (lengths?[b] ?? NK) { continue }
                        if causal && j > pos { continue }
                        if let w = window, j < pos - w { continue }
                        var s = 0.0
                        for t in 0..<D {
                            s += Double(q[((b * H + h) * NQ + i) * D + t]) * Double(k[((b * HKV + kvh) * NK + j) * D + t])
                        }
                        s *= scale
                        if let bias { s += Double(bias[((biasHeads == 1 ? 0 : h) * NQ + i) * NK + j]) }
                        scores[j] = s
                    }
                    let m = scores.max()!
                    guard m > -.infinity else { continue }
                    let e = scores.map { exp($0 - m) }
                    let sum = e.reduce(0, +)
                    lse[(b * H + h) * NQ + i] = m + log(sum)
                    for t in 0..<D {
                        var acc = 0.0
                        for j in 0..<NK where e[j] > 0 { acc += e[j] * Double(v[((b * HKV + kvh) * NK + j) * D + t]) }
                        o[((b * H + h) * NQ + i) * D + t] = acc / sum
                    }
                }
            }
        }
        return (o, lse)
    }

    static func random(_ n: Int, seed: UInt64) -> [Float] {
        var rng = SeededRNG(seed: seed)
        return (0..<n).map { _ in Float.random(in: -1...1, using: &rng) }
    }

    @Test func biasPaddingWindowAndUnequalLengthsMatchTheReference() throws {
        let (B, H, HKV, NQ, NK, D) = (2, 4, 2, 19, 45, 24)
        let q = Self.random(B * H * NQ * D, seed: 1), k = Self.random(B * HKV * NK * D, seed: 2), v = Self.random(B * HKV * NK * D, seed: 3)
        var bias = Self.random(H * NQ * NK, seed: 4)
        for i in stride(from: 0, to: bias.count, by: 11) { bias[i] = -.infinity }  // masked keys
        let lengths = [45, 30]
        for (causal, window) in [(false, nil), (true, nil), (true, 5), (false, 9)] as [(Bool, Int?)] {
            let options = AttentionOptions(scale: 0.3, causal: causal, windowLeft: window, keyLengths: lengths,
                                           bias: try Tensor(bias, shape: [1, H, NQ, NK]), threads: 3)
            let ref = Self.reference(q: q, k: k, v: v, dims: (B, H, HKV, NQ, NK, D), scale: 0.3, causal: causal,
                                     window: window, lengths: lengths, bias: bias, biasHeads: H)
            let qt = try Tensor(q, shape: [B, H, NQ, D]), kt = try Tensor(k, shape: [B, HKV, NK, D]), vt = try Tensor(v, shape: [B, HKV, NK, D])
            let flash: [any AttentionKernel] = [FlashAttention(blockSizes: AttentionBlockSizes(query: 4, key: 8)), FlashAttention(),
                                                FlashAttention(blockSizes: AttentionBlockSizes(query: 4, key: 8), tileProducts: .cKernel)]
            for kernel in flash + [NaiveAttention()] {
                let r = try kernel.forward(query: qt, key: kt, value: vt, options: options)
                let o = try r.output.toArray(of: Float.self), l = try r.logSumExp.toArray(of: Float.self)
                let err = zip(o, ref.o).map { abs(Double($0) - $1) }.max()!
                #expect(err <= 1e-5, "\(type(of: kernel)) causal \(causal) window \(String(describing: window)): \(err)")
                for (a, b) in zip(l, ref.lse) {
                    if b == -.infinity { #expect(a == -.infinity) } else { #expect(abs(Double(a) - b) <= 1e-5 * max(1, abs(b))) }
                }
            }
        }
    }

    @Test func rowsThatSeeNoKeyAreZeroWithMinusInfinityLogSumExp() throws {
        // Causal with NQ > NK: the first NQ − NK rows see no key; a key length of 0 hides every key.
        let q = try Tensor(Self.random(1 * 1 * 6 * 8, seed: 5), shape: [1, 1, 6, 8])
        let k = try Tensor(Self.random(1 * 1 * 3 * 8, seed: 6), shape: [1, 1, 3, 8])
        for kernel in [FlashAttention(), FlashAttention(tileProducts: .cKernel), NaiveAttention()] as [any AttentionKernel] {
            let r = try kernel.forward(query: q, key: k, value: k, options: AttentionOptions(causal: true))
            let o = try r.output.toArray(of: Float.self), l = try r.logSumExp.toArray(of: Float.self)
            #expect(o[0..<24].allSatisfy { $0 == 0 } && o[24...].contains { $0 != 0 })
            #expect(l[0..<3].allSatisfy { $0 == -.infinity } && l[3...].allSatisfy { $0.isFinite })
            let none = try kernel.forward(query: q, key: k, value: k, options: AttentionOptions(keyLengths: [0]))
            #expect(try none.output.toArray(of: Float.self).allSatisfy { $0 == 0 })
        }
    }

    @Test func halfPrecisionKeysAndValuesAreConvertedExactly() throws {
        let q = try Tensor(Self.random(2 * 16 * 32, seed: 7), shape: [1, 2, 16, 32])
        let k = try Tensor(Self.random(2 * 20 * 32, seed: 8), shape: [1, 2, 20, 32])
        let v = try Tensor(Self.random(2 * 20 * 32, seed: 9), shape: [1, 2, 20, 32])
        // Bit-identical through the C tiles (same kernel, same order). Through BLAS tiles the two
        // paths hand sgemm differently laid-out operands (converted tile copies vs strided views),
        // and some OpenBLAS kernel sets (Zen) round those differently in the last bit: there the
        // outputs must agree to float rounding.
        for products in [FlashAttention.TileProducts.cKernel, .blas] {
            let flash = FlashAttention(tileProducts: products)
            for dtype in [DType.f16, .bf16] {
                let k16 = try k.converted(to: dtype), v16 = try v.converted(to: dtype)
                let widened = try flash.forward(query: q, key: try k16.converted(to: .f32), value: try v16.converted(to: .f32),
                                                options: AttentionOptions(causal: true)).output.toArray(of: Float.self)
                let direct = try flash.forward(query: q, key: k16, value: v16, options: AttentionOptions(causal: true))
                    .output.toArray(of: Float.self)
                if products == .cKernel {
                    #expect(direct == widened)
                } else {
                    #expect(zip(direct, widened).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($1)) })
                }
            }
        }
    }

    @Test func badInputThrowsNamingTheArgument() throws {
        let q = try Tensor.zeros([1, 4, 8, 16]), k = try Tensor.zeros([1, 2, 8, 16])
        func name(_ body: () throws -> Void) -> String? {
            do { try body(); return nil } catch {
                guard let e = error as? KestrelError else { return "\(error)" }
                if case .invalidArgument(let n, _) = e { return n }
                if case .dimensionMismatch = e { return "shape" }
                return "\(e)"
            }
        }
        let f = FlashAttention()
        #expect(name { _ = try f.forward(query: q, key: try Tensor.zeros([1, 3, 8, 16]), value: try Tensor.zeros([1, 3, 8, 16]), options: .init()) } == "key")
        #expect(name { _ = try f.forward(query: q, key: try Tensor.zeros([1, 2, 8, 8]), value: try Tensor.zeros([1, 2, 8, 8]), options: .init()) } == "shape")
        #expect(name { _ = try f.forward(query: q, key: k, value: try Tensor.zeros([1, 2, 9, 16]), options: .init()) } == "shape")
        #expect(name { _ = try f.forward(query: try Tensor.zeros([4, 8, 16]), key: k, value: k, options: .init()) } == "query")
        #expect(name { _ = try f.forward(query: try Tensor.zeros([1, 4, 0, 16]), key: k, value: k, options: .init()) } == "query")
        #expect(name { _ = try f.forward(query: q, key: k, value: k, options: .init(windowLeft: -1)) } == "windowLeft")
        #expect(name { _ = try f.forward(query: q, key: k, value: k, options: .init(keyLengths: [9])) } == "keyLengths")
        #expect(name { _ = try f.forward(query: q, key: k, value: k, options: .init(keyLengths: [1, 2])) } == "keyLengths")
        #expect(name { _ = try f.forward(query: q, key: k, value: k, options: .init(threads: 0)) } == "threads")
        #expect(name { _ = try f.forward(query: q, key: k, value: k, options: .init(scale: .nan)) } == "scale")
        #expect(name { _ = try f.forward(query: q, key: k, value: k, options: .init(bias: try Tensor.zeros([1, 4, 8, 9]))) } == "bias")
        #expect(name { _ = try FlashAttention(blockSizes: .init(query: 0, key: 8)).forward(query: q, key: k, value: k, options: .init()) } == "blockSizes")
        var bad = Self.random(1 * 2 * 8 * 16, seed: 10)
        bad[37] = .nan
        let e = #expect(throws: KestrelError.self) {
            _ = try f.forward(query: q, key: try Tensor(bad, shape: [1, 2, 8, 16]), value: k, options: .init())
        }
        #expect(e == .invalidArgument(name: "key", reason: "non-finite value at flat index 37"))
        var nanBias = [Float](repeating: 0, count: 4 * 8 * 8)
        nanBias[5] = .nan
        #expect(name { _ = try f.forward(query: q, key: k, value: k, options: .init(bias: try Tensor(nanBias, shape: [1, 4, 8, 8]))) } == "bias")
        // Without the scan, NaN reaches the output rows it touches and nothing else breaks.
        let r = try f.forward(query: q, key: try Tensor(bad, shape: [1, 2, 8, 16]), value: k, options: .init(checksFiniteness: false))
        #expect(try r.output.toArray(of: Float.self).contains { $0.isNaN })
    }
}
