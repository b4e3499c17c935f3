import Foundation
import Testing
import _KestrelTestSupport
@testable import KestrelAttention

/// FlashAttention's forward paths: the active tier's C tile kernel and BLAS tiles on head dimensions
/// that are and are not multiples of the vector width, per-tile f16/bf16 K/V, caller-provided
/// outputs, cache-derived block sizes, the automatic tile-product rule, and concurrent calls
/// sharing the scratch cache. References: the float64 one of ``AttentionOptionsTests``.
@Suite struct FlashForwardTests {
    typealias Ref = AttentionOptionsTests

    static func check(_ r: AttentionOutput, _ ref: (o: [Double], lse: [Double]), _ what: String) throws {
        let o = try r.output.toArray(of: Float.self), l = try r.logSumExp.toArray(of: Float.self)
        let err = zip(o, ref.o).map { abs(Double($0) - $1) }.max() ?? 0
        #expect(err <= 1e-5, "\(what): output off by \(err)")
        for (a, b) in zip(l, ref.lse) {
            if b == -.infinity { #expect(a == -.infinity, "\(what)") } else { #expect(abs(Double(a) - b) <= 1e-5 * max(1, abs(b)), "\(what)") }
        }
    }

    @Test(arguments: [16, 17, 33, 64, 80, 128, 256])
    func everyTileProductMatchesTheReference(d: Int) throws {
        let (B, H, HKV, NQ, NK) = (1, 4, 2, 37, 53)
        let q = Ref.random(B * H * NQ * d, seed: UInt64(d)), k = Ref.random(B * HKV * NK * d, seed: UInt64(d + 1))
        let v = Ref.random(B * HKV * NK * d, seed: UInt64(d + 2))
        let qt = try Tensor(q, shape: [B, H, NQ, d]), kt = try Tensor(k, shape: [B, HKV, NK, d]), vt = try Tensor(v, shape: [B, HKV, NK, d])
        for (causal, window) in [(false, nil), (true, nil), (true, 7)] as [(Bool, Int?)] {
            let ref = Ref.reference(q: q, k: k, v: v, dims: (B, H, HKV, NQ, NK, d), scale: 1 / Double(d).squareRoot(),
                                    causal: causal, window: window, lengths: nil, bias: nil, biasHeads: 1)
            let options = AttentionOptions(causal: causal, windowLeft: window, threads: 2)
            for products in [FlashAttention.TileProducts.automatic, .blas, .cKernel] {
                for blocks in [nil, AttentionBlockSizes(query: 16, key: 32), AttentionBlockSizes(query: 5, key: 7)] {
                    let r = try FlashAttention(blockSizes: blocks, tileProducts: products).forward(query: qt, key: kt, value: vt, options: options)
                    try Self.check(r, ref, "D \(d) causal \(causal) window \(String(describing: window)) \(products) \(String(describing: blocks))")
                }
            }
        }
    }

    /// The P·V micro-kernels take a block's rows by the tier's row group (6 on AVX2, 4 elsewhere)
    /// and the rest by 4, 2 and 1 rows, giving up one full group when that leaves a multiple of 4;
    /// the head dimension by strips of vectors, single vectors and a masked tail. Query tiles of
    /// 1…14 and 32 rows (every remainder of 4 and 6, and 32 = 4 × 6 + 2 × 4), a last block shorter
    /// than the tile (NQ = 45), key tiles that do not divide NK = 51, and odd head dimensions
    /// cover each path, causal or not, on one and two threads, against the float64 reference.
    @Test(arguments: [23, 40])
    func everyRowGroupRemainderMatchesTheReference(d: Int) throws {
        let (B, H, NQ, NK) = (1, 2, 45, 51)
        let q = Ref.random(B * H * NQ * d, seed: UInt64(d + 40)), k = Ref.random(B * H * NK * d, seed: UInt64(d + 41))
        let v = Ref.random(B * H * NK * d, seed: UInt64(d + 42))
        let qt = try Tensor(q, shape: [B, H, NQ, d]), kt = try Tensor(k, shape: [B, H, NK, d]), vt = try Tensor(v, shape: [B, H, NK, d])
        for causal in [false, true] {
            let ref = Ref.reference(q: q, k: k, v: v, dims: (B, H, H, NQ, NK, d), scale: 1 / Double(d).squareRoot(),
                                    causal: causal, window: nil, lengths: nil, bias: nil, biasHeads: 1)
            for rows in Array(1...14) + [32] {
                let blocks = AttentionBlockSizes(query: rows, key: rows % 2 == 0 ? 32 : 13)
                let r = try FlashAttention(blockSizes: blocks, tileProducts: .cKernel)
                    .forward(query: qt, key: kt, value: vt, options: AttentionOptions(causal: causal, threads: rows % 3 == 0 ? 2 : 1))
                try Self.check(r, ref, "D \(d) causal \(causal) tiles \(rows) × \(blocks.key)")
            }
        }
    }

    @Test func halfKeysAndValuesConvertedPerTileMatchTheWidenedOnes() throws {
        let (H, NQ, NK, D) = (2, 19, 41, 40)
        let q = try Tensor(Ref.random(H * NQ * D, seed: 21), shape: [1, H, NQ, D])
        let k = try Tensor(Ref.random(H * NK * D, seed: 22), shape: [1, H, NK, D])
        let v = try Tensor(Ref.random(H * NK * D, seed: 23), shape: [1, H, NK, D])
        let kernel = FlashAttention(blockSizes: AttentionBlockSizes(query: 8, key: 16), tileProducts: .cKernel)
        for dtype in [DType.f16, .bf16] {
            let k16 = try k.converted(to: dtype), v16 = try v.converted(to: dtype)
            for causal in [false, true] {
                let widened = try kernel.forward(query: q, key: try k16.converted(to: .f32), value: try v16.converted(to: .f32),
                                                 options: AttentionOptions(causal: causal))
                let direct = try kernel.forward(query: q, key: k16, value: v16, options: AttentionOptions(causal: causal, threads: 2))
                // The same values reach the same kernel: bit for bit.
                #expect(try direct.output.toArray(of: Float.self) == (try widened.output.toArray(of: Float.self)))
                #expect(try direct.logSumExp.toArray(of: Float.self) == (try widened.logSumExp.toArray(of: Float.self)))
            }
        }
        // Non-finite f16/bf16 values are refused like f32 ones, or pass through as NaN when unchecked.
        var bad = try k.converted(to: .f16)
        try bad.setScalar(.infinity, at: [0, 1, 3, 5])
        #expect(throws: KestrelError.invalidArgument(name: "key", reason: "non-finite value at flat index \(1 * NK * D + 3 * D + 5)")) {
            _ = try kernel.forward(query: q, key: bad, value: try v.converted(to: .f16), options: AttentionOptions())
        }
        var badV = try v.converted(to: .bf16)
        try badV.setScalar(.nan, at: [0, 0, 0, 0])
        #expect(throws: KestrelError.self) { _ = try kernel.forward(query: q, key: k, value: badV, options: AttentionOptions()) }
        let r = try kernel.forward(query: q, key: k, value: badV, options: AttentionOptions(checksFiniteness: false))
        let o = try r.output.toArray(of: Float.self)
        #expect(o[0..<(NQ * D)].contains { $0.isNaN } && o[(NQ * D)...].allSatisfy { $0.isFinite })
    }

