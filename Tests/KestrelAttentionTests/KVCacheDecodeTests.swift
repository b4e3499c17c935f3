import Foundation
import Testing
import _KestrelTestSupport
@testable import KestrelAttention

/// Decode through KV caches against FlashAttention's forward on the same rows, and the paged and
/// sliding-window decode fixtures (PyTorch SDPA in float64).
@Suite struct KVCacheDecodeTests {
    /// [HKV, N, D] keys and values and [H, NQ, D] queries, uniform in ±1.
    static func data(heads: Int, kvHeads: Int, n: Int, nq: Int, d: Int, seed: UInt64) throws -> (q: Tensor, k: Tensor, v: Tensor) {
        (try Tensor.random([heads, nq, d], seed: seed), try Tensor.random([kvHeads, n, d], seed: seed + 1),
         try Tensor.random([kvHeads, n, d], seed: seed + 2))
    }

    /// Appends the rows [lo, hi) of k and v.
    static func append(_ cache: some KVCache, _ s: KVSequence, _ k: Tensor, _ v: Tensor, _ r: Range<Int>, tokens: [Int32]? = nil) throws {
        try cache.append(to: s, keys: try k.slice(axis: 1, r).contiguous(), values: try v.slice(axis: 1, r).contiguous(),
                         tokens: tokens.map { Array($0[r]) })
    }

    /// Appends all rows in odd-sized pieces (so appends straddle block boundaries).
    static func fill(_ cache: some KVCache, _ s: KVSequence, _ k: Tensor, _ v: Tensor, tokens: [Int32]? = nil) throws {
        let n = k.shape.dims[1]
        var lo = 0, step = 1
        while lo < n {
            let hi = min(n, lo + step)
            try append(cache, s, k, v, lo..<hi, tokens: tokens)
            lo = hi
            step = step * 2 + 1
        }
    }

    /// FlashAttention forward on [1, …] views of the same data.
    static func reference(_ q: Tensor, _ k: Tensor, _ v: Tensor, scale: Float? = nil, causal: Bool = true, windowLeft: Int? = nil,
                          bias: Tensor? = nil) throws -> AttentionOutput {
        let o = AttentionOptions(scale: scale, causal: causal, windowLeft: windowLeft, bias: bias)
        let r = try FlashAttention().forward(query: try q.reshaped([1] + q.shape.dims), key: try k.reshaped([1] + k.shape.dims),
                                             value: try v.reshaped([1] + v.shape.dims), options: o)
        return r
    }

    static func maxAbs(_ a: Tensor, _ b: Tensor) throws -> Float {
        let x = try a.toArray(of: Float.self), y = try b.toArray(of: Float.self)
        #expect(x.count == y.count)
        return zip(x, y).map { $0.isInfinite && $0 == $1 ? 0 : abs($0 - $1) }.max() ?? 0
    }

    struct Shape: Sendable, CustomStringConvertible {
        let heads, kvHeads, n, nq, d: Int
        var description: String { "H\(heads)/\(kvHeads) N\(n) NQ\(nq) D\(d)" }
    }

    static let shapes = [Shape(heads: 8, kvHeads: 2, n: 300, nq: 1, d: 128), Shape(heads: 4, kvHeads: 4, n: 1, nq: 1, d: 16),
                         Shape(heads: 6, kvHeads: 2, n: 77, nq: 3, d: 80), Shape(heads: 2, kvHeads: 1, n: 130, nq: 8, d: 33),
                         Shape(heads: 4, kvHeads: 2, n: 8, nq: 8, d: 64)]

