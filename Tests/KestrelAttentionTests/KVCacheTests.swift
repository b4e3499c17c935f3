import Foundation
import Metrics
import MetricsTestKit
import Testing
import _KestrelTestSupport
@testable import KestrelAttention

/// The caches' bookkeeping: misuse errors leave the cache unchanged, allocator counts, prefix
/// caching with verified hash hits, LRU reuse of cached blocks, statistics and their export.
@Suite struct KVCacheTests {
    static let layout = KVCacheLayout(kvHeads: 2, headDimension: 8)

    static func rows(_ t: Int, seed: UInt64) throws -> Tensor { try Tensor.random([2, t, 8], seed: seed) }

    static func caches() throws -> [any KVCache] {
        [try PagedKVCache(layout: layout, blockTokens: 4, blockCount: 6), try ContiguousKVCache(layout: layout, initialCapacity: 2, maxTokens: 24)]
    }

    @Test func misuseThrowsAndLeavesTheCacheUnchanged() throws {
        for cache in try Self.caches() {
            let s = try cache.addSequence()
            try cache.append(to: s, keys: try Self.rows(5, seed: 1), values: try Self.rows(5, seed: 2))
            let before = cache.statistics
            let q = try Tensor.random([2, 1, 8], seed: 3)
            let out = try cache.decode(query: q, sequence: s)
            var nan = try Self.rows(3, seed: 4).toArray(of: Float.self)
            nan[40] = .nan
            let bad: [(Tensor, Tensor, [Int32]?)] = [
                (try Tensor.random([3, 2, 8], seed: 5), try Tensor.random([3, 2, 8], seed: 5), nil),  // wrong K/V heads
                (try Tensor.random([2, 2, 9], seed: 5), try Tensor.random([2, 2, 9], seed: 5), nil),  // wrong head dimension
                (try Tensor.random([2, 8], seed: 5), try Tensor.random([2, 8], seed: 5), nil),        // wrong rank
                (try Self.rows(2, seed: 6), try Self.rows(3, seed: 6), nil),                         // K/V shapes differ
                (try Self.rows(2, seed: 6), try Self.rows(2, seed: 7), [1, 2, 3]),                   // token count
                (try Tensor(nan, shape: [2, 3, 8]), try Self.rows(3, seed: 8), nil),                 // NaN
                (try Self.rows(40, seed: 9), try Self.rows(40, seed: 9), nil),                       // out of blocks / capacity
            ]
            for (k, v, t) in bad {
                #expect(throws: KestrelError.self) { try cache.append(to: s, keys: k, values: v, tokens: t) }
            }
            // Nothing half-appended: same length, counters and output.
            #expect(try cache.length(of: s) == 5)
            #expect(cache.statistics == before)
            #expect(try KVCacheDecodeTests.maxAbs(try cache.decode(query: q, sequence: s).output, out.output) == 0)
            let released = try cache.fork(s)
            try cache.release(released)
            let unknown = KVSequence(id: 999)
            for x in [released, unknown] {
                #expect(throws: KestrelError.self) { try cache.append(to: x, keys: try Self.rows(1, seed: 1), values: try Self.rows(1, seed: 1)) }
                #expect(throws: KestrelError.self) { try cache.fork(x) }
                #expect(throws: KestrelError.self) { try cache.release(x) }
                #expect(throws: KestrelError.self) { try cache.length(of: x) }
                #expect(throws: KestrelError.self) { try cache.decode(query: q, sequence: x) }
            }
            // An empty append is valid and changes nothing.
            try cache.append(to: s, keys: try Self.rows(0, seed: 1), values: try Self.rows(0, seed: 1))
            #expect(try cache.length(of: s) == 5 && cache.statistics == before)
        }
        #expect(throws: KestrelError.self) { try PagedKVCache(layout: KVCacheLayout(kvHeads: 0, headDimension: 8), blockCount: 1) }
        #expect(throws: KestrelError.self) { try PagedKVCache(layout: Self.layout, blockTokens: 0, blockCount: 1) }
        #expect(throws: KestrelError.self) { try PagedKVCache(layout: Self.layout, blockCount: 0) }
        #expect(throws: KestrelError.self) { try PagedKVCache(layout: Self.layout, blockCount: 1, window: SlidingWindow(tokens: 0)) }
        #expect(throws: KestrelError.self) { try ContiguousKVCache(layout: Self.layout, initialCapacity: 0) }
        #expect(throws: KestrelError.self) { try PagedKVCache(layout: KVCacheLayout(kvHeads: 1 << 40, headDimension: 1 << 30), blockCount: 1) }
    }

