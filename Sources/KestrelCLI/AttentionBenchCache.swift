import Foundation
import Kestrel

/// `kestrel attention-bench --cache f32|f16|int8 [--paged --block N]`: the same problem with K/V
/// routed through a KV cache (one sequence per batch item) and the decode path timed.
struct AttentionBenchCachedDecode {
    let caches: [any KVCache]
    let sequences: [KVSequence]
    let queries: [Tensor]
    let options: DecodeOptions
    let implementation: String
    /// K/V bytes the decode reads: every cached row of every batch item in the storage type.
    let cacheBytes: Int
    /// Storage the caches allocated (pool or buffers).
    let allocatedBytes: Int

    /// Why this problem cannot take the cache path, or nil.
    static func unsupportedReason(_ s: AttentionBenchShape, storage: String, window: Int?, paged: Bool, block: Int) -> String? {
        guard KVCacheStorage(rawValue: storage) != nil else {
            return "cache '\(storage)' (this build has \(KVCacheStorage.allCases.map(\.rawValue).joined(separator: ", ")))"
        }
        guard s.seqQ <= 8 else { return "the decode path takes 1...8 new query tokens, NQ is \(s.seqQ)" }
        guard s.seqQ <= s.seqKV else { return "the decode path needs NQ <= NK (the new tokens are the cache's last positions)" }
        guard block >= 1 else { return "--block must be >= 1, got \(block)" }
        return nil
    }

    /// Fills one cache per batch item with K[b], V[b] (untimed).
    init(_ s: AttentionBenchShape, q: Tensor, k: Tensor, v: Tensor, storage name: String, paged: Bool, block: Int,
         window: Int?, causal: Bool, scale: Float?, threads: Int) throws(KestrelError) {
        let storage = KVCacheStorage(rawValue: name) ?? .f32
        let layout = KVCacheLayout(kvHeads: s.kvHeads, headDimension: s.headDim, storage: storage)
        var caches: [any KVCache] = [], seqs: [KVSequence] = [], queries: [Tensor] = []
        for b in 0..<s.batch {
            let cache: any KVCache = paged
                ? try PagedKVCache(layout: layout, blockTokens: block, blockCount: (s.seqKV + block - 1) / block,
                                   window: window.map { SlidingWindow(tokens: $0 + 1) })
                : try ContiguousKVCache(layout: layout, initialCapacity: s.seqKV, window: window.map { SlidingWindow(tokens: $0 + 1) })
            let seq = try cache.addSequence()
            try cache.append(to: seq, keys: try k.select(axis: 0, index: b).contiguous(), values: try v.select(axis: 0, index: b).contiguous())
            caches.append(cache)
            seqs.append(seq)
            queries.append(try q.select(axis: 0, index: b).contiguous())
        }
        self.caches = caches
        sequences = seqs
        self.queries = queries
        options = DecodeOptions(scale: scale, causal: causal, threads: threads, checksFiniteness: false)
        implementation = "kestrel-decode (\(paged ? "paged \(block)" : "contiguous") \(storage.rawValue) cache, \(ISALevel.active.rawValue))"
        cacheBytes = try SizeCheck.product(s.batch, s.seqKV, layout.bytesPerToken)
        allocatedBytes = caches.reduce(0) { $0 + $1.statistics.bytesAllocated }
    }

    /// One decode per batch item; the outputs stacked as [B, H, NQ, D].
    func run() throws(KestrelError) -> Tensor {
        var out: [Float] = []
        for (i, cache) in caches.enumerated() {
            out += try cache.decode(query: queries[i], sequence: sequences[i], options: options).output.toArray(of: Float.self)
        }
        return try Tensor(out, shape: [caches.count] + queries[0].shape.dims)
    }
}
