import CKestrelKernels
import Kestrel

/// A built-in operation for `kestrel profile` and `kestrel analyze`: its inputs (owned, kept
/// alive with it), one call, and the FLOPs and bytes of one call for the roofline.
final class Workload {
    /// Short name, e.g. `l2sq_f32_many 100000 x 768 (avx512)`.
    let name: String
    /// Floating-point operations of one call (integer kernels: their arithmetic operations,
    /// counted the same way; bit kernels: 0).
    let flopsPerCall: Double
    /// Compulsory bytes of one call: every input read once, every output written once.
    let bytesPerCall: Double
    /// Runs the operation once.
    let call: () -> Void
    /// Failures reported by the operation (a kernel status, a backend error), checked after timing.
    private(set) var failures = 0
    private var failureText: String?
    private let owned: [AnyObject]

    private init(name: String, flopsPerCall: Double, bytesPerCall: Double, owned: [AnyObject], call: @escaping () -> Void) {
        self.name = name
        self.flopsPerCall = flopsPerCall
        self.bytesPerCall = bytesPerCall
        self.owned = owned
        self.call = call
    }

    /// Throws when any call failed.
    func checkFailures() throws(KestrelError) {
        if failures > 0 { throw .backendFailure(routine: failureText ?? name, code: failures) }
    }

    /// Arithmetic operations per element of one distance.
    static func operationsPerElement(_ op: BenchOp) -> Double {
        switch op {
        case .dot: return 2  // multiply + add
        case .l2sq: return 3  // subtract + multiply + add
        case .cosine: return 6  // three multiply-adds
        case .hamming, .jaccard: return 0  // bit operations, no arithmetic
        }
    }

    /// One query against `spec.count` rows with the one-to-many kernel of `spec.isa`.
    /// - Throws: `KestrelError` for bad sizes, a failed allocation or a missing kernel.
    static func scan(_ spec: KernelBenchSpec, seed: UInt64 = 42) throws(KestrelError) -> Workload {
        guard let table = spec.isa.kernels?.pointee else { throw .unsupported("ISA level \(spec.isa.rawValue)") }
        let v = try BenchVectors(dtype: spec.dtype, dim: spec.dim, count: spec.count, seed: seed)
        let out = try AlignedBuffer(byteCount: 4 * spec.count, zeroed: true)
        let k = try KernelCatalog.distance(table, op: spec.op, dtype: spec.dtype, shape: .many, vectors: v, out: out)
        let rowBytes = spec.dtype.bytes(dim: spec.dim)
        let bytes = Double(rowBytes * (spec.count + 1) + 4 * spec.count)
        let flops = operationsPerElement(spec.op) * Double(spec.dim) * Double(spec.count)
        weak var box: Workload?  // weak: the workload owns this closure
        let w = Workload(name: "\(spec.kernelName) \(spec.count) x \(spec.dim) (\(spec.isa.rawValue))", flopsPerCall: flops,
                         bytesPerCall: bytes, owned: [v, out]) {
            if k.run() != 0, let w = box {
                w.failures += 1
                w.failureText = "kestrel_\(spec.kernelName)"
            }
        }
        box = w
        return w
    }

    /// `[n, n] · [n, n]` with `AcceleratedBackend.matmul(_:_:into:)` (2n³ FLOPs; 3 matrices of bytes).
    /// - Throws: `KestrelError` when the tensors cannot be allocated.
    static func matmul(_ n: Int) throws(KestrelError) -> Workload {
        guard n >= 1, n <= 8192 else { throw .invalidArgument(name: "size", reason: "must be in 1...8192 (got \(n))") }
        let backend = AcceleratedBackend()
        let a = try Tensor.random([n, n], seed: 1), b = try Tensor.random([n, n], seed: 2)
        let holder = TensorHolder(try Tensor.zeros([n, n]))
        weak var box: Workload?  // weak: the workload owns this closure
        let w = Workload(name: "matmul \(n)x\(n)x\(n) (AcceleratedBackend, BLAS threads \(BLASThreads.count))",
                         flopsPerCall: 2 * Double(n) * Double(n) * Double(n), bytesPerCall: 12 * Double(n) * Double(n),
                         owned: [holder]) {
            do {
                try backend.matmul(a, b, into: &holder.tensor)
            } catch {
                box?.failures += 1
                box?.failureText = "\(error)"
            }
        }
        box = w
        return w
    }
}

/// A tensor owned by reference, so a workload closure can write into it.
final class TensorHolder {
    var tensor: Tensor
    init(_ tensor: Tensor) { self.tensor = tensor }
}
