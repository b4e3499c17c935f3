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

/// A GEMV over the shared weights as rows of blocks, one call of the tier's block dot a row.
private func blockGemv<W, X>(
    _ name: String, _ dot: @escaping @convention(c) (UnsafePointer<W>?, UnsafePointer<X>?, Int) -> Float,
    blocksPerRow nb: Int, weights: KeyPath<QuantizedGemvInputs, AlignedBuffer<W>>,
    activations: KeyPath<QuantizedGemvInputs, AlignedBuffer<X>>
) {
    Benchmark(name, configuration: gemvConfiguration) { benchmark, v in
        let w = v[keyPath: weights].readOnly, x = v[keyPath: activations].readOnly, y = v.y.pointer
        for _ in benchmark.scaledIterations {
            for r in 0..<QuantizedGemvInputs.rows { y[r] = dot(w + r * nb, x, nb) }
        }
        blackHole(y[0])
    } setup: { QuantizedGemvInputs.shared }
}

/// Registers the quantized GEMV and int8 GEMM benchmarks of every supported tier.
func registerQuantizedKernelBenchmarks() {
    let shape = "\(QuantizedGemvInputs.rows)x\(QuantizedGemvInputs.columns)"
    for tier in KernelTier.supported {
        let t = tier.table.pointee
        blockGemv("qgemv_q8_0.\(shape).\(tier.name)", t.vec_dot_q8_0_q8_0!, blocksPerRow: QuantizedGemvInputs.columns / 32,
                  weights: \.q8, activations: \.x8)
        blockGemv("qgemv_q4_0.\(shape).\(tier.name)", t.vec_dot_q4_0_q8_0!, blocksPerRow: QuantizedGemvInputs.columns / 32,
                  weights: \.q4, activations: \.x8)
        blockGemv("qgemv_q4_K.\(shape).\(tier.name)", t.vec_dot_q4_K_q8_K!, blocksPerRow: QuantizedGemvInputs.columns / 256,
                  weights: \.q4K, activations: \.xK)
        blockGemv("qgemv_q6_K.\(shape).\(tier.name)", t.vec_dot_q6_K_q8_K!, blocksPerRow: QuantizedGemvInputs.columns / 256,
                  weights: \.q6K, activations: \.xK)
        Benchmark("gemv_i8.\(shape).\(tier.name)", configuration: gemvConfiguration) { benchmark, v in
            let f = t.gemv_i8!, c = QuantizedGemvInputs.columns
            for _ in benchmark.scaledIterations {
                blackHole(f(v.i8.readOnly, QuantizedGemvInputs.rows, c, c, v.scales.readOnly, v.xi8.readOnly, 0.5, v.y.pointer))
            }
        } setup: { QuantizedGemvInputs.shared }
        let (m, n, k) = (QuantizedGemvInputs.gemmM, QuantizedGemvInputs.gemmN, QuantizedGemvInputs.columns)
        Benchmark("gemm_i8.\(m)x\(n)x\(k).\(tier.name)", configuration: gemvConfiguration) { benchmark, v in
            let f = t.gemm_i8!
            for _ in benchmark.scaledIterations {
                // A = the first m rows of the weights, B = the next n rows
                blackHole(f(v.i8.readOnly, m, k, k, v.i8.readOnly + m * k, n, k, v.scales.readOnly, v.scales.readOnly,
                            v.y.pointer, n))
            }
        } setup: { QuantizedGemvInputs.shared }
    }
}
