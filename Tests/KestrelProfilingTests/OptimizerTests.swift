import Testing
@testable import KestrelProfiling

@Suite("Batch optimiser and token usage")
struct OptimizerTests {
    /// Synthetic measurements: constant latencies (ns) and memory per batch size.
    static func synthetic(latencyMs: @escaping (Double) -> Double, memoryPerItem: UInt64 = 0)
        -> (Int) throws(ProfilingError) -> (latencies: [Double], memory: UInt64?) {
        { (b: Int) throws(ProfilingError) in
            (Array(repeating: latencyMs(Double(b)) * 1e6, count: 5), UInt64(b) * memoryPerItem)
        }
    }

    @Test("latency ceiling bounds the batch, refined by bisection")
    func latencyCeiling() throws {
        var o = BatchSearchOptions()
        o.latencyCeilingNanoseconds = 10_000_000
        let r = try BatchOptimizer.search(options: o, evaluate: Self.synthetic { 1 + 0.1 * $0 })
        #expect(r.best?.batchSize == 80)  // 1 + 0.1·b ≤ 10 ⇒ b ≤ 90; bisection 64 → 96 ✗ → 80 ✓
        #expect(r.stopReason.contains("latency ceiling at batch 128"))
        #expect(r.evaluations.map(\.batchSize) == [1, 2, 4, 8, 16, 32, 64, 128, 96, 80])
        #expect(r.evaluations.first { $0.batchSize == 96 }?.withinLatencyCeiling == false)
    }

    @Test("memory cap bounds the batch")
    func memoryCap() throws {
        var o = BatchSearchOptions()
        o.memoryCapBytes = 20 << 20
        let r = try BatchOptimizer.search(options: o, evaluate: Self.synthetic(latencyMs: { 1 + 0.1 * $0 }, memoryPerItem: 1 << 20))
        #expect(r.best?.batchSize == 20)
        #expect(r.stopReason.contains("memory cap at batch 32"))
        #expect(r.best.map { $0.memoryBytes! <= 20 << 20 } == true)
    }

    @Test("throughput peak is found without constraints")
    func throughputPeak() throws {
        let r = try BatchOptimizer.search(options: BatchSearchOptions(), evaluate: Self.synthetic { 1 + 0.001 * $0 * $0 })
        #expect(r.best?.batchSize == 32)  // b / (1 + 0.001 b²) peaks at √1000 ≈ 31.6
        #expect(r.stopReason.contains("throughput falling"))
        let best = try #require(r.best)
        #expect(r.evaluations.allSatisfy { $0.itemsPerSecond <= best.itemsPerSecond })
    }

    @Test("no feasible size gives no best; invalid options throw")
    func infeasible() throws {
        var o = BatchSearchOptions()
        o.latencyCeilingNanoseconds = 100
        let r = try BatchOptimizer.search(options: o, evaluate: Self.synthetic { 1 + $0 })
        #expect(r.best == nil && r.evaluations.count == 1)
        var bad = BatchSearchOptions()
        bad.candidates = [0]
        let e1 = #expect(throws: ProfilingError.self) { try BatchOptimizer.search(options: bad, evaluate: Self.synthetic { $0 }) }
        #expect({ if case .invalidArgument(name: "candidates", reason: _)? = e1 { true } else { false } }(), "\(String(describing: e1))")
    }

    @Test("measured search on a real closure returns a feasible best")
    func measured() throws {
        var o = BatchSearchOptions()
        o.candidates = [1, 2, 4, 8]
        o.repetitions = 3
        o.memoryCapBytes = 1 << 30
        let r = try BatchOptimizer.optimize(options: o) { b in
            let buffer = [UInt64](repeating: 1, count: 1_000 * b)
            blackHole(spin(200 * b) &+ buffer[b])
        }
        let best = try #require(r.best)
        #expect(best.feasible && best.itemsPerSecond > 0 && best.memoryBytes != nil)
        let r2 = try BatchOptimizer.optimize(options: o, memoryEstimate: { UInt64($0) * 8_000 }) { b in blackHole(spin(100 * b)) }
        #expect(r2.evaluations.first?.memoryBytes == 8_000)
    }

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
        let e2 = #expect(throws: ProfilingError.self) {
            try TokenUsageAnalyzer().analyze([TokenUsageRecord(operation: "x", inputTokens: 10, outputTokens: 0, cachedInputTokens: 11)])
        }
        #expect({ if case .invalidArgument(name: "records[0]", reason: _)? = e2 { true } else { false } }(), "\(String(describing: e2))")
        let e3 = #expect(throws: ProfilingError.self) {
            try TokenUsageAnalyzer().analyze([TokenUsageRecord(operation: "x", inputTokens: -1, outputTokens: 0)])
        }
        #expect({ if case .invalidArgument(name: "records[0]", reason: _)? = e3 { true } else { false } }(), "\(String(describing: e3))")
    }
}
