import Foundation
import Kestrel

#if canImport(Accelerate)
import Accelerate
#else
import CKestrelBLAS
#endif

/// Square products `[n, n] · [n, n]`: Tensor matmul (allocating and `into:`) against a direct
/// `cblas_sgemm` call on the same buffers. Times are seconds per product.
struct MatmulSquareResult: Sendable, Equatable {
    /// The size N.
    let n: Int
    /// Median seconds of `backend.matmul(a, b)` (allocates its result).
    let tensorSeconds: Double
    /// Median seconds of `backend.matmul(a, b, into: &out)` (same work as the direct call).
    let tensorIntoSeconds: Double
    /// Median seconds of the direct `cblas_sgemm`.
    let sgemmSeconds: Double
    /// Minimum seconds of each contender (least disturbed by other load).
    let minTensorSeconds: Double, minTensorIntoSeconds: Double, minSgemmSeconds: Double
    /// Largest |Tensor − direct| over the product's elements.
    let maxAbsDifference: Double

    /// Tensor (into) / direct, medians: the overhead of the Tensor layer on equal work.
    var ratioInto: Double { tensorIntoSeconds / sgemmSeconds }
    /// Tensor (allocating) / direct, medians: includes allocating and faulting in the result.
    var ratioAllocating: Double { tensorSeconds / sgemmSeconds }
    /// Ratio of minima, into / direct.
    var minRatioInto: Double { minTensorIntoSeconds / minSgemmSeconds }
    /// Ratio of minima, allocating / direct.
    var minRatioAllocating: Double { minTensorSeconds / minSgemmSeconds }
    /// GFLOP/s of the direct call (2·n³ FLOPs).
    var sgemmGigaflops: Double { 2 * pow(Double(n), 3) / sgemmSeconds / 1e9 }
}

/// One-row products `[1, n] · [n, n]`: Tensor (routed to gemv) against `sgemm` with M = 1 and a
/// direct `sgemv`. Times are seconds per product.
struct MatmulOneRowResult: Sendable, Equatable {
    let n: Int
    let tensorSeconds: Double
    let sgemmM1Seconds: Double
    let sgemvSeconds: Double
    let minTensorSeconds: Double, minSgemmM1Seconds: Double, minSgemvSeconds: Double

    /// sgemm(M=1) / Tensor: how much the gemv route gains.
    var speedupVsSgemm: Double { sgemmM1Seconds / tensorSeconds }
    /// Tensor / sgemv: the overhead over calling gemv directly.
    var ratioVsSgemv: Double { tensorSeconds / sgemvSeconds }
}

/// `[n, n] · [n, n]` three ways on the same inputs: Tensor matmul allocating its result, Tensor
/// matmul into a preallocated result, and a direct `cblas_sgemm` into another buffer. The object
/// owns every buffer; its closures may be called any number of times, from one thread at a time.
final class MatmulSquareProblem {
    let n: Int
    private let backend = AcceleratedBackend()
    private let a: Tensor, b: Tensor
    private var out: Tensor
    private var direct: Tensor

    init(n: Int) throws {
        self.n = n
        a = try Tensor.random([n, n], seed: 1)
        b = try Tensor.random([n, n], seed: 2)
        out = try Tensor.zeros([n, n])
        direct = try Tensor.zeros([n, n])
    }

    /// `backend.matmul(a, b)`: allocates (and faults in) its n×n result every call.
    func tensorAllocating() throws { _ = try backend.matmul(a, b) }

    /// `backend.matmul(a, b, into: &out)`: the same work as the direct call.
    func tensorInto() throws { try backend.matmul(a, b, into: &out) }

    /// `cblas_sgemm` on the tensors' buffers, row-major, no transposes.
    func sgemm() throws {
        let ni = Int32(n)
        try a.withUnsafeBufferPointer { (pa) throws(KestrelError) in
            try b.withUnsafeBufferPointer { (pb) throws(KestrelError) in
                try direct.withUnsafeMutableBufferPointer { (pc) throws(KestrelError) in
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, ni, ni, 1,
                                pa.baseAddress, ni, pb.baseAddress, ni, 0, pc.baseAddress, ni)
                }
            }
        }
    }

    /// Largest |Tensor − direct| after both have run at least once.
    func maxAbsDifference() -> Double {
        Double(zip(out.scalars(), direct.scalars()).map { abs($0 - $1) }.max() ?? 0)
    }
}

/// The measuring logic of `kestrel matmul-bench`, shared with the `simd` benchmark suite.
///
/// Repetitions of the contenders are interleaved (rotating which goes first) so drift in clock
/// speed or machine load hits all alike; each reports the median and the minimum per call.
struct MatmulBench: Sendable {
    /// Timed repetitions per contender (after one warm-up call each).
    var reps: Int = 15

