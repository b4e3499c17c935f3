import CKestrelKernels
import Kestrel

/// Whether a distance kernel compares one pair or scans one query against many rows.
enum KernelShape: String, Sendable {
    /// One pair of vectors (`dot_f32`, ...).
    case pair
    /// One query against `count` rows (`dot_f32_many`, ...).
    case many
}

/// A table entry bound to its inputs: `run` calls the kernel once.
/// The buffers it reads must outlive it (callers keep them in scope while timing).
struct BoundKernel {
    /// The C function's address, to tell a tier's own kernel from one it inherits.
    let address: UnsafeRawPointer
    /// Calls the kernel once; returns its result (or status) so the call is observable.
    let run: () -> Double
}

/// The non-distance kernels of the suite (conversions and math), each over `n` f32/u16 elements.
enum MiscKernel: String, CaseIterable, Sendable {
    case f32_to_f16, f16_to_f32, f32_to_bf16, bf16_to_f32, exp_f32, softmax_f32

    /// Bytes read plus bytes written by one call over `n` elements.
    func bytesMoved(n: Int) -> Int {
        switch self {
        case .f32_to_f16, .f16_to_f32, .f32_to_bf16, .bf16_to_f32: return 6 * n
        case .exp_f32, .softmax_f32: return 8 * n
        }
    }

    /// Table section the kernel belongs to.
    var group: String {
        switch self {
        case .exp_f32, .softmax_f32: return "math"
        default: return "convert"
        }
    }
}

/// Inputs and outputs of the conversion and math kernels: `n` floats uniform in [-10, 10) and
/// their f16/bf16 bit patterns.
final class MiscWorkspace {
    let n: Int
    let f32: AlignedBuffer
    let f16: AlignedBuffer
    let bf16: AlignedBuffer
    let outF32: AlignedBuffer
    let outU16: AlignedBuffer

    /// - Throws: `KestrelError` when allocation fails or the scalar table is missing.
    init(n: Int, seed: UInt64) throws(KestrelError) {
        self.n = n
        f32 = try AlignedBuffer(byteCount: 4 * n, zeroed: true)
        f16 = try AlignedBuffer(byteCount: 2 * n, zeroed: true)
        bf16 = try AlignedBuffer(byteCount: 2 * n, zeroed: true)
        outF32 = try AlignedBuffer(byteCount: 4 * n, zeroed: true)
        outU16 = try AlignedBuffer(byteCount: 2 * n, zeroed: true)
        var rng = SplitMix64(seed: seed)
        rng.fillFloats(f32.typed(Float.self), n, scale: 10)
        guard let s = ISALevel.scalar.kernels?.pointee, let toF16 = s.f32_to_f16, let toBF16 = s.f32_to_bf16 else {
            throw .unsupported("scalar conversion kernels")
        }
        toF16(f32.typed(Float.self), f16.typed(UInt16.self), n)
        toBF16(f32.typed(Float.self), bf16.typed(UInt16.self), n)
    }
}