    @Test(arguments: shapes)
    func f32DecodeMatchesFlashAttention(_ s: Shape) throws {
        let (q, k, v) = try Self.data(heads: s.heads, kvHeads: s.kvHeads, n: s.n, nq: s.nq, d: s.d, seed: UInt64(s.n * 31 + s.d))
        let want = try Self.reference(q, k, v)
        let layout = KVCacheLayout(kvHeads: s.kvHeads, headDimension: s.d)
        let caches: [any KVCache] = [try PagedKVCache(layout: layout, blockTokens: 16, blockCount: 40),
                                     try PagedKVCache(layout: layout, blockTokens: 7, blockCount: 60),
                                     try ContiguousKVCache(layout: layout, initialCapacity: 5)]
        for cache in caches {
            let seq = try cache.addSequence()
            try Self.fill(cache, seq, k, v)
            for (threads, splits) in [(1, 1), (2, nil), (2, 5)] as [(Int, Int?)] {
                let got = try cache.decode(query: q, sequence: seq, options: DecodeOptions(threads: threads, splits: splits))
                let e = try Self.maxAbs(got.output, want.output), el = try Self.maxAbs(got.logSumExp, want.logSumExp)
                #expect(e <= 1e-5 && el <= 1e-5, "\(type(of: cache)) \(s) threads \(threads) splits \(String(describing: splits)): \(e) lse \(el)")
            }
            // Not causal: every query sees every position.
            let nc = try cache.decode(query: q, sequence: seq, options: DecodeOptions(causal: false))
            #expect(try Self.maxAbs(nc.output, try Self.reference(q, k, v, causal: false).output) <= 1e-5)
        }
    }

    @Test func pagedDecodeFixture() throws {
        let dir = "attention/paged_decode"
        func npy(_ f: String) throws -> (values: [Double], shape: [Int]) {
            let a = try Fixtures.npy("\(dir)/\(f).npy")
            return (a.values, a.shape)
        }
        let q = try npy("q"), kp = try npy("k_pages"), vp = try npy("v_pages"), table = try npy("block_table")
        let lens = try npy("seq_lens").values.map { Int($0) }, o = try npy("o").values, lse = try npy("lse").values
        let (pages, hkv, ps, d) = (kp.shape[0], kp.shape[1], kp.shape[2], kp.shape[3])
        let heads = q.shape[1], maxPages = table.shape[1]
        #expect(lens == [37, 100] && ps == 16 && pages == 13)
        for storage in KVCacheStorage.allCases {
            let cache = try PagedKVCache(layout: KVCacheLayout(kvHeads: hkv, headDimension: d, storage: storage), blockTokens: ps, blockCount: 16)
            for b in 0..<lens.count {
                // Gather the sequence's rows [HKV, len, D] through its page table.
                var kr = [Float](), vr = [Float]()
                for h in 0..<hkv {
                    for t in 0..<lens[b] {
                        let page = Int(table.values[b * maxPages + t / ps])
                        let off = ((page * hkv + h) * ps + t % ps) * d
                        kr += kp.values[off..<(off + d)].map { Float($0) }
                        vr += vp.values[off..<(off + d)].map { Float($0) }
                    }
                }
                let seq = try cache.addSequence()
                let k = try Tensor(kr, shape: [hkv, lens[b], d]), v = try Tensor(vr, shape: [hkv, lens[b], d])
                try Self.fill(cache, seq, k, v)
                let qb = try Tensor(q.values[(b * heads * d)..<((b + 1) * heads * d)].map { Float($0) }, shape: [heads, 1, d])
                let got = try cache.decode(query: qb, sequence: seq, options: DecodeOptions(scale: 0.125, causal: false, threads: 2))
                let go = try got.output.toArray(of: Float.self), gl = try got.logSumExp.toArray(of: Float.self)
                let e = zip(go, o[(b * heads * d)..<((b + 1) * heads * d)]).map { abs(Double($0) - $1) }.max()!
                let el = zip(gl, lse[(b * heads)..<((b + 1) * heads)]).map { abs(Double($0) - $1) }.max()!
                let tol = storage == .f32 ? 1e-5 : storage == .f16 ? 2e-3 : 2e-2
                #expect(e <= tol && el <= tol * 10, "\(storage) sequence \(b): max abs error \(e), lse \(el)")
            }
        }
    }

