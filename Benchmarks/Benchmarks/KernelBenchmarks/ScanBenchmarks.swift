import Benchmark
import KestrelBenchmarkSupport
import CKestrelKernels

// One query against 10 000 rows of 768 dimensions (30 MB of f32 rows, 7.5 MB of int8): the
// memory-bound scan of an exact (flat) vector index. One call per measured iteration.

private var scanConfiguration: Benchmark.Configuration { BenchmarkDefaults.configuration() }

private func name(_ kernel: String, _ v: Int, _ tier: KernelTier) -> String {
    "\(kernel).\(Inputs.scanRows)x\(v).\(tier.name)"
}

func registerScanBenchmarks(_ tier: KernelTier) {
    let t = tier.table.pointee
    scanFloat("dot_f32_many", tier, t.dot_f32_many)
    scanFloat("l2sq_f32_many", tier, t.l2sq_f32_many)
    scanFloat("cosine_f32_many", tier, t.cosine_f32_many)
    scanHalf("dot_f16_many", tier, t.dot_f16_many) { Inputs.scanF16 }
    scanHalf("l2sq_f16_many", tier, t.l2sq_f16_many) { Inputs.scanF16 }
    scanHalf("cosine_f16_many", tier, t.cosine_f16_many) { Inputs.scanF16 }
    scanHalf("dot_bf16_many", tier, t.dot_bf16_many) { Inputs.scanBF16 }
    scanHalf("l2sq_bf16_many", tier, t.l2sq_bf16_many) { Inputs.scanBF16 }
    scanHalf("cosine_bf16_many", tier, t.cosine_bf16_many) { Inputs.scanBF16 }
    scanInt8("dot_i8_many", tier, t.dot_i8_many)
    scanInt8("l2sq_i8_many", tier, t.l2sq_i8_many)

    Benchmark(name("cosine_i8_many", Inputs.dim, tier), configuration: scanConfiguration) { benchmark, v in
        let f: kestrel_many_cos_i8_fn = t.cosine_i8_many
        var status = KESTREL_OK
        for _ in benchmark.scaledIterations {
            status = f(v.query.readOnly, v.rows.readOnly, v.dim, v.rowCount, v.dim, v.floatOut.pointer)
        }
        report(status, benchmark)
    } setup: { Inputs.scanI8 }

    // Binary codes of 768-dimensional vectors: 96 bytes a row.
    Benchmark(name("hamming_b1_many", Inputs.dim, tier), configuration: scanConfiguration) { benchmark, v in
        let f: kestrel_many_b1_fn = t.hamming_b1_many
        var status = KESTREL_OK
        for _ in benchmark.scaledIterations {
            status = f(v.query.readOnly, v.rows.readOnly, v.dim, v.rowCount, v.dim, v.uint32Out.pointer)
        }
        report(status, benchmark)
    } setup: { Inputs.scanB1 }

    Benchmark(name("jaccard_b1_many", Inputs.dim, tier), configuration: scanConfiguration) { benchmark, v in
        let f: kestrel_many_jaccard_fn = t.jaccard_b1_many
        var status = KESTREL_OK
        for _ in benchmark.scaledIterations {
            status = f(v.query.readOnly, v.rows.readOnly, v.dim, v.rowCount, v.dim, v.floatOut.pointer)
        }
        report(status, benchmark)
    } setup: { Inputs.scanB1 }
}

/// Fails the benchmark if the kernel rejected its (valid) arguments.
private func report(_ status: kestrel_status, _ benchmark: Benchmark) {
    if status != KESTREL_OK { benchmark.error("kernel returned status \(status.rawValue)") }
}

private func scanFloat(_ kernel: String, _ tier: KernelTier, _ f: @escaping kestrel_many_f32_fn) {
    Benchmark(name(kernel, Inputs.dim, tier), configuration: scanConfiguration) { benchmark, v in
        var status = KESTREL_OK
        for _ in benchmark.scaledIterations {
            status = f(v.query.readOnly, v.rows.readOnly, v.dim, v.rowCount, v.dim, v.floatOut.pointer)
        }
        report(status, benchmark)
    } setup: { Inputs.scanF32 }
}

private func scanHalf(_ kernel: String, _ tier: KernelTier, _ f: @escaping kestrel_many_u16_fn,
                      inputs: @escaping @Sendable () -> VectorSet<UInt16>) {
    Benchmark(name(kernel, Inputs.dim, tier), configuration: scanConfiguration) { benchmark, v in
        var status = KESTREL_OK
        for _ in benchmark.scaledIterations {
            status = f(v.query.readOnly, v.rows.readOnly, v.dim, v.rowCount, v.dim, v.floatOut.pointer)
        }
        report(status, benchmark)
    } setup: { inputs() }
}

private func scanInt8(_ kernel: String, _ tier: KernelTier, _ f: @escaping kestrel_many_i8_fn) {
    Benchmark(name(kernel, Inputs.dim, tier), configuration: scanConfiguration) { benchmark, v in
        var status = KESTREL_OK
        for _ in benchmark.scaledIterations {
            status = f(v.query.readOnly, v.rows.readOnly, v.dim, v.rowCount, v.dim, v.int32Out.pointer)
        }
        report(status, benchmark)
    } setup: { Inputs.scanI8 }
}
