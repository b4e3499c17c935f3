import Benchmark
import CKestrelKernels
import KestrelBenchmarkSupport
import KestrelKernels
import KestrelQuantization

// ggml block formats: quantize and dequantize 1 << 20 floats (4 MiB of f32 in, or out), one
// call per measured iteration, one thread. `<op>_<type>.1048576.<tier>` calls the C table of
// that tier directly (scalar and the best tier this CPU runs); `GGMLBlocks.<op>.<type>.1048576`
// goes through the Swift API at the active tier with preallocated buffers (argument checks,
// the finiteness scan of quantize, the scale scan of dequantize included). f32 GB/s = 4 MiB
// divided by the time per call.

private var blockConfiguration: Benchmark.Configuration { BenchmarkDefaults.configuration() }

/// Inputs and outputs of the block benchmarks, built once.
final class BlockFormatBuffers: @unchecked Sendable {
    static let count = 1 << 20
    static let types: [GGMLType] = [.q8_0, .q4_0, .q4_K, .q6_K]
    let floats: AlignedBuffer<Float>
    let floatOut: AlignedBuffer<Float>
    /// The quantized stream of `floats`, per type (room for the largest, 8.5 bits per value).
    let blocks: [GGMLType: AlignedBuffer<UInt8>]
    let blockOut: AlignedBuffer<UInt8>

    init() {
        var rng = SplitMix64(seed: 16)
        let n = Self.count
        // Normal-like weights (sum of three uniforms) with a per-256 scale over four decades.
        var scale: Float = 1
        floats = AlignedBuffer(count: n) { i in
            if i % 256 == 0 { scale = Float(1 << Int(rng.next() % 14)) / 1024 }
            return (rng.nextSignedUnit() + rng.nextSignedUnit() + rng.nextSignedUnit()) * scale
        }
        floatOut = AlignedBuffer(count: n) { _ in 0 }
        blockOut = AlignedBuffer(count: n / 32 * 34) { _ in 0 }
        var made: [GGMLType: AlignedBuffer<UInt8>] = [:]
        for type in Self.types {
            let bytes = n / type.blockSize * type.bytesPerBlock
            let buffer = AlignedBuffer<UInt8>(count: bytes) { _ in 0 }
            try! GGMLBlocks.quantize(UnsafeBufferPointer(start: floats.readOnly, count: n), rowLength: 4096, as: type,
                                     into: UnsafeMutableRawBufferPointer(start: buffer.pointer, count: bytes),
                                     tier: .scalar, threads: 1)
            made[type] = buffer
        }
        blocks = made
    }

    static let shared = BlockFormatBuffers()
}

private func kernels(_ t: kestrel_kernel_table, _ type: GGMLType)
    -> (kestrel_quantize_blocks_fn, kestrel_dequantize_blocks_fn) {
    switch type {
    case .q8_0: return (t.quantize_q8_0, t.dequantize_q8_0)
    case .q4_0: return (t.quantize_q4_0, t.dequantize_q4_0)
    case .q4_K: return (t.quantize_q4_K, t.dequantize_q4_K)
    default: return (t.quantize_q6_K, t.dequantize_q6_K)
    }
}

/// Registers the BlockFormat benchmarks.
func registerBlockFormatBenchmarks() {
    let n = BlockFormatBuffers.count
    let tiers = KernelTier.supported
    for tier in Set([tiers.first!.name, tiers.last!.name]).sorted() {
        let t = tiers.first { $0.name == tier }!.table.pointee
        for type in BlockFormatBuffers.types {
            let (q, d) = kernels(t, type)
            Benchmark("quantize_\(type).\(n).\(tier)", configuration: blockConfiguration) { benchmark, b in
                for _ in benchmark.scaledIterations { q(b.floats.readOnly, b.blockOut.pointer, n) }
            } setup: { BlockFormatBuffers.shared }
            Benchmark("dequantize_\(type).\(n).\(tier)", configuration: blockConfiguration) { benchmark, b in
                let src = b.blocks[type]!.readOnly
                for _ in benchmark.scaledIterations { d(src, b.floatOut.pointer, n) }
            } setup: { BlockFormatBuffers.shared }
        }
    }
    for type in BlockFormatBuffers.types {
        let bytes = n / type.blockSize * type.bytesPerBlock
        Benchmark("GGMLBlocks.quantize.\(type).\(n)", configuration: blockConfiguration) { benchmark, b in
            let src = UnsafeBufferPointer(start: b.floats.readOnly, count: n)
            let dst = UnsafeMutableRawBufferPointer(start: b.blockOut.pointer, count: bytes)
            for _ in benchmark.scaledIterations {
                try GGMLBlocks.quantize(src, rowLength: 4096, as: type, into: dst, threads: 1)
            }
        } setup: { BlockFormatBuffers.shared }
        Benchmark("GGMLBlocks.dequantize.\(type).\(n)", configuration: blockConfiguration) { benchmark, b in
            let src = UnsafeRawBufferPointer(start: b.blocks[type]!.readOnly, count: bytes)
            let dst = UnsafeMutableBufferPointer(start: b.floatOut.pointer, count: n)
            for _ in benchmark.scaledIterations {
                try GGMLBlocks.dequantize(src, as: type, into: dst, threads: 1)
            }
        } setup: { BlockFormatBuffers.shared }
    }
}