    /// The square product of size `n` ready to time: inputs, outputs and the three contenders.
    /// `kestrel matmul-bench` times them with ``square(_:)``; the `simd` benchmark suite times
    /// the same closures with ``Comparison``.
    /// - Throws: `KestrelError` when a tensor cannot be allocated.
    func squareProblem(_ n: Int) throws -> MatmulSquareProblem {
        try MatmulSquareProblem(n: n)
    }

    /// Times the square product of size `n`.
    /// - Throws: `KestrelError` when a tensor cannot be allocated or the backend fails.
    func square(_ n: Int) throws -> MatmulSquareResult {
        let p = try squareProblem(n)
        let inner = try calibrate(p.tensorInto)
        let (med, low) = try interleaved([p.tensorAllocating, p.tensorInto, p.sgemm], inner: inner)
        return MatmulSquareResult(
            n: n, tensorSeconds: med[0], tensorIntoSeconds: med[1], sgemmSeconds: med[2],
            minTensorSeconds: low[0], minTensorIntoSeconds: low[1], minSgemmSeconds: low[2],
            maxAbsDifference: p.maxAbsDifference())
    }

    /// Times the one-row product of size `n`.
    /// - Throws: `KestrelError` when a tensor cannot be allocated or the backend fails.
    func oneRow(_ n: Int) throws -> MatmulOneRowResult {
        let backend = AcceleratedBackend()
        let x = try Tensor.random([1, n], seed: 3), b = try Tensor.random([n, n], seed: 4)
        var out = try Tensor.zeros([1, n])
        var direct = try Tensor.zeros([1, n])
        let ni = Int32(n)
        let inner = try calibrate { try backend.matmul(x, b, into: &out) }
        let contenders: [() throws -> Void] = [
            { try backend.matmul(x, b, into: &out) },
            {
                try x.withUnsafeBufferPointer { (px) throws(KestrelError) in
                    try b.withUnsafeBufferPointer { (pb) throws(KestrelError) in
                        try direct.withUnsafeMutableBufferPointer { (pc) throws(KestrelError) in
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, ni, ni, 1,
                                        px.baseAddress, ni, pb.baseAddress, ni, 0, pc.baseAddress, ni)
                        }
                    }
                }
            },
            {
                try x.withUnsafeBufferPointer { (px) throws(KestrelError) in
                    try b.withUnsafeBufferPointer { (pb) throws(KestrelError) in
                        try direct.withUnsafeMutableBufferPointer { (pc) throws(KestrelError) in
                            cblas_sgemv(CblasRowMajor, CblasTrans, ni, ni, 1, pb.baseAddress, ni,
                                        px.baseAddress, 1, 0, pc.baseAddress, 1)
                        }
                    }
                }
            },
        ]
        let (med, low) = try interleaved(contenders, inner: inner)
        return MatmulOneRowResult(
            n: n, tensorSeconds: med[0], sgemmM1Seconds: med[1], sgemvSeconds: med[2],
            minTensorSeconds: low[0], minSgemmM1Seconds: low[1], minSgemvSeconds: low[2])
    }

    // MARK: Timing

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    /// Calls per sample so that one sample lasts at least ~2 ms (clock resolution, call overhead).
    private func calibrate(_ body: () throws -> Void) throws -> Int {
        let clock = ContinuousClock()
        try body()  // warm-up: page faults, BLAS thread start
        let t0 = clock.now
        try body()
        let one = Self.seconds(clock.now - t0)
        return max(1, min(10_000, Int((2e-3 / max(one, 1e-9)).rounded(.up))))
    }

    /// Median and minimum seconds per call of each contender; repetitions interleaved, order
    /// rotated per rep. The minimum is the least disturbed by other load on the machine.
    private func interleaved(_ contenders: [() throws -> Void], inner: Int) throws -> (median: [Double], min: [Double]) {
        let clock = ContinuousClock()
        for c in contenders { try c() }  // warm-up
        var samples = [[Double]](repeating: [], count: contenders.count)
        for rep in 0..<max(reps, 1) {
            for j in 0..<contenders.count {
                let i = (j + rep) % contenders.count
                let t0 = clock.now
                for _ in 0..<inner { try contenders[i]() }
                samples[i].append(Self.seconds(clock.now - t0) / Double(inner))
            }
        }
        return (samples.map { BenchStatistics.median($0) ?? .nan }, samples.map { $0.min() ?? .nan })
    }
}
