import Benchmark
import KestrelBenchmarkSupport
import CKestrelKernels

// 65 536 elements (256 KiB of f32) each way between f32 and f16/bf16: storage-codec speed.

private var conversionConfiguration: Benchmark.Configuration { BenchmarkDefaults.configuration() }

/// Source and destination buffers of one conversion benchmark.
final class ConversionBuffers: @unchecked Sendable {
    static let count = 65_536
    let floats: AlignedBuffer<Float>
    let halves: AlignedBuffer<UInt16>
    let bhalves: AlignedBuffer<UInt16>
    let floatOut: AlignedBuffer<Float>
    let halfOut: AlignedBuffer<UInt16>

    init() {
        var rng = SplitMix64(seed: 7)
        let n = Self.count
        // Values over many binades, as real activations and weights span them.
        floats = AlignedBuffer(count: n) { _ in rng.nextSignedUnit() * Float(1 << Int(rng.next() % 16)) }
        halves = AlignedBuffer(count: n) { _ in 0 }
        bhalves = AlignedBuffer(count: n) { _ in 0 }
        floatOut = AlignedBuffer(count: n) { _ in 0 }
        halfOut = AlignedBuffer(count: n) { _ in 0 }
        KernelTier.scalar.pointee.f32_to_f16(floats.readOnly, halves.pointer, n)
        KernelTier.scalar.pointee.f32_to_bf16(floats.readOnly, bhalves.pointer, n)
    }

    static let shared = ConversionBuffers()
}

func registerConversionBenchmarks(_ tier: KernelTier) {
    let t = tier.table.pointee
    let n = ConversionBuffers.count
    Benchmark("f32_to_f16.\(n).\(tier.name)", configuration: conversionConfiguration) { benchmark, b in
        let f: kestrel_f32_to_u16_fn = t.f32_to_f16
        for _ in benchmark.scaledIterations { f(b.floats.readOnly, b.halfOut.pointer, n) }
    } setup: { ConversionBuffers.shared }
    Benchmark("f16_to_f32.\(n).\(tier.name)", configuration: conversionConfiguration) { benchmark, b in
        let f: kestrel_u16_to_f32_fn = t.f16_to_f32
        for _ in benchmark.scaledIterations { f(b.halves.readOnly, b.floatOut.pointer, n) }
    } setup: { ConversionBuffers.shared }
    Benchmark("f32_to_bf16.\(n).\(tier.name)", configuration: conversionConfiguration) { benchmark, b in
        let f: kestrel_f32_to_u16_fn = t.f32_to_bf16
        for _ in benchmark.scaledIterations { f(b.floats.readOnly, b.halfOut.pointer, n) }
    } setup: { ConversionBuffers.shared }
    Benchmark("bf16_to_f32.\(n).\(tier.name)", configuration: conversionConfiguration) { benchmark, b in
        let f: kestrel_u16_to_f32_fn = t.bf16_to_f32
        for _ in benchmark.scaledIterations { f(b.bhalves.readOnly, b.floatOut.pointer, n) }
    } setup: { ConversionBuffers.shared }
}
