import Foundation
import Kestrel

/// The `flash-attention` suite of `kestrel benchmark` (issue 17): FlashAttention against
/// NaiveAttention on the built-in shapes B = 1, H = 8, D = 64, N = 512 … 4096, causal and not,
/// one thread — speed-up, memory reduction and workspace share, with PASS/FAIL on the issue's
/// targets (≥ 2.5× at N = 4096 causal; workspace ≤ 5 % of naive's at N = 4096; the backward pass
/// ≤ 3× the forward at N = 2048).
struct FlashAttentionSuite {
    static let name = "flash-attention"
    /// Sequence lengths (NQ = NK) of the built-in shapes.
    static let lengths = [512, 1024, 2048, 4096]
    /// Sequence length of the judged backward case (issue 17's "backward ≤ 3× the forward at N = 2048").
    static let backwardLength = 2048
    /// The original specification's ranges, reported beside the figures (not judged).
    static let specSpeedup = "2.49–7.47×"
    static let specMemoryReduction = "50–75 %"

    /// Timed rounds per shape (each runs both kernels once, interleaved) after one warm-up call each.
    var reps: Int
    /// Whether the N = 4096 shape without a mask is timed: it is the slowest (about 2 s of CPU per
    /// call pair) and not judged, so `--quick` leaves it out.
    var timesLongestUnmasked: Bool
    /// Worker threads of both kernels.
    var threads = 1
    /// The timed measurements (the tests inject fixed figures).
    var probe: any AttentionTimingProbe

    /// Full run: 2 rounds per shape (about 25 s of CPU time in all on an unloaded core); `--quick`:
    /// 1 round, without N = 4096 unmasked.
    init(settings: SuiteSettings, probe: any AttentionTimingProbe = MeasuredAttentionTiming()) {
        let quick = settings.dim < SuiteSettings.full.dim || settings.queries < SuiteSettings.full.queries
        reps = quick ? 1 : 2
        timesLongestUnmasked = !quick
        self.probe = probe
    }

    /// B = 1, H = HKV = 8, D = 64, NQ = NK = n.
    static func shape(_ n: Int) -> AttentionBenchShape {
        AttentionBenchShape(batch: 1, heads: 8, kvHeads: 8, seqQ: n, seqKV: n, headDim: 64)
    }

    /// Bytes of Q, K, V and O plus what a kernel's call holds besides them.
    static func totalBytes(_ s: AttentionBenchShape, _ kernel: AttentionBenchKernel, threads: Int) throws -> Int {
        let q = try SizeCheck.bytes(s.batch, s.heads, s.seqQ, s.headDim, 4)
        let kv = try SizeCheck.bytes(s.batch, s.kvHeads, s.seqKV, s.headDim, 4)
        return 2 * q + 2 * kv + (try kernel.peakExtraBytes(s, threads: threads))
    }

