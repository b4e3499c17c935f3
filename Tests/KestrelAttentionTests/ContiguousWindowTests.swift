import Foundation
import Testing
import _KestrelTestSupport
@testable import KestrelAttention

/// Sliding-window eviction in ContiguousKVCache (a ring of rows after the sinks): decode after
/// eviction equals attention over the kept positions, the PyTorch fixture, the paged cache's
/// decode with the same window; memory stays bounded; bad input leaves the cache unchanged.
@Suite struct ContiguousWindowTests {
    /// Rows [HKV, N, D] of positions `kept` of k (a gather along axis 1).
    static func gather(_ x: Tensor, _ kept: [Int]) throws -> Tensor {
        let dims = x.shape.dims, a = try x.toArray(of: Float.self)
        var out = [Float]()
        for h in 0..<dims[0] {
            for j in kept { out += a[((h * dims[1] + j) * dims[2])..<((h * dims[1] + j + 1) * dims[2])] }
        }
        return try Tensor(out, shape: [dims[0], kept.count, dims[2]])
    }

    @Test func slidingWindowFixture() throws {
        let c = "attention/sliding_window_decode_w64_nk200"
        func tensor(_ f: String) throws -> Tensor {
            let a = try Fixtures.npy("\(c)/\(f).npy")
            return try Tensor(a.values.map { Float($0) }, shape: Array(a.shape.dropFirst()))
        }
        let q = try tensor("q"), k = try tensor("k"), v = try tensor("v"), o = try tensor("o"), lse = try tensor("lse")
        for oneAppend in [false, true] {
            let cache = try ContiguousKVCache(layout: KVCacheLayout(kvHeads: 2, headDimension: 64), initialCapacity: 3,
                                              window: SlidingWindow(tokens: 64))
            let seq = try cache.addSequence()
            if oneAppend { try cache.append(to: seq, keys: k, values: v) } else { try KVCacheDecodeTests.fill(cache, seq, k, v) }
            // Ring of roundUp(64 + 7 + 15, 16) = 96 rows: positions 104..<200 are kept; the view blocks
            // of positions 0..<112 are evicted (block 6 = 96..<112 lost 96...103).
            #expect(cache.ringRows == 96 && cache.sinkRows == 0)
            let st = cache.statistics
            #expect(st.windowEvictedBlocks == 7 && st.tokens == 200, "\(st)")
            #expect(st.bytesAllocated == 96 * cache.layout.bytesPerToken && st.bytesUsed == st.bytesAllocated)
            let got = try cache.decode(query: q, sequence: seq, options: DecodeOptions(scale: 0.125, threads: 2))
            #expect(try KVCacheDecodeTests.maxAbs(got.output, o) <= 1e-5)
            #expect(try KVCacheDecodeTests.maxAbs(got.logSumExp, lse) <= 1e-5)
        }
    }

    /// Token by token through several wraps of the ring, with sinks: after each append the decode of
    /// the last NQ positions equals a forward over the positions each query keeps, and the contiguous
    /// and paged caches with the same window agree for every storage type.
    @Test(arguments: [1, 3, 8])
    func decodeAfterEvictionEqualsAttentionOverTheKeptPositions(nq: Int) throws {
        let n = 150, w = SlidingWindow(tokens: 21, sinkTokens: 5), d = 24
        let (q, k, v) = try KVCacheDecodeTests.data(heads: 4, kvHeads: 2, n: n, nq: nq, d: d, seed: UInt64(40 + nq))
        for storage in KVCacheStorage.allCases {
            let layout = KVCacheLayout(kvHeads: 2, headDimension: d, storage: storage)
            let cache = try ContiguousKVCache(layout: layout, initialCapacity: 1, window: w)
            let paged = try PagedKVCache(layout: layout, blockTokens: 8, blockCount: 40, window: w)
            let s = try cache.addSequence(), p = try paged.addSequence()
            // Sinks 5 → 16 rows; ring roundUp(21 + 7 + 15, 16) = 48 rows: at most 64 rows ever.
            #expect(cache.sinkRows == 16 && cache.ringRows == 48)
            var length = 0
            for step in [1, 2, 1, 7, 30, 1, 1, 50, 3, 1, 1, 1, 51] {
                try KVCacheDecodeTests.append(cache, s, k, v, length..<(length + step))
                try KVCacheDecodeTests.append(paged, p, k, v, length..<(length + step))
                length += step
                #expect(cache.statistics.bytesAllocated <= 64 * layout.bytesPerToken)
                let b = ContiguousKVCache.windowBlockTokens
                let evicted = length > 64 ? (length - 48 + b - 1) / b - 1 : 0
                #expect(cache.statistics.windowEvictedBlocks == evicted, "length \(length)")
                guard length >= nq else { continue }
                let got = try cache.decode(query: q, sequence: s, options: DecodeOptions(threads: 2, splits: 3))
                let other = try paged.decode(query: q, sequence: p)
                #expect(try KVCacheDecodeTests.maxAbs(got.output, other.output) <= 1e-5, "\(storage) length \(length)")
                guard storage == .f32 else { continue }
                // Query i (position length − nq + i) keeps the sinks and the last 21 positions up to it.
                for i in 0..<nq {
                    let pos = length - nq + i
                    let kept = (0...pos).filter { $0 < w.sinkTokens || $0 > pos - w.tokens }
                    let qi = try q.slice(axis: 1, i..<(i + 1)).contiguous()
                    let want = try KVCacheDecodeTests.reference(qi, try Self.gather(k, kept), try Self.gather(v, kept), causal: false)
                    let gi = try got.output.slice(axis: 1, i..<(i + 1)).contiguous()
                    let li = try got.logSumExp.slice(axis: 1, i..<(i + 1)).contiguous()
                    #expect(try KVCacheDecodeTests.maxAbs(gi, want.output) <= 1e-5, "length \(length) query \(i)")
                    #expect(try KVCacheDecodeTests.maxAbs(li, want.logSumExp) <= 1e-5, "length \(length) query \(i) lse")
                }
            }
            #expect(length == n)
        }
    }

