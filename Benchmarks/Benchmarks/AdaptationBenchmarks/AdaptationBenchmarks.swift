import Benchmark
import KestrelAdaptation
import KestrelBenchmarkSupport

import func Benchmark.blackHole

/// Micro-LoRA at issue 19's shape: d = 768, rank 1 and 2, EWC++ off and on — the fused training
/// step (squared loss, Adam, clipping; with EWC a live penalty after one consolidation) and the
/// lock-free `apply`.
///
/// Names are `MicroLoRA.step.d768r<R>.<ewc|plain>` and `MicroLoRA.apply.d768r<R>.<ewc|plain>`.
/// `mallocCountTotal` is checked against `Thresholds/` at 0: samples are built in setup and a
/// step or apply works in the adapter's preallocated buffer (issue 19: zero allocations per step).
let benchmarks: @Sendable () -> Void = {
    BenchmarkDefaults.install()
    let configuration = BenchmarkDefaults.configuration(scalingFactor: .kilo)
    for rank in [1, 2] {
        for ewc in [false, true] {
            let tag = "d\(AdaptationData.dim)r\(rank).\(ewc ? "ewc" : "plain")"
            Benchmark("MicroLoRA.step.\(tag)", configuration: configuration) { benchmark, state in
                for i in benchmark.scaledIterations {
                    blackHole(try state.adapter.step(state.samples[i & 63]))
                }
            } setup: { try AdaptationData(rank: rank, ewc: ewc) }
            Benchmark("MicroLoRA.apply.\(tag)", configuration: configuration) { benchmark, state in
                try state.output.withUnsafeMutableBufferPointer { (y) throws(KestrelError) in
                    for i in benchmark.scaledIterations {
                        try state.inputs[i & 63].withUnsafeBufferPointer { (x) throws(KestrelError) in
                            try state.adapter.apply(x, base: nil, into: y)
                        }
                    }
                }
                blackHole(state.output)
            } setup: { try AdaptationData(rank: rank, ewc: ewc) }
        }
    }
}

/// One adapter and 64 seeded squared-loss samples; with EWC, consolidated after 16 steps.
final class AdaptationData: @unchecked Sendable {  // one benchmark thread uses it
    static let dim = 768
    let adapter: MicroLoRA
    let samples: [AdapterFeedback]
    let inputs: [[Float]]
    var output = [Float](repeating: 0, count: AdaptationData.dim)

    init(rank: Int, ewc: Bool) throws {
        adapter = try MicroLoRA(dimension: Self.dim, rank: rank, seed: 1,
                                training: AdapterTraining(learningRate: 1e-3, optimizer: .adamDefault, clipNorm: 10),
                                ewc: ewc ? EWCConfiguration(lambda: 0.1) : nil)
        var rng = SplitMix64(seed: 2)
        func v() -> [Float] { (0..<Self.dim).map { _ in rng.nextSignedUnit() } }
        inputs = (0..<64).map { _ in v() }
        samples = inputs.map { .squared(input: $0, target: v()) }
        if ewc {
            for i in 0..<16 { _ = try adapter.step(samples[i]) }
            adapter.consolidate()
        }
    }
}