    @Test func slidingWindowFixture() throws {
        let c = "attention/sliding_window_decode_w64_nk200"
        func tensor(_ f: String) throws -> Tensor {
            let a = try Fixtures.npy("\(c)/\(f).npy")
            return try Tensor(a.values.map { Float($0) }, shape: Array(a.shape.dropFirst()))
        }
        let q = try tensor("q"), k = try tensor("k"), v = try tensor("v"), o = try tensor("o"), lse = try tensor("lse")
        for block in [16, 5] {
            let cache = try PagedKVCache(layout: KVCacheLayout(kvHeads: 2, headDimension: 64), blockTokens: block, blockCount: 40,
                                         window: SlidingWindow(tokens: 64))
            let seq = try cache.addSequence()
            try Self.fill(cache, seq, k, v)
            let st = cache.statistics
            #expect(st.windowEvictedBlocks > 0 && st.blocksUsed * block < 200, "block \(block): \(st)")
            #expect(try cache.blockTable(of: seq).first == -1)
            let got = try cache.decode(query: q, sequence: seq, options: DecodeOptions(scale: 0.125, threads: 2))
            #expect(try Self.maxAbs(got.output, o) <= 1e-5)
            #expect(try Self.maxAbs(got.logSumExp, lse) <= 1e-5)
        }
    }

    @Test(arguments: [1, 4, 8])
    func windowWithSinksMatchesAMaskedForward(nq: Int) throws {
        let (q, k, v) = try Self.data(heads: 4, kvHeads: 2, n: 190, nq: nq, d: 24, seed: 77)
        let w = SlidingWindow(tokens: 40, sinkTokens: 5)
        let cache = try PagedKVCache(layout: KVCacheLayout(kvHeads: 2, headDimension: 24), blockTokens: 8, blockCount: 30, window: w)
        let seq = try cache.addSequence()
        try Self.fill(cache, seq, k, v)
        #expect(cache.statistics.windowEvictedBlocks > 0)
        var bias = [Float](repeating: 0, count: nq * 190)
        for i in 0..<nq {
            let pos = 190 - nq + i
            for j in 0..<190 where j > pos || (j < pos - (w.tokens - 1) && j >= w.sinkTokens) { bias[i * 190 + j] = -.infinity }
        }
        let want = try Self.reference(q, k, v, causal: false, bias: try Tensor(bias, shape: [1, 1, nq, 190]))
        let got = try cache.decode(query: q, sequence: seq, options: DecodeOptions(threads: 2, splits: 3))
        #expect(try Self.maxAbs(got.output, want.output) <= 1e-5)
        #expect(try Self.maxAbs(got.logSumExp, want.logSumExp) <= 1e-5)
    }

    /// int8 and f16 caches against the f32 result: the error is reported and bounded.
    @Test func reducedPrecisionErrorIsBounded() throws {
        let (q, k, v) = try Self.data(heads: 8, kvHeads: 2, n: 500, nq: 1, d: 128, seed: 5)
        let want = try Self.reference(q, k, v)
        let wantValues = try want.output.toArray(of: Float.self)
        let norm = wantValues.map { $0 * $0 }.reduce(0, +).squareRoot()
        var bytes: [KVCacheStorage: Int] = [:]
        for storage in KVCacheStorage.allCases {
            let cache = try PagedKVCache(layout: KVCacheLayout(kvHeads: 2, headDimension: 128, storage: storage), blockCount: 40)
            let seq = try cache.addSequence()
            try Self.fill(cache, seq, k, v)
            let got = try cache.decode(query: q, sequence: seq, options: DecodeOptions(threads: 2)).output.toArray(of: Float.self)
            let err = zip(got, wantValues).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot() / norm
            let bound: Float = storage == .f32 ? 1e-6 : storage == .f16 ? 1e-3 : 1e-2
            print("KV cache \(storage): relative output error \(err), \(cache.bytesPerToken) bytes/token")
            #expect(err <= bound, "\(storage): relative error \(err)")
            #expect(storage == .f32 || err > 0)  // the reduced type really is in use
            bytes[storage] = cache.bytesPerToken
        }
        #expect(bytes[.f32] == 2 * 2 * 128 * 4 && bytes[.f16] == 2 * 2 * 128 * 2 && bytes[.int8] == 2 * 2 * (128 + 4))
        #expect(Double(bytes[.int8]!) / Double(bytes[.f32]!) <= 0.27)
    }

