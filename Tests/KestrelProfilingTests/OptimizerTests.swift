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
}
