import Foundation
import Testing
import _KestrelTestSupport
@testable import KestrelAttention

/// FlashAttention's single-query route to the decode kernel: which problems take it, and that its
/// output and log-sum-exp equal the tile kernel's (`.cKernel`, never routed) and the float64
/// reference on grouped-query heads, masks, key padding (an item with no key included), several
/// position ranges on several threads, and caller-provided outputs.
@Suite struct FewQueryRoutingTests {
    typealias Ref = AttentionOptionsTests

    static func tensors(_ dims: (b: Int, h: Int, hkv: Int, nk: Int, d: Int), seed: UInt64) throws -> (q: [Float], k: [Float], v: [Float], qt: Tensor, kt: Tensor, vt: Tensor) {
        let q = Ref.random(dims.b * dims.h * dims.d, seed: seed), k = Ref.random(dims.b * dims.hkv * dims.nk * dims.d, seed: seed + 1)
        let v = Ref.random(dims.b * dims.hkv * dims.nk * dims.d, seed: seed + 2)
        return (q, k, v, try Tensor(q, shape: [dims.b, dims.h, 1, dims.d]), try Tensor(k, shape: [dims.b, dims.hkv, dims.nk, dims.d]),
                try Tensor(v, shape: [dims.b, dims.hkv, dims.nk, dims.d]))
    }

    @Test func onlySingleQueryF32ProblemsWithoutBiasOnASIMDTierAreRouted() throws {
        func problem(nq: Int = 1, kv: DType = .f32, bias: Bool = false) throws -> AttentionProblem {
            let q = try Tensor.zeros([1, 2, nq, 16]), k = try Tensor.zeros([1, 2, 8, 16]).converted(to: kv)
            let options = AttentionOptions(bias: bias ? try Tensor.zeros([1, 1, nq, 8]) : nil)
            return try AttentionProblem(query: q, key: k, value: k, options: options, widensKeyValue: false)
        }
        let simd: ISALevel = ISALevel.allCases.first { $0 != .scalar } ?? .avx2
        #expect(FlashAttention.routesToDecode(try problem(), tileProducts: .automatic, isa: simd))
        #expect(!FlashAttention.routesToDecode(try problem(), tileProducts: .automatic, isa: .scalar))
        #expect(!FlashAttention.routesToDecode(try problem(), tileProducts: .cKernel, isa: simd))
        #expect(!FlashAttention.routesToDecode(try problem(), tileProducts: .blas, isa: simd))
        #expect(!FlashAttention.routesToDecode(try problem(nq: 2), tileProducts: .automatic, isa: simd))
        #expect(!FlashAttention.routesToDecode(try problem(kv: .f16), tileProducts: .automatic, isa: simd))
        #expect(!FlashAttention.routesToDecode(try problem(bias: true), tileProducts: .automatic, isa: simd))
    }

    @Test(arguments: [17, 64, 128])
    func routedResultEqualsTheTileKernelAndTheReference(d: Int) throws {
        // Two batch items, GQA 8/2; NK = 600 gives 3 position ranges on 3 threads (≥ 256 keys each).
        let dims = (b: 2, h: 8, hkv: 2, nk: 600, d: d)
        let t = try Self.tensors(dims, seed: UInt64(d))
        let cases: [(causal: Bool, window: Int?, lengths: [Int]?, threads: Int)] = [
            (false, nil, nil, 1), (true, nil, nil, 3), (true, 100, nil, 2), (false, 300, nil, 3),
            (true, nil, [600, 257], 3), (false, nil, [0, 41], 1), (true, 5, [600, 0], 2),
        ]
        for c in cases {
            let what = "D \(d) causal \(c.causal) window \(String(describing: c.window)) lengths \(String(describing: c.lengths)) threads \(c.threads)"
            let options = AttentionOptions(causal: c.causal, windowLeft: c.window, keyLengths: c.lengths, threads: c.threads)
            let routed = try FlashAttention().forward(query: t.qt, key: t.kt, value: t.vt, options: options)
            let tile = try FlashAttention(tileProducts: .cKernel).forward(query: t.qt, key: t.kt, value: t.vt, options: options)
            let o = try routed.output.toArray(of: Float.self), to = try tile.output.toArray(of: Float.self)
            #expect(zip(o, to).map { abs($0 - $1) }.max() ?? 0 <= 1e-5, "\(what)")
            let l = try routed.logSumExp.toArray(of: Float.self), tl = try tile.logSumExp.toArray(of: Float.self)
            for (a, b) in zip(l, tl) {
                if b == -.infinity { #expect(a == -.infinity, "\(what)") } else { #expect(abs(a - b) <= 1e-5 * max(1, abs(b)), "\(what): lse \(a) vs \(b)") }
            }
            let ref = Ref.reference(q: t.q, k: t.k, v: t.v, dims: (dims.b, dims.h, dims.hkv, 1, dims.nk, d), scale: 1 / Double(d).squareRoot(),
                                    causal: c.causal, window: c.window, lengths: c.lengths, bias: nil, biasHeads: 1)
            try FlashForwardTests.check(routed, ref, what)
        }
    }

    @Test func callerProvidedOutputsAreOverwrittenByTheRoute() throws {
        let dims = (b: 1, h: 4, hkv: 4, nk: 33, d: 20)
        let t = try Self.tensors(dims, seed: 5)
        let options = AttentionOptions(causal: true)
        var out = AttentionOutput(output: try Tensor([Float](repeating: 7, count: 80), shape: [1, 4, 1, 20]), logSumExp: try Tensor([Float](repeating: 7, count: 4), shape: [1, 4, 1]))
        try FlashAttention().forward(query: t.qt, key: t.kt, value: t.vt, options: options, into: &out)
        let want = try NaiveAttention().forward(query: t.qt, key: t.kt, value: t.vt, options: options)
        let o = try out.output.toArray(of: Float.self), w = try want.output.toArray(of: Float.self)
        #expect(zip(o, w).map { abs($0 - $1) }.max() ?? 1 <= 1e-5)
        let l = try out.logSumExp.toArray(of: Float.self), wl = try want.logSumExp.toArray(of: Float.self)
        #expect(zip(l, wl).map { abs($0 - $1) }.max() ?? 1 <= 1e-5)
    }
}
