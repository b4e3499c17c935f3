import Foundation
import Kestrel

/// The `memory` suite's KV-cache cases (issue 18): bytes per cached token by storage type, and
/// what prefix sharing saves on a built-in multi-request workload. Deterministic counts, no clock.
enum KVCacheMemoryCases {
    /// Bytes per token of one layer's cache (8 K/V heads of 128, as a Llama-class model) by storage.
    static func bytesPerToken() -> [KVCacheStorage: Int] {
        Dictionary(uniqueKeysWithValues: KVCacheStorage.allCases.map {
            ($0, KVCacheLayout(kvHeads: 8, headDimension: 128, storage: $0).bytesPerToken)
        })
    }

    static func bytesOutcome() -> BenchmarkOutcome {
        let b = bytesPerToken()
        let f32 = Double(b[.f32] ?? 1)
        return BenchmarkOutcome(
            value: Double(b[.int8] ?? 0) / f32, unit: "x f32", higherIsBetter: false,
            metrics: ["f32_bytes_per_token": f32, "f16_bytes_per_token": Double(b[.f16] ?? 0),
                      "int8_bytes_per_token": Double(b[.int8] ?? 0), "f16_vs_f32": Double(b[.f16] ?? 0) / f32],
            notes: ["per layer, K and V, 8 K/V heads of 128; int8 adds one f32 scale per token and head"])
    }

    /// What sharing a system prompt saves.
    struct Sharing: Equatable {
        var requests: Int, promptTokens: Int, ownTokens: Int
        /// Blocks held with sharing, and by the same requests without it.
        var blocksShared: Int, blocksUnshared: Int
        /// Prompt tokens served from the cache, of all prompt tokens.
        var tokensServed: Int, tokensTotal: Int
        var memoryReductionPercent: Double { 100 * (1 - Double(blocksShared) / Double(blocksUnshared)) }
        var prefillReductionPercent: Double { 100 * Double(tokensServed) / Double(tokensTotal) }
    }

    /// `requests` live requests, each a shared `promptTokens`-token system prompt followed by
    /// `ownTokens` tokens of its own, prefilled one after another through a PagedKVCache (blocks of
    /// 16) with prefix caching: each request appends K/V only for the tokens not served from the
    /// cache. Small heads (the counts do not depend on them).
    static func sharingWorkload(requests: Int = 32, promptTokens: Int = 1024, ownTokens: Int = 64) throws(KestrelError) -> Sharing {
        let block = 16, total = promptTokens + ownTokens
        let perRequest = (total + block - 1) / block
        let cache = try PagedKVCache(layout: KVCacheLayout(kvHeads: 1, headDimension: 8), blockTokens: block,
                                     blockCount: requests * perRequest)
        let system = (0..<promptTokens).map { Int32($0 % 30_000) }
        var live: [KVSequence] = []
        for r in 0..<requests {
            let prompt = system + (0..<ownTokens).map { Int32(30_000 + r * ownTokens + $0) }
            let (seq, cached) = try cache.addSequence(prompt: prompt)
            let n = total - cached
            let k = try Tensor.random([1, n, 8], seed: UInt64(2 * r)), v = try Tensor.random([1, n, 8], seed: UInt64(2 * r + 1))
            try cache.append(to: seq, keys: k, values: v, tokens: Array(prompt[cached...]))
            live.append(seq)
        }
        let st = cache.statistics
        return Sharing(requests: requests, promptTokens: promptTokens, ownTokens: ownTokens, blocksShared: st.blocksUsed,
                       blocksUnshared: requests * perRequest, tokensServed: st.tokensServedFromCache, tokensTotal: requests * total)
    }

    static func sharingOutcome(_ s: Sharing) -> BenchmarkOutcome {
        BenchmarkOutcome(
            value: min(s.memoryReductionPercent, s.prefillReductionPercent), unit: "%",
            metrics: ["kv_memory_reduction_percent": s.memoryReductionPercent,
                      "prefill_reduction_percent": s.prefillReductionPercent,
                      "blocks_shared": Double(s.blocksShared), "blocks_unshared": Double(s.blocksUnshared),
                      "tokens_served_from_cache": Double(s.tokensServed), "prompt_tokens": Double(s.tokensTotal)],
            notes: ["\(s.requests) requests: a \(s.promptTokens)-token system prompt + \(s.ownTokens) own tokens each; "
                + "value: the smaller of the KV-memory and prefill-work reductions"])
    }

    /// Registers both cases into the memory suite.
    static func register(into suite: inout BenchmarkSuite) throws {
        try suite.register(BenchmarkCase(
            name: "memory.kv-bytes-per-token", suite: MemorySuite.name,
            summary: "KV-cache bytes per token (K and V, 8 K/V heads of 128) of int8 rows with per-token scales, "
                + "against f32; f16 and the absolute sizes as metrics.",
            target: BenchmarkTarget(metric: "int8 KV cache bytes vs f32 (issue 18)", unit: "x f32", maximum: 0.27,
                                    maximumExclusive: false),
            run: { _ in bytesOutcome() }))
        try suite.register(BenchmarkCase(
            name: "memory.kv-prefix-sharing", suite: MemorySuite.name,
            summary: "32 live requests sharing a 1024-token system prompt (+64 own tokens) in a PagedKVCache with "
                + "prefix caching: KV blocks and prefill tokens avoided against the same requests unshared.",
            target: .atLeast(75, "%", metric: "KV memory and prefill work avoided by prefix sharing (issue 18)"),
            run: { _ in sharingOutcome(try sharingWorkload()) }))
    }
}