    func register(into suite: inout BenchmarkSuite) throws {
        let probe = self.probe, reps = self.reps, threads = self.threads
        for n in Self.lengths {
            for causal in [true, false] where causal || n < Self.lengths.last! || timesLongestUnmasked {
                let s = Self.shape(n)
                let judged = n == 4096 && causal
                try suite.register(BenchmarkCase(
                    name: "flash-attention.speedup.n\(n).\(causal ? "causal" : "full")", suite: Self.name,
                    summary: "NaiveAttention median time over FlashAttention's, \(s), \(causal ? "causal" : "no mask"), "
                        + "\(threads) thread, \(reps) interleaved rounds (kestrel attention-bench); original spec \(Self.specSpeedup).",
                    target: judged ? .atLeast(2.5, "×", metric: "≥ 2.5× at N = 4096 causal (issue 17)") : nil,
                    run: { _ in
                        let t = try probe.timings(s, causal: causal, threads: threads, reps: reps)
                        return BenchmarkOutcome(
                            value: t.naive.medianMs / t.flash.medianMs, unit: "×", higherIsBetter: true,
                            metrics: ["flash_ms": t.flash.medianMs, "naive_ms": t.naive.medianMs,
                                      "min_speedup": t.naive.minMs / t.flash.minMs],
                            notes: ["original spec range \(Self.specSpeedup)"])
                    }))
            }
        }
        for n in Self.lengths {
            let s = Self.shape(n)
            try suite.register(BenchmarkCase(
                name: "flash-attention.memory-reduction.n\(n)", suite: Self.name,
                summary: "1 − (Q, K, V, O and FlashAttention's extra bytes) / (the same with NaiveAttention's), \(s), "
                    + "\(threads) thread; original spec \(Self.specMemoryReduction).",
                run: { _ in
                    let flash = try Self.totalBytes(s, .flash, threads: threads), naive = try Self.totalBytes(s, .naive, threads: threads)
                    return BenchmarkOutcome(value: 100 * (1 - Double(flash) / Double(naive)), unit: "%", higherIsBetter: true,
                                            metrics: ["flash_bytes": Double(flash), "naive_bytes": Double(naive)],
                                            notes: ["original spec range \(Self.specMemoryReduction)"])
                }))
        }
        let s = Self.shape(4096)
        try suite.register(BenchmarkCase(
            name: "flash-attention.workspace-share.n4096", suite: Self.name,
            summary: "FlashAttention's extra bytes (tile scratch + log-sum-exp, attention-bench's peak_extra_bytes) as a "
                + "share of NaiveAttention's (score matrix + log-sum-exp), \(s), \(threads) thread.",
            target: .below(5 + 1e-9, "%", metric: "≤ 5 % of naive's at N = 4096 (issue 17)"),
            run: { _ in
                let flash = try AttentionBenchKernel.flash.peakExtraBytes(s, threads: threads)
                let naive = try AttentionBenchKernel.naive.peakExtraBytes(s, threads: threads)
                return BenchmarkOutcome(value: 100 * Double(flash) / Double(naive), unit: "%", higherIsBetter: false,
                                        metrics: ["flash_bytes": Double(flash), "naive_bytes": Double(naive)])
            }))
        let sb = Self.shape(Self.backwardLength)
        try suite.register(BenchmarkCase(
            name: "flash-attention.backward-over-forward.n\(Self.backwardLength)", suite: Self.name,
            summary: "FlashAttention backward ÷ forward, median process CPU time per call (wall-clock medians when CPU "
                + "time is unavailable), \(sb), no mask, \(threads) thread, \(reps) rounds of forward then backward "
                + "(kestrel attention-bench --backward).",
            target: .below(3 + 1e-9, "×", metric: "backward ≤ 3× the forward at N = 2048 (issue 17)"),
            run: { _ in
                let t = try probe.backwardTimings(sb, causal: false, threads: threads, reps: reps)
                let wall = t.backward.medianMs / t.forward.medianMs
                var metrics = ["forward_ms": t.forward.medianMs, "backward_ms": t.backward.medianMs, "wall_ratio": wall]
                var value = wall
                if let b = t.backward.cpuMedianMs, let f = t.forward.cpuMedianMs, f > 0 {
                    value = b / f
                    metrics["forward_cpu_ms"] = f
                    metrics["backward_cpu_ms"] = b
                }
                return BenchmarkOutcome(value: value, unit: "×", higherIsBetter: false, metrics: metrics)
            }))
    }
}

/// FlashAttention's and NaiveAttention's times on one problem.
struct AttentionPairTiming: Sendable, Equatable {
    var flash: AttentionTiming
    var naive: AttentionTiming
}

/// FlashAttention's forward and backward times on one problem (same rounds).
struct AttentionBackwardTiming: Sendable, Equatable {
    var forward: AttentionTiming
    var backward: AttentionTiming
}

/// The timed part of the flash-attention suite.
protocol AttentionTimingProbe: Sendable {
    /// Both kernels on seeded inputs of `shape`, one warm-up each, then `reps` interleaved rounds.
    func timings(_ shape: AttentionBenchShape, causal: Bool, threads: Int, reps: Int) throws -> AttentionPairTiming
    /// FlashAttention's forward then backward on seeded inputs and dO of `shape`, one warm-up pair,
    /// then `reps` rounds of the pair (``AttentionBenchBackward/measure``).
    func backwardTimings(_ shape: AttentionBenchShape, causal: Bool, threads: Int, reps: Int) throws -> AttentionBackwardTiming
}

/// The real measurement (``AttentionBench/time(_:warmup:reps:)``).
struct MeasuredAttentionTiming: AttentionTimingProbe {
    func timings(_ shape: AttentionBenchShape, causal: Bool, threads: Int, reps: Int) throws -> AttentionPairTiming {
        let (q, k, v) = try AttentionBench.randomInputs(shape, seed: 17)
        let options = AttentionOptions(causal: causal, threads: threads)
        var out = AttentionOutput(output: try Tensor.zeros(shape.queryDims), logSumExp: try Tensor.zeros([shape.batch, shape.heads, shape.seqQ]))
        let t = try AttentionBench.time([AttentionBenchKernel.flash, .naive].map { kernel in { try kernel.forward(q, k, v, options, into: &out) } },
                                        warmup: 1, reps: reps)
        return AttentionPairTiming(flash: t[0], naive: t[1])
    }

    func backwardTimings(_ shape: AttentionBenchShape, causal: Bool, threads: Int, reps: Int) throws -> AttentionBackwardTiming {
        let (q, k, v) = try AttentionBench.randomInputs(shape, seed: 17)
        let dO = try AttentionBenchBackward.outputGradient(shape, path: nil, seed: 17)
        let r = try AttentionBenchBackward.measure(.flash, q: q, k: k, v: v, outputGradient: dO,
                                                   options: AttentionOptions(causal: causal, threads: threads),
                                                   warmup: 1, reps: reps)
        return AttentionBackwardTiming(forward: r.forward, backward: r.backward)
    }
}
