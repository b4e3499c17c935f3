import Kestrel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Benchmark buffers are KestrelTensor's `AlignedBuffer`, allocated zeroed so every page is
// faulted in before timing starts.
extension AlignedBuffer {
    /// Start of the block viewed as `T` (the block holds plain bytes, so any trivial type is valid).
    func typed<T>(_: T.Type) -> UnsafeMutablePointer<T> { baseAddress.assumingMemoryBound(to: T.self) }
}


/// One query and `count` stored vectors of one dtype, generated from a seed, 64-byte aligned,
/// rows packed back to back (stride = dim).
///
/// Values: f32 uniform in [-1, 1); f16/bf16 the same floats rounded by the bit-exact conversion
/// kernels; i8 and b1 uniform random bytes. The query is drawn first, then the rows in order.
final class BenchVectors {
    let dtype: BenchDType
    let dim: Int
    let count: Int
    let query: AlignedBuffer
    let base: AlignedBuffer

    /// Generates the vectors.
    /// - Throws: `KestrelError` when the sizes are invalid or the buffers cannot be allocated.
    init(dtype: BenchDType, dim: Int, count: Int, seed: UInt64) throws(KestrelError) {
        try KernelBenchSpec.checkSizes(dtype: dtype, dim: dim, count: count)
        self.dtype = dtype
        self.dim = dim
        self.count = count
        let rowBytes = dtype.bytes(dim: dim)
        query = try AlignedBuffer(byteCount: rowBytes, zeroed: true)
        base = try AlignedBuffer(byteCount: rowBytes * count, zeroed: true)
        var rng = SplitMix64(seed: seed)
        switch dtype {
        case .f32:
            rng.fillFloats(query.typed(Float.self), dim)
            rng.fillFloats(base.typed(Float.self), dim * count)
        case .f16, .bf16:
            // Convert row by row through a small f32 scratch row; the scalar table is the
            // bit-exact reference, so the data never depends on the tier.
            guard let scalar = ISALevel.scalar.kernels?.pointee else {
                throw .unsupported("scalar kernel table")
            }
            let convert = dtype == .f16 ? scalar.f32_to_f16 : scalar.f32_to_bf16
            guard let convert else { throw .unsupported("f32 conversion kernel") }
            let scratch = try AlignedBuffer(byteCount: dim * 4, zeroed: true)
            let f = scratch.typed(Float.self)
            rng.fillFloats(f, dim)
            convert(f, query.typed(UInt16.self), dim)
            for r in 0..<count {
                rng.fillFloats(f, dim)
                convert(f, base.typed(UInt16.self) + r * dim, dim)
            }
        case .i8, .b1:
            rng.fillBytes(query.baseAddress, rowBytes)
            rng.fillBytes(base.baseAddress, rowBytes * count)
        }
    }
}