    @Test func forksShareBlocksAndCopyOnWrite() throws {
        let (q, k, v) = try Self.data(heads: 4, kvHeads: 2, n: 60, nq: 1, d: 32, seed: 9)
        let (_, k2, v2) = try Self.data(heads: 4, kvHeads: 2, n: 60, nq: 1, d: 32, seed: 19)
        for storage in KVCacheStorage.allCases {
            let cache = try PagedKVCache(layout: KVCacheLayout(kvHeads: 2, headDimension: 32, storage: storage), blockTokens: 16, blockCount: 12)
            let a = try cache.addSequence()
            try Self.append(cache, a, k, v, 0..<40)  // 2.5 blocks
            let b = try cache.fork(a)
            #expect(try cache.blockTable(of: a) == cache.blockTable(of: b))
            #expect(cache.statistics.blocksUsed == 3)
            try Self.append(cache, a, k, v, 40..<60)
            // b continues with other rows: its shared partial block is copied first.
            try cache.append(to: b, keys: try k2.slice(axis: 1, 40..<60).contiguous(), values: try v2.slice(axis: 1, 40..<60).contiguous())
            let ta = try cache.blockTable(of: a), tb = try cache.blockTable(of: b)
            #expect(ta[0..<2] == tb[0..<2] && ta[2] != tb[2])
            #expect(cache.statistics.copiedOnWriteBlocks == 1 && cache.statistics.blocksUsed == 6)
            func joined(_ x: Tensor, _ y: Tensor) throws -> Tensor {
                let xa = try x.toArray(of: Float.self), ya = try y.toArray(of: Float.self)
                var out = [Float]()
                let per = 60 * 32, cut = 40 * 32
                for h in 0..<2 {
                    out.append(contentsOf: xa[(h * per)..<(h * per + cut)])
                    out.append(contentsOf: ya[(h * per + cut)..<((h + 1) * per)])
                }
                return try Tensor(out, shape: [2, 60, 32])
            }
            let kb = try joined(k, k2), vb = try joined(v, v2)
            let tol: Float = storage == .f32 ? 1e-5 : 2e-2
            let ga = try cache.decode(query: q, sequence: a), gb = try cache.decode(query: q, sequence: b)
            #expect(try Self.maxAbs(ga.output, try Self.reference(q, k, v).output) <= tol)
            #expect(try Self.maxAbs(gb.output, try Self.reference(q, kb, vb).output) <= tol)
            try cache.release(a)
            #expect(try Self.maxAbs(try cache.decode(query: q, sequence: b).output, gb.output) == 0)
            try cache.release(b)
            #expect(cache.statistics.blocksUsed == 0 && cache.statistics.blocksFree == 12)
        }
    }

    @Test func badDecodeArguments() throws {
        let cache = try PagedKVCache(layout: KVCacheLayout(kvHeads: 2, headDimension: 8), blockCount: 4)
        let s = try cache.addSequence()
        let q = try Tensor.random([4, 1, 8], seed: 1)
        #expect(throws: KestrelError.self) { try cache.decode(query: q, sequence: s) }  // empty: fewer tokens than queries
        try cache.append(to: s, keys: try Tensor.random([2, 3, 8], seed: 2), values: try Tensor.random([2, 3, 8], seed: 3))
        _ = try cache.decode(query: q, sequence: s)
        let bad: [Tensor] = [try Tensor.random([4, 8], seed: 1), try Tensor.random([4, 1, 9], seed: 1), try Tensor.random([3, 1, 8], seed: 1),
                             try Tensor.random([4, 9, 8], seed: 1), try Tensor.random([4, 4, 8], seed: 1),
                             try Tensor([Float](repeating: .nan, count: 32), shape: [4, 1, 8])]
        for t in bad { #expect(throws: KestrelError.self) { try cache.decode(query: t, sequence: s) } }
        #expect(throws: KestrelError.self) { try cache.decode(query: q, sequence: s, options: DecodeOptions(threads: 0)) }
        #expect(throws: KestrelError.self) { try cache.decode(query: q, sequence: s, options: DecodeOptions(splits: 0)) }
        #expect(throws: KestrelError.self) { try cache.decode(query: q, sequence: s, options: DecodeOptions(scale: .infinity)) }
        try cache.release(s)
        #expect(throws: KestrelError.self) { try cache.decode(query: q, sequence: s) }
    }
}
