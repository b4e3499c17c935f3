import KestrelBenchmarkSupport
import CKestrelKernels

/// A query of `dim` elements, `rowCount` rows of `dim` elements packed one after another
/// (stride = dim), and output buffers with one slot per row.
final class VectorSet<Element>: @unchecked Sendable {
    let dim: Int
    let rowCount: Int
    let query: AlignedBuffer<Element>
    let rows: AlignedBuffer<Element>
    let floatOut: AlignedBuffer<Float>
    let int32Out: AlignedBuffer<Int32>
    let uint32Out: AlignedBuffer<UInt32>

    init(dim: Int, rowCount: Int, query: AlignedBuffer<Element>, rows: AlignedBuffer<Element>) {
        self.dim = dim
        self.rowCount = rowCount
        self.query = query
        self.rows = rows
        floatOut = AlignedBuffer(count: rowCount) { _ in 0 }
        int32Out = AlignedBuffer(count: rowCount) { _ in 0 }
        uint32Out = AlignedBuffer(count: rowCount) { _ in 0 }
    }
}

/// Deterministic inputs, built lazily: each benchmark runs in its own process and builds only
/// what it uses (in its setup, outside the measurement).
enum Inputs {
    /// Embedding width of the one-pair and scan benchmarks.
    static let dim = 768
    /// Rows of the one-to-many scans.
    static let scanRows = 10_000
    /// Bytes of a packed binary code of a 768-dimensional vector (one bit per dimension).
    static let binaryBytes = dim / 8

    static let pairF32 = floats(rows: 1, seed: 1)
    static let scanF32 = floats(rows: scanRows, seed: 2)
    static let pairF16 = halves(of: pairF32, KernelTier.scalar.pointee.f32_to_f16)
    static let scanF16 = halves(of: scanF32, KernelTier.scalar.pointee.f32_to_f16)
    static let pairBF16 = halves(of: pairF32, KernelTier.scalar.pointee.f32_to_bf16)
    static let scanBF16 = halves(of: scanF32, KernelTier.scalar.pointee.f32_to_bf16)
    static let pairI8 = bytes(Int8.self, dim: dim, rows: 1, seed: 3)
    static let scanI8 = bytes(Int8.self, dim: dim, rows: scanRows, seed: 4)
    static let pairB1 = bytes(UInt8.self, dim: binaryBytes, rows: 1, seed: 5)
    static let scanB1 = bytes(UInt8.self, dim: binaryBytes, rows: scanRows, seed: 6)

    private static func floats(rows: Int, seed: UInt64) -> VectorSet<Float> {
        var rng = SplitMix64(seed: seed)
        let q = AlignedBuffer<Float>(count: dim) { _ in rng.nextSignedUnit() }
        let r = AlignedBuffer<Float>(count: rows * dim) { _ in rng.nextSignedUnit() }
        return VectorSet(dim: dim, rowCount: rows, query: q, rows: r)
    }

    private static func halves(of f: VectorSet<Float>, _ convert: kestrel_f32_to_u16_fn) -> VectorSet<UInt16> {
        let q = AlignedBuffer<UInt16>(count: f.dim) { _ in 0 }
        let r = AlignedBuffer<UInt16>(count: f.rows.count) { _ in 0 }
        convert(f.query.readOnly, q.pointer, f.dim)
        convert(f.rows.readOnly, r.pointer, f.rows.count)
        return VectorSet(dim: f.dim, rowCount: f.rowCount, query: q, rows: r)
    }

    private static func bytes<T: FixedWidthInteger>(_: T.Type, dim: Int, rows: Int, seed: UInt64) -> VectorSet<T> {
        var rng = SplitMix64(seed: seed)
        let q = AlignedBuffer<T>(count: dim) { _ in T(truncatingIfNeeded: rng.next()) }
        let r = AlignedBuffer<T>(count: rows * dim) { _ in T(truncatingIfNeeded: rng.next()) }
        return VectorSet(dim: dim, rowCount: rows, query: q, rows: r)
    }
}
