import KestrelProfiling
import Testing
import KestrelBenchmarkKit

@Suite("Token usage analysis")
struct TokenUsageAnalyzerTests {
    @Test("token usage: totals, breakdown, inefficiencies and prefix-caching saving")
    func tokens() throws {
        var records = [TokenUsageRecord]()
        for _ in 0..<3 { records.append(TokenUsageRecord(operation: "chat", inputTokens: 3_000, outputTokens: 200, sharedPrefixTokens: 2_000)) }
        for _ in 0..<3 { records.append(TokenUsageRecord(operation: "rag", inputTokens: 800, outputTokens: 100, cachedInputTokens: 50)) }
        records.append(TokenUsageRecord(operation: "classify", inputTokens: 5_000, outputTokens: 1))
        let pricing = TokenPricing(inputPerMillion: 3, cachedInputPerMillion: 0.3, outputPerMillion: 15)
        let report = try TokenUsageAnalyzer(pricing: pricing).analyze(records)
        #expect(report.totals.calls == 7)
        #expect(report.totals.inputTokens == 9_000 + 2_400 + 5_000)
        #expect(report.totals.outputTokens == 600 + 300 + 1)
        #expect(report.totals.cachedInputTokens == 150)
        #expect(abs(report.totals.cacheHitRate - 150.0 / 16_400) < 1e-12)
        #expect(report.breakdown.map(\.operation) == ["chat", "classify", "rag"])
        #expect(abs(report.breakdown.reduce(0) { $0 + $1.inputSharePercent } - 100) < 1e-9)
        // chat: repeated large inputs, never cached; rag: caching works but hits little; classify: single call, nothing.
        #expect(report.inefficiencies.map(\.kind) == [.largeUncachedInput, .lowCacheHitRate])
        #expect(report.inefficiencies.map(\.operation) == ["chat", "rag"])
        #expect(report.inefficiencies[0].tokens == 9_000)
        // Calls 2 and 3 of chat could read their 2000-token prefix from cache.
        #expect(report.prefixCachingSaving.tokens == 4_000)
        #expect(abs(report.prefixCachingSaving.cost! - 4_000 * 2.7 / 1e6) < 1e-12)
        // Upper bound adds rag's undeclared prefix: 2 calls × (800 − 50).
        #expect(report.prefixCachingSaving.upperBoundTokens == 4_000 + 1_500)
        let expectedCost = (Double(16_400 - 150) * 3 + 150 * 0.3 + 901 * 15) / 1e6
        #expect(abs(report.cost! - expectedCost) < 1e-12)

        let empty = try TokenUsageAnalyzer().analyze([])
        #expect(empty.totals.calls == 0 && empty.totals.cacheHitRate == 0 && empty.cost == nil)
        #expect(throws: ProfilingError.self) {
            try TokenUsageAnalyzer().analyze([TokenUsageRecord(operation: "x", inputTokens: 10, outputTokens: 0, cachedInputTokens: 11)])
        }
        #expect(throws: ProfilingError.self) {
            try TokenUsageAnalyzer().analyze([TokenUsageRecord(operation: "x", inputTokens: -1, outputTokens: 0)])
        }
    }
}
