import Foundation
import Kestrel

/// The adapt-step latency cases of the `adaptation` suite (issue 19): for d = 256, 384, 768, 1024,
/// rank 1 and 2, EWC++ off and on, the p99 of one fused training step (squared loss, Adam,
/// clipping) and the p50 of `apply`, each from `steps` single-call timings in an HdrHistogram
/// (``AdaptBench``; the same measurement as `kestrel adapt-bench`). Judged at d = 768 only:
/// step p99 < 5 µs and apply ≤ 1 µs. Clock overhead and the Swift allocations per step are in
/// each case's metrics.
enum AdaptStepCases {
    static let dims = [256, 384, 768, 1024]

    /// Registers the cases into `suite` (suite name `suiteName`).
    /// - Parameter steps: timed steps per configuration (≥ 10⁵ for the issue's figures; fewer for `--quick`).
    /// - Throws: `BenchmarkSuite`'s error for a duplicate case name.
    static func register(into suite: inout BenchmarkSuite, suiteName: String = "adaptation", steps: Int) throws {
        for d in dims {
            for rank in [1, 2] {
                for ewc in [false, true] {
                    let tag = "d\(d).r\(rank).\(ewc ? "ewc" : "plain")"
                    let bench = AdaptBench(dim: d, rank: rank, loss: .squared, ewc: ewc, steps: steps, warmup: 2000)
                    let judged = d == 768
                    try suite.register(BenchmarkCase(
                        name: "adaptation.step-p99.\(tag)", suite: suiteName,
                        summary: "p99 of one MicroLoRA training step (squared loss, Adam, clip; EWC++ \(ewc ? "on" : "off")), "
                            + "d = \(d), rank \(rank), \(steps) single-step timings (kestrel adapt-bench).",
                        target: judged ? .below(5000, "ns", metric: "p99 < 5 µs at d = 768 (issue 19)") : nil,
                        run: { _ in
                            let r = try bench.run()
                            var metrics: [String: Double] = [
                                "p50_ns": Double(r.step.percentile(50)), "p999_ns": Double(r.step.percentile(99.9)),
                                "samples": Double(r.step.count),
                                "clock_overhead_ns": MonotonicClock.calibration.overheadNanoseconds,
                            ]
                            if let a = r.allocationsPerStep { metrics["allocations_per_step"] = a }
                            return BenchmarkOutcome(value: Double(r.step.percentile(99)), unit: "ns", higherIsBetter: false,
                                                    metrics: metrics, notes: ["isa \(r.isa)"])
                        }))
                    try suite.register(BenchmarkCase(
                        name: "adaptation.apply-p50.\(tag)", suite: suiteName,
                        summary: "p50 of one MicroLoRA apply (lock-free reader), d = \(d), rank \(rank), "
                            + "\(max(steps, 1000)) single-call timings (kestrel adapt-bench).",
                        target: judged ? .below(1000 + 1e-9, "ns", metric: "apply ≤ 1 µs at d = 768 (issue 19)") : nil,
                        run: { _ in
                            var b = bench
                            b.steps = min(steps, 10_000)
                            let r = try b.run()
                            return BenchmarkOutcome(value: Double(r.apply.percentile(50)), unit: "ns", higherIsBetter: false,
                                                    metrics: ["p99_ns": Double(r.apply.percentile(99)),
                                                              "clock_overhead_ns": MonotonicClock.calibration.overheadNanoseconds],
                                                    notes: ["isa \(r.isa)"])
                        }))
                }
            }
        }
    }
}