    /// A fork of a wrapped sequence copies the ring; the two then evict independently.
    @Test func forkOfAWrappedSequence() throws {
        let (q, k, v) = try KVCacheDecodeTests.data(heads: 2, kvHeads: 1, n: 120, nq: 1, d: 16, seed: 3)
        let (_, k2, v2) = try KVCacheDecodeTests.data(heads: 2, kvHeads: 1, n: 120, nq: 1, d: 16, seed: 13)
        let cache = try ContiguousKVCache(layout: KVCacheLayout(kvHeads: 1, headDimension: 16, storage: .int8), window: SlidingWindow(tokens: 10, sinkTokens: 1))
        let a = try cache.addSequence()
        try KVCacheDecodeTests.append(cache, a, k, v, 0..<90)
        let b = try cache.fork(a)
        try KVCacheDecodeTests.append(cache, a, k, v, 90..<120)
        try cache.append(to: b, keys: try k2.slice(axis: 1, 90..<120).contiguous(), values: try v2.slice(axis: 1, 90..<120).contiguous())
        let solo = try ContiguousKVCache(layout: cache.layout, initialCapacity: 7, window: cache.window)
        let c = try solo.addSequence()
        try KVCacheDecodeTests.fill(solo, c, k, v)
        #expect(try KVCacheDecodeTests.maxAbs(try cache.decode(query: q, sequence: a).output, try solo.decode(query: q, sequence: c).output) <= 1e-6)
        #expect(try KVCacheDecodeTests.maxAbs(try cache.decode(query: q, sequence: a).output, try cache.decode(query: q, sequence: b).output) > 1e-3)
        #expect(cache.statistics.tokens == 240)
    }

    @Test func badInputThrowsAndLeavesTheWindowedCacheUnchanged() throws {
        let layout = KVCacheLayout(kvHeads: 2, headDimension: 8)
        for bad in [SlidingWindow(tokens: 0), SlidingWindow(tokens: 4, sinkTokens: -1), SlidingWindow(tokens: .max - 3),
                    SlidingWindow(tokens: 4, sinkTokens: .max - 3)] {
            #expect(throws: KestrelError.self) { try ContiguousKVCache(layout: layout, window: bad) }
        }
        #expect(throws: KestrelError.self) {
            try ContiguousKVCache(layout: KVCacheLayout(kvHeads: 1 << 20, headDimension: 1 << 20), window: SlidingWindow(tokens: 1 << 30))
        }
        let cache = try ContiguousKVCache(layout: layout, initialCapacity: 2, maxTokens: 200, window: SlidingWindow(tokens: 6, sinkTokens: 2))
        let s = try cache.addSequence()
        try cache.append(to: s, keys: try KVCacheTests.rows(150, seed: 1), values: try KVCacheTests.rows(150, seed: 2))  // wrapped
        let before = cache.statistics
        #expect(before.windowEvictedBlocks > 0)
        let q = try Tensor.random([2, 2, 8], seed: 3)
        let out = try cache.decode(query: q, sequence: s)
        var nan = try KVCacheTests.rows(3, seed: 4).toArray(of: Float.self)
        nan[7] = .infinity
        let bad: [(Tensor, Tensor, [Int32]?)] = [
            (try Tensor.random([3, 2, 8], seed: 5), try Tensor.random([3, 2, 8], seed: 5), nil),  // wrong K/V heads
            (try KVCacheTests.rows(2, seed: 6), try KVCacheTests.rows(3, seed: 6), nil),          // K/V shapes differ
            (try KVCacheTests.rows(2, seed: 6), try KVCacheTests.rows(2, seed: 7), [1]),           // token count
            (try Tensor(nan, shape: [2, 3, 8]), try KVCacheTests.rows(3, seed: 8), nil),          // Inf
            (try KVCacheTests.rows(51, seed: 9), try KVCacheTests.rows(51, seed: 9), nil),        // past maxTokens
        ]
        for (k, v, t) in bad {
            #expect(throws: KestrelError.self) { try cache.append(to: s, keys: k, values: v, tokens: t) }
        }
        #expect(try cache.length(of: s) == 150 && cache.statistics == before)
        #expect(try KVCacheDecodeTests.maxAbs(try cache.decode(query: q, sequence: s).output, out.output) == 0)
        #expect(throws: KestrelError.capacityExceeded(limit: 200, requested: 201)) {
            try cache.append(to: s, keys: try KVCacheTests.rows(51, seed: 9), values: try KVCacheTests.rows(51, seed: 9))
        }
        // NQ larger than the sequence, and a window the earliest of 8 queries still sees.
        let short = try cache.addSequence()
        try cache.append(to: short, keys: try KVCacheTests.rows(1, seed: 1), values: try KVCacheTests.rows(1, seed: 1))
        #expect(throws: KestrelError.self) { try cache.decode(query: q, sequence: short) }
        let q8 = try Tensor.random([2, 8, 8], seed: 4)
        _ = try cache.decode(query: q8, sequence: s)
    }
}