/// Binds table entries of any tier to benchmark inputs.
enum KernelCatalog {
    /// The distance kernel `op`/`dtype` of table `t`, in `shape`, over `v` (pair: the query and
    /// row 0; many: the query and every row, results into `out`, which holds `v.count` 4-byte slots).
    /// A one-to-many kernel is called once here and must return `KESTREL_OK`.
    /// - Throws: `KestrelError.invalidArgument` for an op the dtype lacks, `.backendFailure` when the
    ///   kernel reports an error, `.unsupported` for a missing table entry.
    static func distance(
        _ t: kestrel_kernel_table, op: BenchOp, dtype: BenchDType, shape: KernelShape,
        vectors v: BenchVectors, out: AlignedBuffer
    ) throws(KestrelError) -> BoundKernel {
        let name = "\(op.rawValue)_\(dtype.rawValue)\(shape == .many ? "_many" : "")"
        let n = dtype.kernelLength(dim: v.dim)
        let count = v.count
        let stride = n  // rows packed back to back
        // The same bytes viewed as each element type; only the one matching `dtype` is read.
        let qf = UnsafePointer(v.query.typed(Float.self)), bf = UnsafePointer(v.base.typed(Float.self))
        let qh = UnsafePointer(v.query.typed(UInt16.self)), bh = UnsafePointer(v.base.typed(UInt16.self))
        let qi = UnsafePointer(v.query.typed(Int8.self)), bi = UnsafePointer(v.base.typed(Int8.self))
        let qb = UnsafePointer(v.query.typed(UInt8.self)), bb = UnsafePointer(v.base.typed(UInt8.self))
        if shape == .many {
            guard out.byteCount >= count * 4 else {
                throw .invalidArgument(name: "out", reason: "needs room for \(count) results")
            }
        }
        let of = out.typed(Float.self), oi = out.typed(Int32.self), ou = out.typed(UInt32.self)

        let kernel: BoundKernel
        switch (shape, dtype, op) {
        case (.pair, .f32, .dot): kernel = try bind(t.dot_f32, name) { fn in { Double(fn(qf, bf, n)) } }
        case (.pair, .f32, .l2sq): kernel = try bind(t.l2sq_f32, name) { fn in { Double(fn(qf, bf, n)) } }
        case (.pair, .f32, .cosine): kernel = try bind(t.cosine_f32, name) { fn in { Double(fn(qf, bf, n)) } }
        case (.pair, .f16, .dot): kernel = try bind(t.dot_f16, name) { fn in { Double(fn(qh, bh, n)) } }
        case (.pair, .f16, .l2sq): kernel = try bind(t.l2sq_f16, name) { fn in { Double(fn(qh, bh, n)) } }
        case (.pair, .f16, .cosine): kernel = try bind(t.cosine_f16, name) { fn in { Double(fn(qh, bh, n)) } }
        case (.pair, .bf16, .dot): kernel = try bind(t.dot_bf16, name) { fn in { Double(fn(qh, bh, n)) } }
        case (.pair, .bf16, .l2sq): kernel = try bind(t.l2sq_bf16, name) { fn in { Double(fn(qh, bh, n)) } }
        case (.pair, .bf16, .cosine): kernel = try bind(t.cosine_bf16, name) { fn in { Double(fn(qh, bh, n)) } }
        case (.pair, .i8, .dot): kernel = try bind(t.dot_i8, name) { fn in { Double(fn(qi, bi, n)) } }
        case (.pair, .i8, .l2sq): kernel = try bind(t.l2sq_i8, name) { fn in { Double(fn(qi, bi, n)) } }
        case (.pair, .i8, .cosine): kernel = try bind(t.cosine_i8, name) { fn in { Double(fn(qi, bi, n)) } }
        case (.pair, .b1, .hamming): kernel = try bind(t.hamming_b1, name) { fn in { Double(fn(qb, bb, n)) } }
        case (.pair, .b1, .jaccard): kernel = try bind(t.jaccard_b1, name) { fn in { Double(fn(qb, bb, n)) } }
        case (.many, .f32, .dot):
            kernel = try bind(t.dot_f32_many, name) { fn in { status(fn(qf, bf, n, count, stride, of)) } }
        case (.many, .f32, .l2sq):
            kernel = try bind(t.l2sq_f32_many, name) { fn in { status(fn(qf, bf, n, count, stride, of)) } }
        case (.many, .f32, .cosine):
            kernel = try bind(t.cosine_f32_many, name) { fn in { status(fn(qf, bf, n, count, stride, of)) } }
        case (.many, .f16, .dot):
            kernel = try bind(t.dot_f16_many, name) { fn in { status(fn(qh, bh, n, count, stride, of)) } }
        case (.many, .f16, .l2sq):
            kernel = try bind(t.l2sq_f16_many, name) { fn in { status(fn(qh, bh, n, count, stride, of)) } }
        case (.many, .f16, .cosine):
            kernel = try bind(t.cosine_f16_many, name) { fn in { status(fn(qh, bh, n, count, stride, of)) } }
        case (.many, .bf16, .dot):
            kernel = try bind(t.dot_bf16_many, name) { fn in { status(fn(qh, bh, n, count, stride, of)) } }
        case (.many, .bf16, .l2sq):
            kernel = try bind(t.l2sq_bf16_many, name) { fn in { status(fn(qh, bh, n, count, stride, of)) } }
        case (.many, .bf16, .cosine):
            kernel = try bind(t.cosine_bf16_many, name) { fn in { status(fn(qh, bh, n, count, stride, of)) } }
        case (.many, .i8, .dot):
            kernel = try bind(t.dot_i8_many, name) { fn in { status(fn(qi, bi, n, count, stride, oi)) } }
        case (.many, .i8, .l2sq):
            kernel = try bind(t.l2sq_i8_many, name) { fn in { status(fn(qi, bi, n, count, stride, oi)) } }
        case (.many, .i8, .cosine):
            kernel = try bind(t.cosine_i8_many, name) { fn in { status(fn(qi, bi, n, count, stride, of)) } }
        case (.many, .b1, .hamming):
            kernel = try bind(t.hamming_b1_many, name) { fn in { status(fn(qb, bb, n, count, stride, ou)) } }
        case (.many, .b1, .jaccard):
            kernel = try bind(t.jaccard_b1_many, name) { fn in { status(fn(qb, bb, n, count, stride, of)) } }
        default:
            throw .invalidArgument(name: "op", reason: "\(op.rawValue) is not defined for \(dtype.rawValue)")
        }
        if shape == .many {
            let code = kernel.run()
            guard code == 0 else { throw .backendFailure(routine: "kestrel_\(name)", code: Int(code)) }
        }
        return kernel
    }

