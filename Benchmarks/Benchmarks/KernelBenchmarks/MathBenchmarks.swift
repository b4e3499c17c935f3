import Benchmark
import KestrelBenchmarkSupport
import CKestrelKernels

// exp and softmax over a 4096-element row (an attention row of a 4K context); 1000 calls
// per measured iteration.

private var mathConfiguration: Benchmark.Configuration { BenchmarkDefaults.configuration(scalingFactor: .kilo) }

/// Input and output rows of the math benchmarks.
final class MathBuffers: @unchecked Sendable {
    static let count = 4096
    let input: AlignedBuffer<Float>
    let output: AlignedBuffer<Float>

    init() {
        var rng = SplitMix64(seed: 8)
        input = AlignedBuffer(count: Self.count) { _ in 10 * rng.nextSignedUnit() } // attention-logit range
        output = AlignedBuffer(count: Self.count) { _ in 0 }
    }

    static let shared = MathBuffers()
}

func registerMathBenchmarks(_ tier: KernelTier) {
    let t = tier.table.pointee
    let n = MathBuffers.count
    Benchmark("exp_f32.\(n).\(tier.name)", configuration: mathConfiguration) { benchmark, b in
        let f: kestrel_unary_f32_fn = t.exp_f32
        for _ in benchmark.scaledIterations { f(b.input.readOnly, b.output.pointer, n) }
    } setup: { MathBuffers.shared }
    Benchmark("softmax_f32.\(n).\(tier.name)", configuration: mathConfiguration) { benchmark, b in
        let f: kestrel_unary_f32_fn = t.softmax_f32
        for _ in benchmark.scaledIterations { f(b.input.readOnly, b.output.pointer, n) }
    } setup: { MathBuffers.shared }
}
