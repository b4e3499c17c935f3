import Benchmark
import CKestrelKernels
import KestrelBenchmarkSupport

// Quantized GEMV per tier on a 1024 × 4096 weight matrix (4 Mi weights: 4.5 MB as Q8_0, larger than
// L2, so the weights stream as in a model's decode step) against activations quantized once in
// setup; int8 GEMM on 64 × 256 × 4096. One product per measured iteration. `kestrel quant-bench`
// times the same kernels against f32 cblas_sgemv on 4096 × 4096 (the ratios).

/// Seeded weights and activations of the quantized GEMV benchmarks (random codes, finite scales).
final class QuantizedGemvInputs: @unchecked Sendable {
    static let rows = 1024, columns = 4096, gemmM = 64, gemmN = 256
    let q8: AlignedBuffer<kestrel_block_q8_0>
    let q4: AlignedBuffer<kestrel_block_q4_0>
    let q4K: AlignedBuffer<kestrel_block_q4_K>
    let q6K: AlignedBuffer<kestrel_block_q6_K>
    let x8: AlignedBuffer<kestrel_block_q8_0>
    let xK: AlignedBuffer<kestrel_block_q8_K>
    let i8: AlignedBuffer<Int8>
    let xi8: AlignedBuffer<Int8>
    let scales: AlignedBuffer<Float>
    let y: AlignedBuffer<Float>

    init() {
        var rng = SplitMix64(seed: 0x0D07)
        let n = Self.rows * Self.columns
        func bytes<T>(_ count: Int) -> AlignedBuffer<T> {
            let b = AlignedBuffer<T>(count: count)
            let raw = UnsafeMutableRawPointer(b.pointer)
            for i in 0..<(count * MemoryLayout<T>.stride) { raw.storeBytes(of: UInt8(truncatingIfNeeded: rng.next()), toByteOffset: i, as: UInt8.self) }
            return b
        }
        q8 = bytes(n / 32)
        q4 = bytes(n / 32)
        q4K = bytes(n / 256)
        q6K = bytes(n / 256)
        let half: UInt16 = 0x1c00  // 2^-8: finite scales
        for i in 0..<(n / 32) {
            q8.pointer[i].d = half
            q4.pointer[i].d = half
        }
        for i in 0..<(n / 256) {
            q4K.pointer[i].d = half
            q4K.pointer[i].dmin = half
            q6K.pointer[i].d = half
        }
        let x = AlignedBuffer<Float>(count: Self.columns) { _ in rng.nextSignedUnit() }
        x8 = AlignedBuffer(count: Self.columns / 32)
        xK = AlignedBuffer(count: Self.columns / 256)
        kestrel_quantize_act_q8_0(x.readOnly, x8.pointer, Self.columns)
        kestrel_quantize_row_q8_K(x.readOnly, xK.pointer, Self.columns)
        i8 = AlignedBuffer(count: n) { _ in Int8(truncatingIfNeeded: rng.next()) }
        xi8 = AlignedBuffer(count: Self.columns) { _ in Int8(truncatingIfNeeded: rng.next() % 255) &- 127 }
        scales = AlignedBuffer(count: max(Self.rows, Self.gemmN)) { _ in 0.01 }
        y = AlignedBuffer(count: Self.gemmM * Self.gemmN + Self.rows) { _ in 0 }
    }

    static let shared = QuantizedGemvInputs()
}

private var gemvConfiguration: Benchmark.Configuration { BenchmarkDefaults.configuration() }

/// One benchmark that runs `product` (one GEMV or GEMM over the shared inputs) per iteration.
private func quantizedProduct(_ name: String, _ product: @escaping (QuantizedGemvInputs) -> Void) {
    Benchmark(name, configuration: gemvConfiguration) { benchmark, v in
        for _ in benchmark.scaledIterations { product(v) }
        blackHole(v.y.pointer[0])
    } setup: { QuantizedGemvInputs.shared }
}

/// Registers the quantized GEMV and int8 GEMM benchmarks of every supported tier.
func registerQuantizedKernelBenchmarks() {
    let shape = "\(QuantizedGemvInputs.rows)x\(QuantizedGemvInputs.columns)"
    for tier in KernelTier.supported {
        let t = tier.table.pointee
        let rows = QuantizedGemvInputs.rows, c = QuantizedGemvInputs.columns
        // Q8_0 / Q4_0: the tier's block GEMV (four rows per pass on x86); K-quants: its block dot per row.
        quantizedProduct("qgemv_q8_0.\(shape).\(tier.name)") { v in
            blackHole(t.gemv_q8_0_q8_0!(v.q8.readOnly, rows, c / 32, v.x8.readOnly, v.y.pointer))
        }
        quantizedProduct("qgemv_q4_0.\(shape).\(tier.name)") { v in
            blackHole(t.gemv_q4_0_q8_0!(v.q4.readOnly, rows, c / 32, v.x8.readOnly, v.y.pointer))
        }
        quantizedProduct("qgemv_q4_K.\(shape).\(tier.name)") { v in
            let f = t.vec_dot_q4_K_q8_K!
            for r in 0..<rows { v.y.pointer[r] = f(v.q4K.readOnly + r * (c / 256), v.xK.readOnly, c / 256) }
        }
        quantizedProduct("qgemv_q6_K.\(shape).\(tier.name)") { v in
            let f = t.vec_dot_q6_K_q8_K!
            for r in 0..<rows { v.y.pointer[r] = f(v.q6K.readOnly + r * (c / 256), v.xK.readOnly, c / 256) }
        }
        quantizedProduct("gemv_i8.\(shape).\(tier.name)") { v in
            blackHole(t.gemv_i8!(v.i8.readOnly, rows, c, c, v.scales.readOnly, v.xi8.readOnly, 0.5, v.y.pointer))
        }
        let (m, n) = (QuantizedGemvInputs.gemmM, QuantizedGemvInputs.gemmN)
        // A = the first m rows of the weights, B = the next n rows
        quantizedProduct("gemm_i8.\(m)x\(n)x\(c).\(tier.name)") { v in
            blackHole(t.gemm_i8!(v.i8.readOnly, m, c, c, v.i8.readOnly + m * c, n, c, v.scales.readOnly,
                                 v.scales.readOnly, v.y.pointer, n))
        }
    }
}