    @Test func forwardIntoCallerTensorsMatchesAndValidates() throws {
        let q = try Tensor(Ref.random(2 * 3 * 29 * 24, seed: 31), shape: [2, 3, 29, 24])
        let k = try Tensor(Ref.random(2 * 3 * 29 * 24, seed: 32), shape: [2, 3, 29, 24])
        let options = AttentionOptions(causal: true, threads: 2)
        let kernel = FlashAttention()
        let fresh = try kernel.forward(query: q, key: k, value: k, options: options)
        var into = AttentionOutput(output: try Tensor.zeros([2, 3, 29, 24]), logSumExp: try Tensor.zeros([2, 3, 29]))
        for _ in 0..<2 {  // reused: overwritten, not accumulated
            try kernel.forward(query: q, key: k, value: k, options: options, into: &into)
            #expect(try into.output.toArray(of: Float.self) == (try fresh.output.toArray(of: Float.self)))
            #expect(try into.logSumExp.toArray(of: Float.self) == (try fresh.logSumExp.toArray(of: Float.self)))
        }
        var wrongOut = AttentionOutput(output: try Tensor.zeros([2, 3, 29, 23]), logSumExp: try Tensor.zeros([2, 3, 29]))
        #expect(throws: KestrelError.dimensionMismatch(expected: [2, 3, 29, 24], actual: [2, 3, 29, 23])) {
            try kernel.forward(query: q, key: k, value: k, options: options, into: &wrongOut)
        }
        var wrongLse = AttentionOutput(output: try Tensor.zeros([2, 3, 29, 24]), logSumExp: try Tensor.zeros([2, 3, 28]))
        #expect(throws: KestrelError.dimensionMismatch(expected: [2, 3, 29], actual: [2, 3, 28])) {
            try kernel.forward(query: q, key: k, value: k, options: options, into: &wrongLse)
        }
        var wrongType = AttentionOutput(output: try Tensor.zeros([2, 3, 29, 24], dtype: .f16), logSumExp: try Tensor.zeros([2, 3, 29]))
        let e = #expect(throws: KestrelError.self) { try kernel.forward(query: q, key: k, value: k, options: options, into: &wrongType) }
        if case .invalidArgument(let name, _)? = e { #expect(name == "into") } else { Issue.record("expected invalidArgument(into), got \(String(describing: e))") }
        // A view into a larger tensor still receives the result (made contiguous first).
        var viewed = AttentionOutput(output: try Tensor.zeros([2, 3, 29, 24]), logSumExp: try Tensor.zeros([2, 3, 29]))
        let shared = viewed.output  // a second reference: the write must not reach it
        try kernel.forward(query: q, key: k, value: k, options: options, into: &viewed)
        #expect(try viewed.output.toArray(of: Float.self) == (try fresh.output.toArray(of: Float.self)))
        #expect(try shared.toArray(of: Float.self).allSatisfy { $0 == 0 })
    }

    @Test func standardBlockSizesFollowTheCaches() {
        // The rule on an Emerald Rapids core (48 KiB L1d, 2 MiB L2), a Zen 3 EPYC core (32 KiB, 512 KiB)
        // and on smaller/unknown caches.
        #expect(AttentionBlockSizes.standard(headDimension: 64, l1dBytes: 48 << 10, l2Bytes: 2 << 20) == .init(query: 64, key: 48))
        #expect(AttentionBlockSizes.standard(headDimension: 128, l1dBytes: 48 << 10, l2Bytes: 2 << 20) == .init(query: 64, key: 48))
        #expect(AttentionBlockSizes.standard(headDimension: 256, l1dBytes: 48 << 10, l2Bytes: 2 << 20) == .init(query: 64, key: 48))
        for d in [64, 128, 256] {
            #expect(AttentionBlockSizes.standard(headDimension: d, l1dBytes: 32 << 10, l2Bytes: 512 << 10) == .init(query: 64, key: 32))
        }
        #expect(AttentionBlockSizes.standard(headDimension: 64, l1dBytes: 32 << 10, l2Bytes: 1 << 20) == .init(query: 64, key: 32))
        // A head dimension whose query and accumulator tiles would crowd the L2 shrinks the query tile.
        #expect(AttentionBlockSizes.standard(headDimension: 512, l1dBytes: 32 << 10, l2Bytes: 512 << 10) == .init(query: 32, key: 64))
        #expect(AttentionBlockSizes.standard(headDimension: 64, l1dBytes: 0, l2Bytes: 0)
                == AttentionBlockSizes.standard(headDimension: 64, l1dBytes: 32 << 10, l2Bytes: 1 << 20))
        // A tiny L2 shrinks the key tile until K and V fit half of it.
        #expect(AttentionBlockSizes.standard(headDimension: 64, l1dBytes: 48 << 10, l2Bytes: 32 << 10).key == 32)
        for d in [1, 16, 17, 80, 256, 1024] {
            for (l1, l2) in [(16 << 10, 256 << 10), (48 << 10, 2 << 20), (128 << 10, 16 << 20)] {
                let b = AttentionBlockSizes.standard(headDimension: d, l1dBytes: l1, l2Bytes: l2)
                #expect(b.query % 16 == 0 && (16...128).contains(b.query) && b.key % 16 == 0 && (32...512).contains(b.key))
            }
        }
        // This machine's: read from kestrel_cpu_describe.
        let cpu = CPUDescription.current
        #expect(AttentionBlockSizes.standard(headDimension: 64) == .standard(headDimension: 64, l1dBytes: cpu.l1dBytes, l2Bytes: cpu.l2Bytes))
    }

    @Test func automaticTileProductsFollowTheTierAndTileSize() {
        let small = AttentionBlockSizes(query: 64, key: 64)
        #expect(FlashAttention.TileProducts.resolved(headDimension: 64, blockSizes: small, isa: .scalar) == .blas)
        for isa in [ISALevel.avx2, .avx512, .neon] {
            #expect(FlashAttention.TileProducts.resolved(headDimension: 64, blockSizes: small, isa: isa) == .cKernel)
            #expect(FlashAttention.TileProducts.resolved(headDimension: 256, blockSizes: .init(query: 256, key: 256), isa: isa) == .blas)
            #expect(FlashAttention.TileProducts.resolved(headDimension: .max, blockSizes: .init(query: .max, key: 2), isa: isa) == .blas)
        }
        #expect(FlashAttention().tileProducts == .automatic)
    }

    @Test func concurrentCallsShareTheScratchCacheSafely() async throws {
        let q = try Tensor(Ref.random(4 * 45 * 32, seed: 41), shape: [1, 4, 45, 32])
        let k = try Tensor(Ref.random(4 * 45 * 32, seed: 42), shape: [1, 4, 45, 32])
        let want = try FlashAttention().forward(query: q, key: k, value: k, options: AttentionOptions(causal: true)).output.toArray(of: Float.self)
        try await withThrowingTaskGroup(of: [Float].self) { group in
            for i in 0..<12 {
                group.addTask {
                    // Different tile sizes ask the cache for different scratch sizes.
                    let kernel = FlashAttention(blockSizes: i % 3 == 0 ? nil : AttentionBlockSizes(query: 16 * (i % 3), key: 32 * (i % 4 + 1)))
                    return try kernel.forward(query: q, key: k, value: k, options: AttentionOptions(causal: true, threads: 1 + i % 2))
                        .output.toArray(of: Float.self)
                }
            }
            for try await got in group {
                #expect(zip(got, want).allSatisfy { abs($0 - $1) <= 1e-5 })
            }
        }
    }
}
