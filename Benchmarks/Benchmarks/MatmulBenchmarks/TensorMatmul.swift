import Benchmark
import KestrelTensor

/// `Tensor` matmul through `AcceleratedBackend`, writing into a reused result so the number
/// compares with `sgemm.blas.*` (same shapes, same values): the target is ≤ 1.05× of direct sgemm
/// at 512³ and above. BLAS runs on one thread in both, so the ratio shows Kestrel's own overhead.
func registerTensorMatmul(_ shape: MatmulShape) {
    Benchmark("sgemm.tensor.\(shape.label).threads1") { (benchmark: Benchmark, state: TensorOperands) in
        var out = state.out
        for _ in benchmark.scaledIterations {
            try state.backend.matmul(state.a, state.b, into: &out)
        }
        blackHole(out.elementCount)
    } setup: {
        try BLASThreads.setCount(1)
        return try TensorOperands(MatmulOperands(shape))
    }
}

/// The shared operands copied into tensors once, outside the measured loop.
final class TensorOperands: @unchecked Sendable {
    let a: Tensor
    let b: Tensor
    let out: Tensor
    let backend = AcceleratedBackend()

    init(_ ops: MatmulOperands) throws {
        let s = ops.shape
        a = try Tensor(Array(UnsafeBufferPointer(start: ops.a.readOnly, count: s.m * s.k)), shape: [s.m, s.k])
        b = try Tensor(Array(UnsafeBufferPointer(start: ops.b.readOnly, count: s.k * s.n)), shape: [s.k, s.n])
        out = try Tensor.zeros([s.m, s.n])
    }
}
