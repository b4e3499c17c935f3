import KestrelBenchmarkSupport

/// The shape of C (m x n) = A (m x k) * B (k x n), row-major f32.
struct MatmulShape: Sendable {
    let m: Int
    let n: Int
    let k: Int

    /// Square products large enough to be compute-bound, small enough for a short run.
    static let standard = [MatmulShape(m: 256, n: 256, k: 256), MatmulShape(m: 512, n: 512, k: 512)]

    /// "MxNxK", used in benchmark names.
    var label: String { "\(m)x\(n)x\(k)" }

    /// Floating-point operations of one product (2 m n k), for converting times to GFLOP/s.
    var flops: Int { 2 * m * n * k }
}

/// Deterministic operands of one shape: A and B in [-1, 1), and C to write into.
/// Built in a benchmark's setup (each benchmark runs in its own process).
final class MatmulOperands: @unchecked Sendable {
    let shape: MatmulShape
    let a: AlignedBuffer<Float>
    let b: AlignedBuffer<Float>
    let c: AlignedBuffer<Float>

    init(_ shape: MatmulShape) {
        var rng = SplitMix64(seed: UInt64(shape.m * 1_000_003 + shape.n * 1_009 + shape.k))
        self.shape = shape
        a = AlignedBuffer(count: shape.m * shape.k) { _ in rng.nextSignedUnit() }
        b = AlignedBuffer(count: shape.k * shape.n) { _ in rng.nextSignedUnit() }
        c = AlignedBuffer(count: shape.m * shape.n) { _ in 0 }
    }
}
