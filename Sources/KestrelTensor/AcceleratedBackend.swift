/// The fast backend: matrix products on BLAS (OpenBLAS on Linux, Accelerate on Apple
/// platforms), element-wise math and reductions on the SIMD C kernels (`kestrel_kernels.h`).
///
/// - Matrix products read strided views in place when BLAS can (a transposed view becomes a
///   BLAS transpose flag, a row slice a leading dimension); other layouts are packed once
///   into a scratch copy. A product with one row (M = 1) or one column (N = 1) goes to
///   `sgemv`, never `sgemm` (OpenBLAS runs M = 1 `sgemm` several times slower); a rank-3
///   operand times a broadcast rank-2 one is folded into a single `sgemm` when the batch is
///   stacked evenly in memory.
/// - Accuracy: BLAS and the C kernels accumulate in f32 in blocked/SIMD order; results differ
///   from ``ReferenceBackend`` by about `K · 2^-24 · sum|a_ik · b_kj|` for products and
///   `n · 2^-24 · sum|x|` for sums (the tests bound the observed error).
/// - Scratch and results come from ``pool`` when one is given, so repeated calls stop
///   allocating fresh pages.
///
/// Thread-safety: stateless apart from the (thread-safe) pool; BLAS itself may use several
/// threads per call (see ``BLASThreads``).
public struct AcceleratedBackend: Backend {
    /// `"accelerated"`.
    public var name: String { "accelerated" }
    /// The C kernel table used by the element-wise operations.
    let kernels: KernelTable
    /// Where results and packing scratch are allocated; nil means plain aligned allocations.
    public let pool: BufferPool?

    /// A backend that uses the process's active kernel tier (see ``ISALevel/active``).
    /// - Parameter pool: allocate results and scratch from this pool.
    public init(pool: BufferPool? = nil) {
        kernels = KernelTable()
        self.pool = pool
    }

    /// A backend pinned to one kernel tier, whatever tier is active (tests compare tiers this way).
    /// - Throws: `KestrelError.unsupported` when this CPU cannot run `level`.
    public init(level: ISALevel, pool: BufferPool? = nil) throws(KestrelError) {
        kernels = try KernelTable(level: level)
        self.pool = pool
    }

    /// The kernel tier the element-wise operations run on right now.
    public var level: ISALevel { kernels.level }
}
