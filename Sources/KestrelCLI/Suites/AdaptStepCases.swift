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

    /// What one configuration's run gives the cases: step and apply percentiles in nanoseconds.
    struct Figures: Sendable, Equatable {
        var stepP50: Double, stepP99: Double, stepP999: Double
        var samples: Int
        var applyP50: Double, applyP99: Double
        /// Swift heap allocations per step, when the counter could run.
        var allocationsPerStep: Double?
        var isa: String

        /// Runs `bench` (timing steps) and a copy of it with at most 10⁴ steps for `apply`.
        static func measured(_ bench: AdaptBench) throws -> Figures {
            let r = try bench.run()
            return Figures(stepP50: Double(r.step.percentile(50)), stepP99: Double(r.step.percentile(99)),
                           stepP999: Double(r.step.percentile(99.9)), samples: Int(r.step.count),
                           applyP50: Double(r.apply.percentile(50)), applyP99: Double(r.apply.percentile(99)),
                           allocationsPerStep: r.allocationsPerStep, isa: r.isa)
        }
    }

    /// Registers the cases into `suite` (suite name `suiteName`).
    /// - Parameter steps: timed steps per configuration (≥ 10⁵ for the issue's figures; fewer for `--quick`).
    /// - Throws: `BenchmarkSuite`'s error for a duplicate case name.
    static func register(into suite: inout BenchmarkSuite, suiteName: String = "adaptation", steps: Int,
                         measure: @escaping (AdaptBench) throws -> Figures = Figures.measured) throws {
        for d in dims {
            for rank in [1, 2] {
                for ewc in [false, true] {
                    let tag = "d\(d).r\(rank).\(ewc ? "ewc" : "plain")"
                    let bench = AdaptBench(dim: d, rank: rank, loss: .squared, ewc: ewc, steps: steps, warmup: 2000)
                    // One run serves both cases of a configuration (step and apply come from the same run).
                    let once = OnceFigures { try measure(bench) }
                    let judged = d == 768
                    try suite.register(BenchmarkCase(
                        name: "adaptation.step-p99.\(tag)", suite: suiteName,
                        summary: "p99 of one MicroLoRA training step (squared loss, Adam, clip; EWC++ \(ewc ? "on" : "off")), "
                            + "d = \(d), rank \(rank), \(steps) single-step timings (kestrel adapt-bench).",
                        target: judged ? .below(5000, "ns", metric: "p99 < 5 µs at d = 768 (issue 19)") : nil,
                        run: { _ in
                            let r = try once.value()
                            var metrics: [String: Double] = [
                                "p50_ns": r.stepP50, "p999_ns": r.stepP999, "samples": Double(r.samples),
                                "clock_overhead_ns": MonotonicClock.calibration.overheadNanoseconds,
                            ]
                            if let a = r.allocationsPerStep { metrics["allocations_per_step"] = a }
                            return BenchmarkOutcome(value: r.stepP99, unit: "ns", higherIsBetter: false,
                                                    metrics: metrics, notes: ["isa \(r.isa)"])
                        }))
                    try suite.register(BenchmarkCase(
                        name: "adaptation.apply-p50.\(tag)", suite: suiteName,
                        summary: "p50 of one MicroLoRA apply (lock-free reader), d = \(d), rank \(rank), "
                            + "single-call timings from the same run (kestrel adapt-bench).",
                        target: judged ? .below(1000 + 1e-9, "ns", metric: "apply ≤ 1 µs at d = 768 (issue 19)") : nil,
                        run: { _ in
                            let r = try once.value()
                            return BenchmarkOutcome(value: r.applyP50, unit: "ns", higherIsBetter: false,
                                                    metrics: ["p99_ns": r.applyP99,
                                                              "clock_overhead_ns": MonotonicClock.calibration.overheadNanoseconds],
                                                    notes: ["isa \(r.isa)"])
                        }))
                }
            }
        }
    }

    /// Runs a measurement on first use and keeps its figures (cases run one at a time).
    final class OnceFigures: @unchecked Sendable {  // used from the suite's single runner thread
        private let make: () throws -> Figures
        private var cached: Figures?
        init(_ make: @escaping () throws -> Figures) { self.make = make }
        func value() throws -> Figures {
            if let cached { return cached }
            let f = try make()
            cached = f
            return f
        }
    }
}