    @Test func outOfBlocksNamesTheShortfall() throws {
        let cache = try PagedKVCache(layout: Self.layout, blockTokens: 4, blockCount: 3)
        let a = try cache.addSequence()
        try cache.append(to: a, keys: try Self.rows(10, seed: 1), values: try Self.rows(10, seed: 2))
        let b = try cache.fork(a)
        // b's shared partial last block needs a copy and 16 tokens a fourth block: 2 > 0 free.
        #expect(throws: KestrelError.capacityExceeded(limit: 0, requested: 2)) {
            try cache.append(to: b, keys: try Self.rows(6, seed: 1), values: try Self.rows(6, seed: 2))
        }
        try cache.release(a)
        #expect(cache.statistics.blocksUsed == 3 && cache.statistics.blocksFree == 0)
        try cache.append(to: b, keys: try Self.rows(2, seed: 1), values: try Self.rows(2, seed: 2))  // sole owner now: no copy
        #expect(cache.statistics.copiedOnWriteBlocks == 0)
    }

    @Test func contiguousGrowthAndFork() throws {
        let cache = try ContiguousKVCache(layout: KVCacheLayout(kvHeads: 2, headDimension: 8, storage: .int8), initialCapacity: 1)
        let s = try cache.addSequence()
        let k = try Self.rows(100, seed: 1), v = try Self.rows(100, seed: 2)
        try KVCacheDecodeTests.fill(cache, s, k, v)
        let st = cache.statistics
        #expect(st.tokens == 100 && st.bytesUsed == 100 * cache.layout.bytesPerToken)
        #expect(st.bytesAllocated == 128 * cache.layout.bytesPerToken)  // capacity doubled 1 → 128
        let f = try cache.fork(s)
        try cache.append(to: f, keys: try Self.rows(1, seed: 3), values: try Self.rows(1, seed: 4))
        #expect(try cache.length(of: s) == 100 && cache.length(of: f) == 101 && cache.statistics.tokens == 201)
        #expect(try cache.addSequence(prompt: [1, 2, 3]).cachedTokens == 0)
    }

    @Test func prefixCacheServesWholeVerifiedBlocks() throws {
        let (q, k, v) = try KVCacheDecodeTests.data(heads: 4, kvHeads: 2, n: 45, nq: 1, d: 8, seed: 11)
        let tokens = (0..<45).map { Int32($0 * 7 + 3) }
        let cache = try PagedKVCache(layout: Self.layout, blockTokens: 8, blockCount: 16)
        let (a, cachedA) = try cache.addSequence(prompt: tokens)
        #expect(cachedA == 0)
        try KVCacheDecodeTests.fill(cache, a, k, v, tokens: tokens)
        let want = try cache.decode(query: q, sequence: a)
        try cache.release(a)
        #expect(cache.statistics.blocksCached == 5 && cache.statistics.blocksUsed == 0)

        // The same prompt: 5 full blocks cached, but at most all but the last token: 40 of 45.
        let (b, cachedB) = try cache.addSequence(prompt: tokens)
        #expect(cachedB == 40)
        try KVCacheDecodeTests.append(cache, b, k, v, 40..<45, tokens: tokens)
        #expect(try KVCacheDecodeTests.maxAbs(try cache.decode(query: q, sequence: b).output, want.output) == 0)
        // A prompt sharing 2 blocks, then differing: 2 blocks served.
        var other = tokens
        other[20] = -1
        #expect(try cache.addSequence(prompt: other).cachedTokens == 16)
        // A prompt differing in its first token: nothing.
        other[0] = -5
        #expect(try cache.addSequence(prompt: other).cachedTokens == 0)
        let st = cache.statistics
        #expect(st.prefixLookups == 4 && st.prefixHitBlocks == 7 && st.tokensServedFromCache == 56)
        // A sequence appended without token ids registers nothing.
        let c = try cache.addSequence()
        try KVCacheDecodeTests.fill(cache, c, k, v)
        #expect(cache.statistics.blocksCached == 0)
    }

    /// With every hash equal, only the token comparison tells blocks apart: a hit must be verified.
    @Test func hashCollisionsAreVerified() throws {
        let cache = try PagedKVCache(layout: Self.layout, blockTokens: 4, blockCount: 16)
        cache.hashBlock = { _, _ in 42 }
        let first: [Int32] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        let (a, _) = try cache.addSequence(prompt: first)
        try cache.append(to: a, keys: try Self.rows(9, seed: 1), values: try Self.rows(9, seed: 2), tokens: first)
        #expect(try cache.addSequence(prompt: [11, 12, 13, 14, 15]).cachedTokens == 0)  // same hash, other tokens
        #expect(try cache.addSequence(prompt: [1, 2, 3, 4, 5]).cachedTokens == 4)       // same hash, same tokens
        // Block 2's hash equals block 1's, so it cannot be registered too; the chain stops there.
        #expect(try cache.addSequence(prompt: first).cachedTokens == 4)
    }

    @Test func cachedBlocksAreReusedLeastRecentlyFreedFirst() throws {
        let cache = try PagedKVCache(layout: Self.layout, blockTokens: 4, blockCount: 4)
        let p1: [Int32] = Array(1...8), p2: [Int32] = Array(101...108)
        for p in [p1, p2] {
            let (s, _) = try cache.addSequence(prompt: p)
            try cache.append(to: s, keys: try Self.rows(8, seed: 1), values: try Self.rows(8, seed: 2), tokens: p)
            try cache.release(s)
        }
        #expect(cache.statistics.blocksCached == 4 && cache.statistics.blocksFree == 4)
        // Two new blocks evict p1's (freed first); p2 stays served.
        let s = try cache.addSequence()
        try cache.append(to: s, keys: try Self.rows(8, seed: 3), values: try Self.rows(8, seed: 4))
        #expect(cache.statistics.prefixEvictedBlocks == 2)
        #expect(try cache.addSequence(prompt: p1 + [0]).cachedTokens == 0)
        #expect(try cache.addSequence(prompt: p2 + [0]).cachedTokens == 8)
    }

    @Test func statisticsPublishAsGauges() throws {
        let cache = try PagedKVCache(layout: KVCacheLayout(kvHeads: 2, headDimension: 8, storage: .f16), blockTokens: 4, blockCount: 10)
        let s = try cache.addSequence()
        try cache.append(to: s, keys: try Self.rows(6, seed: 1), values: try Self.rows(6, seed: 2))
        let st = cache.statistics
        #expect(st.tokens == 6 && st.blocksUsed == 2 && st.blocksFree == 8 && st.sequences == 1)
        #expect(st.bytesAllocated == 10 * 4 * cache.bytesPerToken && st.bytesUsed == 2 * 4 * cache.bytesPerToken)
        let metrics = TestMetrics()
        st.publish(label: "kv", dimensions: [("cache", "paged")], factory: metrics)
        #expect(try metrics.expectGauge("kv.tokens", [("cache", "paged")]).lastValue == 6)
        #expect(try metrics.expectGauge("kv.blocks_used", [("cache", "paged")]).lastValue == 2)
        #expect(try metrics.expectGauge("kv.bytes_allocated", [("cache", "paged")]).lastValue == Double(st.bytesAllocated))
        #expect(st.fields.count == 13)
    }
}