    /// NumPy type string of what a one-to-many kernel writes (always 4 bytes per row):
    /// int32 for i8 dot/l2sq, uint32 for hamming, float32 otherwise.
    static func manyOutputDescr(op: BenchOp, dtype: BenchDType) -> String {
        switch (dtype, op) {
        case (.i8, .dot), (.i8, .l2sq): return "<i4"
        case (.b1, .hamming): return "<u4"
        default: return "<f4"
        }
    }

    /// The conversion or math kernel `k` of table `t` over the workspace.
    /// - Throws: `KestrelError.unsupported` for a missing table entry.
    static func misc(_ t: kestrel_kernel_table, _ k: MiscKernel, _ w: MiscWorkspace) throws(KestrelError) -> BoundKernel {
        let n = w.n
        let f = w.f32.typed(Float.self), of = w.outF32.typed(Float.self), ou = w.outU16.typed(UInt16.self)
        let h = w.f16.typed(UInt16.self), bh = w.bf16.typed(UInt16.self)
        switch k {
        case .f32_to_f16:
            return try bind(t.f32_to_f16, k.rawValue) { fn in { fn(f, ou, n); return Double(ou[0]) } }
        case .f32_to_bf16:
            return try bind(t.f32_to_bf16, k.rawValue) { fn in { fn(f, ou, n); return Double(ou[0]) } }
        case .f16_to_f32:
            return try bind(t.f16_to_f32, k.rawValue) { fn in { fn(h, of, n); return Double(of[0]) } }
        case .bf16_to_f32:
            return try bind(t.bf16_to_f32, k.rawValue) { fn in { fn(bh, of, n); return Double(of[0]) } }
        case .exp_f32:
            return try bind(t.exp_f32, k.rawValue) { fn in { fn(f, of, n); return Double(of[0]) } }
        case .softmax_f32:
            return try bind(t.softmax_f32, k.rawValue) { fn in { fn(f, of, n); return Double(of[0]) } }
        }
    }

    // MARK: - helpers

    private static func bind<Fn>(_ fn: Fn?, _ name: String, _ make: (Fn) -> () -> Double) throws(KestrelError)
        -> BoundKernel
    {
        guard let fn else { throw .unsupported("kernel \(name) is missing from the table") }
        return BoundKernel(address: unsafeBitCast(fn, to: UnsafeRawPointer.self), run: make(fn))
    }

    /// A one-to-many status as the body's observable result (0 = KESTREL_OK).
    private static func status(_ s: kestrel_status) -> Double { Double(s.rawValue) }
}
