import Kestrel
import Testing

@testable import KestrelCLI

/// The flash-attention suite on injected timings: every verdict follows from the figures (the
/// speed-ups from the fake times, memory from the kernels' declared workspaces).
@Suite struct FlashAttentionSuiteTests {
    func report(_ probe: FakeAttentionTiming) throws -> BenchmarkReport {
        var suite = BenchmarkSuite()
        try FlashAttentionSuite(settings: .full, probe: probe).register(into: &suite)
        return try suite.run()
    }

    @Test func casesCoverTheBuiltInShapesAndJudgeOnlyTheIssuesTargets() throws {
        let r = try report(FakeAttentionTiming())
        let names = r.results.map(\.name)
        let speedups = FlashAttentionSuite.lengths.flatMap { n in ["causal", "full"].map { "flash-attention.speedup.n\(n).\($0)" } }
        #expect(names == speedups + FlashAttentionSuite.lengths.map { "flash-attention.memory-reduction.n\($0)" }
            + ["flash-attention.workspace-share.n4096", "flash-attention.backward-over-forward.n2048"])
        let judged = r.results.filter { $0.status != .info }.map(\.name)
        #expect(judged == ["flash-attention.speedup.n4096.causal", "flash-attention.workspace-share.n4096",
                           "flash-attention.backward-over-forward.n2048"])
    }

    @Test func backwardCaseJudgesTheCPUTimeRatioAgainstThreeTimes() throws {
        func result(_ probe: FakeAttentionTiming) throws -> BenchmarkCaseResult {
            try #require(try report(probe).results.first { $0.name == "flash-attention.backward-over-forward.n2048" })
        }
        // CPU 2.5×, wall 2.8×: the CPU ratio is the value; both are reported.
        let good = try result(FakeAttentionTiming())
        #expect(good.value == 2.5 && good.status == .pass)
        #expect(good.metrics["forward_cpu_ms"] == 40 && good.metrics["backward_cpu_ms"] == 100)
        #expect(abs((good.metrics["wall_ratio"] ?? 0) - 2.8) < 1e-12)
        // 3.2× of CPU fails even though the wall ratio (2.8×) would pass.
        let slow = try result(FakeAttentionTiming(backwardRatio: 3.2))
        #expect(abs((slow.value ?? 0) - 3.2) < 1e-12 && slow.status == .fail)
        // Exactly 3× passes (≤ 3×).
        #expect(try result(FakeAttentionTiming(backwardRatio: 3)).status == .pass)
        // Without CPU times the wall-clock ratio is judged.
        let wall = try result(FakeAttentionTiming(backwardWallRatio: 3.4, reportsCPU: false))
        #expect(abs((wall.value ?? 0) - 3.4) < 1e-12 && wall.status == .fail)
        #expect(wall.metrics["forward_cpu_ms"] == nil)
    }

    @Test func speedupIsNaiveOverFlashMedians() throws {
        // Naive 16 ms at N = 4096; flash 4 ms causal (4×), 8 ms without a mask (2×).
        let r = try report(FakeAttentionTiming(flashShare: 0.25))
        func result(_ name: String) throws -> BenchmarkCaseResult { try #require(r.results.first { $0.name == name }, "\(name)") }
        let causal = try result("flash-attention.speedup.n4096.causal")
        #expect(causal.value == 4)
        #expect(causal.status == .pass)
        #expect(causal.metrics["flash_ms"] == 4 && causal.metrics["naive_ms"] == 16)
        #expect(abs((causal.metrics["min_speedup"] ?? 0) - 0.95 / 0.9 * 4) < 1e-12)
        #expect(try result("flash-attention.speedup.n4096.full").value == 2)
        #expect(try result("flash-attention.speedup.n512.causal").value == 4)
        // 2.4× misses the 2.5× target.
        let slow = try report(FakeAttentionTiming(flashShare: 1 / 2.4))
        let miss = try #require(slow.results.first { $0.name == "flash-attention.speedup.n4096.causal" })
        #expect(abs((miss.value ?? 0) - 2.4) < 1e-12)
        #expect(miss.status == .fail)
    }

    @Test func memoryFiguresFollowTheDeclaredWorkspaces() throws {
        let r = try report(FakeAttentionTiming())
        let s = FlashAttentionSuite.shape(4096)
        // Q, K, V, O: 4 × 8 × 4096 × 64 f32 = 32 MiB; naive adds a 64 MiB score matrix (one thread)
        // and both add 128 KiB of log-sum-exp.
        let tensors = 4 * 8 * 4096 * 64 * 4, lse = 8 * 4096 * 4
        let naive = tensors + 4096 * 4096 * 4 + lse
        let b = AttentionBlockSizes.standard(headDimension: 64)
        let flashExtra = try FlashAttention.workspaceBytes(headDimension: 64, blockSizes: b, threads: 1) + lse
        #expect(try AttentionBenchKernel.naive.peakExtraBytes(s, threads: 1) == naive - tensors)
        #expect(try AttentionBenchKernel.flash.peakExtraBytes(s, threads: 1) == flashExtra)
        let share = try #require(r.results.first { $0.name == "flash-attention.workspace-share.n4096" })
        #expect(abs((share.value ?? 0) - 100 * Double(flashExtra) / Double(naive - tensors)) < 1e-9)
        #expect(share.status == .pass)
        let reduction = try #require(r.results.first { $0.name == "flash-attention.memory-reduction.n4096" })
        #expect(abs((reduction.value ?? 0) - 100 * (1 - Double(tensors + flashExtra) / Double(naive))) < 1e-9)
        // The reduction grows with N (the score matrix is quadratic, the tensors linear).
        let reductions = FlashAttentionSuite.lengths.compactMap { n in r.results.first { $0.name == "flash-attention.memory-reduction.n\(n)" }?.value }
        #expect(reductions.count == 4 && zip(reductions, reductions.dropFirst()).allSatisfy { $0 < $1 })
    }

    @Test func quickRunsFewerRoundsAndLeavesOutTheLongestUnmaskedShape() throws {
        #expect(FlashAttentionSuite(settings: .quick).reps < FlashAttentionSuite(settings: .full).reps)
        var suite = BenchmarkSuite()
        try FlashAttentionSuite(settings: .quick, probe: FakeAttentionTiming()).register(into: &suite)
        let names = suite.cases.map(\.name)
        #expect(names.filter { $0.hasPrefix("flash-attention.speedup.") }.count == 7)
        #expect(!names.contains("flash-attention.speedup.n4096.full"))
        #expect(names.contains("flash-attention.speedup.n4096.causal") && names.contains("flash-attention.workspace-share.n4096"))
    }
}