/// Concurrent use under ThreadSanitizer (.ci/tsan-tests): decodes of sequences sharing prefix
/// blocks while other threads append, fork and release their own sequences.
@Suite struct KVCacheConcurrencyTests {
    @Test func concurrentDecodeOfSequencesSharingPrefixBlocks() throws {
        let layout = KVCacheLayout(kvHeads: 2, headDimension: 16, storage: .int8)
        let cache = try PagedKVCache(layout: layout, blockTokens: 8, blockCount: 200)
        let prompt = (0..<40).map { Int32($0) }
        let k = try Tensor.random([2, 40, 16], seed: 1), v = try Tensor.random([2, 40, 16], seed: 2)
        let (root, _) = try cache.addSequence(prompt: prompt)
        try cache.append(to: root, keys: k, values: v, tokens: prompt)
        let q = try Tensor.random([4, 1, 16], seed: 3)
        let options = DecodeOptions(threads: 2, splits: 3)
        let want = try cache.decode(query: q, sequence: root, options: options).output.toArray(of: Float.self)
        let failures = FirstError()
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            let r = Result { () throws(KestrelError) in
                for round in 0..<15 {
                    // Half the threads decode forks of the shared sequence; the others build their own
                    // from the prefix cache, append their own rows and decode them.
                    if i % 2 == 0 {
                        let f = try cache.fork(root)
                        let got = try cache.decode(query: q, sequence: f, options: options)
                        if try got.output.toArray(of: Float.self) != want { failures.record(.invalidArgument(name: "decode", reason: "thread \(i) round \(round)")) }
                        try cache.release(f)
                    } else {
                        let (s, cached) = try cache.addSequence(prompt: prompt + [Int32(i)])
                        try cache.append(to: s, keys: try k.slice(axis: 1, cached..<40).contiguous(),
                                         values: try v.slice(axis: 1, cached..<40).contiguous())
                        try cache.append(to: s, keys: try Tensor.random([2, 3, 16], seed: UInt64(i * 100 + round)),
                                         values: try Tensor.random([2, 3, 16], seed: UInt64(i * 100 + round + 1)))
                        _ = try cache.decode(query: q, sequence: s)
                        try cache.release(s)
                    }
                }
            }
            if case .failure(let e) = r { failures.record(e) }
        }
        #expect(failures.error == nil, "\(String(describing: failures.error))")
        try cache.release(root)
        #expect(cache.statistics.blocksUsed == 0 && cache.statistics.sequences == 0)
    }
}
