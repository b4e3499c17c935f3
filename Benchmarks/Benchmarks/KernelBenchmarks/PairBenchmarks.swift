import Benchmark
import KestrelBenchmarkSupport
import CKestrelKernels

// One pair of 768-dimensional vectors: the latency of a single distance (cache-resident).
// 1000 calls per measured iteration keep the harness's overhead out of the numbers.

private var pairConfiguration: Benchmark.Configuration { BenchmarkDefaults.configuration(scalingFactor: .kilo) }

private func name(_ kernel: String, _ shape: Int, _ tier: KernelTier) -> String { "\(kernel).\(shape).\(tier.name)" }

func registerPairBenchmarks(_ tier: KernelTier) {
    let t = tier.table.pointee
    pairFloat("dot_f32", tier, t.dot_f32)
    pairFloat("l2sq_f32", tier, t.l2sq_f32)
    pairFloat("cosine_f32", tier, t.cosine_f32)
    pairHalf("dot_f16", tier, t.dot_f16) { Inputs.pairF16 }
    pairHalf("l2sq_f16", tier, t.l2sq_f16) { Inputs.pairF16 }
    pairHalf("cosine_f16", tier, t.cosine_f16) { Inputs.pairF16 }
    pairHalf("dot_bf16", tier, t.dot_bf16) { Inputs.pairBF16 }
    pairHalf("l2sq_bf16", tier, t.l2sq_bf16) { Inputs.pairBF16 }
    pairHalf("cosine_bf16", tier, t.cosine_bf16) { Inputs.pairBF16 }
    pairInt8("dot_i8", tier, t.dot_i8)
    pairInt8("l2sq_i8", tier, t.l2sq_i8)

    Benchmark(name("cosine_i8", Inputs.dim, tier), configuration: pairConfiguration) { benchmark, v in
        let f: kestrel_cos_i8_fn = t.cosine_i8, a = v.query.readOnly, b = v.rows.readOnly, n = v.dim
        for _ in benchmark.scaledIterations { blackHole(f(a, b, n)) }
    } setup: { Inputs.pairI8 }

    Benchmark(name("hamming_b1", Inputs.dim, tier), configuration: pairConfiguration) { benchmark, v in
        let f: kestrel_hamming_fn = t.hamming_b1, a = v.query.readOnly, b = v.rows.readOnly, n = v.dim
        for _ in benchmark.scaledIterations { blackHole(f(a, b, n)) }
    } setup: { Inputs.pairB1 }

    Benchmark(name("jaccard_b1", Inputs.dim, tier), configuration: pairConfiguration) { benchmark, v in
        let f: kestrel_jaccard_fn = t.jaccard_b1, a = v.query.readOnly, b = v.rows.readOnly, n = v.dim
        for _ in benchmark.scaledIterations { blackHole(f(a, b, n)) }
    } setup: { Inputs.pairB1 }
}

private func pairFloat(_ kernel: String, _ tier: KernelTier, _ f: @escaping kestrel_dist_f32_fn) {
    Benchmark(name(kernel, Inputs.dim, tier), configuration: pairConfiguration) { benchmark, v in
        let a = v.query.readOnly, b = v.rows.readOnly, n = v.dim
        for _ in benchmark.scaledIterations { blackHole(f(a, b, n)) }
    } setup: { Inputs.pairF32 }
}

private func pairHalf(_ kernel: String, _ tier: KernelTier, _ f: @escaping kestrel_dist_u16_fn,
                      inputs: @escaping @Sendable () -> VectorSet<UInt16>) {
    Benchmark(name(kernel, Inputs.dim, tier), configuration: pairConfiguration) { benchmark, v in
        let a = v.query.readOnly, b = v.rows.readOnly, n = v.dim
        for _ in benchmark.scaledIterations { blackHole(f(a, b, n)) }
    } setup: { inputs() }
}

private func pairInt8(_ kernel: String, _ tier: KernelTier, _ f: @escaping kestrel_dot_i8_fn) {
    Benchmark(name(kernel, Inputs.dim, tier), configuration: pairConfiguration) { benchmark, v in
        let a = v.query.readOnly, b = v.rows.readOnly, n = v.dim
        for _ in benchmark.scaledIterations { blackHole(f(a, b, n)) }
    } setup: { Inputs.pairI8 }
}
