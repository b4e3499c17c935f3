#if canImport(Accelerate)
import Accelerate
#else
import CKestrelBLAS
#endif

/// How BLAS sees one matrix op(X) [rows, cols]: stored row-major with leading dimension `ld`,
/// either as op(X) itself or as its transpose (then the BLAS transpose flag is set).
struct BLASLayout {
    var transposed: Bool
    var ld: Int

    /// The layout of a strided [rows, cols] view, or nil when BLAS cannot read it in place
    /// (neither axis has unit stride, or rows overlap).
    static func of(rows: Int, cols: Int, rs: Int, cs: Int) -> BLASLayout? {
        if (cs == 1 || cols <= 1) && (rows <= 1 || rs >= Swift.max(1, cols)) {
            return BLASLayout(transposed: false, ld: rows <= 1 ? Swift.max(1, cols) : rs)
        }
        if (rs == 1 || rows <= 1) && (cols <= 1 || cs >= Swift.max(1, rows)) {
            return BLASLayout(transposed: true, ld: cols <= 1 ? Swift.max(1, rows) : cs)
        }
        return nil
    }

    /// The layout of the transposed matrix (same memory).
    var flipped: BLASLayout { BLASLayout(transposed: !transposed, ld: ld) }
}

/// BLAS takes 32-bit sizes (LP64 OpenBLAS, Accelerate).
func blasInt(_ v: Int, _ what: String) throws(KestrelError) -> Int32 {
    guard v >= 0 && v <= Int(Int32.max) else {
        throw .invalidArgument(name: what, reason: "\(v) exceeds the 32-bit BLAS size limit")
    }
    return Int32(v)
}

extension AcceleratedBackend {
    /// See ``Backend/matmul(_:_:transposeA:transposeB:)``. BLAS `sgemm`/`sgemv`, f32 accumulation.
    /// - Complexity: O(B·M·N·K) time; O(B·M·N) for the result plus a packed copy of an operand
    ///   BLAS cannot read in place.
    public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) throws(KestrelError) -> Tensor {
        let (aOp, bOp, plan) = try prepare(a, b, transposeA, transposeB)
        let out = try Tensor(allocating: Shape(plan.outDims), dtype: .f32, zeroed: false, pool: pool)
        try gemm(aOp, bOp, plan, out.elementBase.assumingMemoryBound(to: Float.self))
        return out
    }

    /// As ``matmul(_:_:transposeA:transposeB:)``, writing into `out` (shape `[M, N]` or
    /// `[B, M, N]`, f32) so a caller can reuse one result buffer across calls. When `out` is
    /// not contiguous or shares its storage with another tensor it is given fresh storage
    /// first (its old contents would be overwritten anyway), so other views never change.
    /// - Throws: as ``matmul(_:_:transposeA:transposeB:)``; `dimensionMismatch` naming both
    ///   shapes when `out` has the wrong shape, `invalidArgument` when it is not f32.
    public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false,
                       into out: inout Tensor) throws(KestrelError) {
        let (aOp, bOp, plan) = try prepare(a, b, transposeA, transposeB)
        guard out.dtype == .f32 else {
            throw .invalidArgument(name: "out", reason: "result tensor must be f32, got \(out.dtype)")
        }
        guard plan.isOutShape(out.shape.dims) else {
            throw .dimensionMismatch(expected: plan.outDims, actual: out.shape.dims)
        }
        if !isKnownUniquelyReferenced(&out.storage) || !out.isContiguous {
            out = try Tensor(allocating: out.shape, dtype: .f32, zeroed: false, pool: pool)
        }
        try gemm(aOp, bOp, plan, out.elementBase.assumingMemoryBound(to: Float.self))
    }

    /// See ``Backend/matvec(_:_:transposeA:)``. BLAS `sgemv`, f32 accumulation. O(M·K).
    public func matvec(_ a: Tensor, _ x: Tensor, transposeA: Bool) throws(KestrelError) -> Tensor {
        let a32 = try OperandChecks.f32(a, "a"), x32 = try OperandChecks.f32(x, "x")
        var aOp = transposeA ? try a32.transposed() : a32
        let (m, k) = try OperandChecks.matvecPlan(aOp, x32)
        let out = try Tensor(allocating: Shape(unchecked: [m], count: m), dtype: .f32, zeroed: true, pool: pool)
        if m == 0 || k == 0 { return out }
        var layout = BLASLayout.of(rows: m, cols: k, rs: aOp.strides[0], cs: aOp.strides[1])
        if layout == nil {
            aOp = try aOp.materialized(pool: pool)
            layout = BLASLayout(transposed: false, ld: k)
        }
        guard let layout else { return out }
        defer { withExtendedLifetime((aOp, x32)) {} }
        try gemv(layout, rows: m, cols: k, aOp.elementBase.assumingMemoryBound(to: Float.self),
                 x32.elementBase.assumingMemoryBound(to: Float.self), incx: k == 1 ? 1 : x32.strides[0],
                 out.elementBase.assumingMemoryBound(to: Float.self))
        return out
    }

    /// f32 operands with the transposes applied as views, and the validated geometry.
    private func prepare(_ a: Tensor, _ b: Tensor, _ ta: Bool, _ tb: Bool) throws(KestrelError)
        -> (Tensor, Tensor, OperandChecks.MatmulPlan) {
        let a32 = try OperandChecks.f32(a, "a"), b32 = try OperandChecks.f32(b, "b")
        try OperandChecks.matmulRank(a32, "a")
        try OperandChecks.matmulRank(b32, "b")
        let aOp = ta ? try a32.transposed() : a32
        let bOp = tb ? try b32.transposed() : b32
        return (aOp, bOp, try OperandChecks.matmulPlan(aOp, bOp))
    }

    /// y = op(X) · x for op(X) [rows, cols] stored as `layout` at `mat`; y gets `rows` values.
    private func gemv(_ layout: BLASLayout, rows: Int, cols: Int, _ mat: UnsafePointer<Float>,
                      _ x: UnsafePointer<Float>, incx: Int, _ y: UnsafeMutablePointer<Float>) throws(KestrelError) {
        let r = try blasInt(rows, "rows"), c = try blasInt(cols, "cols")
        let ld = try blasInt(layout.ld, "leading dimension"), inc = try blasInt(Swift.max(incx, 1), "stride")
        // BLAS skips reading y when beta == 0, but clear it so no garbage can ever leak.
        y.update(repeating: 0, count: rows)
        if layout.transposed {
            // Stored matrix is op(X)^T, row-major [cols, rows].
            cblas_sgemv(CblasRowMajor, CblasTrans, c, r, 1, mat, ld, x, inc, 0, y, 1)
        } else {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, r, c, 1, mat, ld, x, inc, 0, y, 1)
        }
    }

    /// C = op(A) · op(B) for every batch, into contiguous `c` [B, M, N].
    private func gemm(_ aIn: Tensor, _ bIn: Tensor, _ plan: OperandChecks.MatmulPlan,
                      _ c: UnsafeMutablePointer<Float>) throws(KestrelError) {
        var p = plan
        if p.m == 0 || p.n == 0 || p.batch == 0 { return }
        if p.k == 0 {
            c.update(repeating: 0, count: p.batch * p.m * p.n)
            return
        }
        var a = aIn, b = bIn
        var la: BLASLayout
        if let l = BLASLayout.of(rows: p.m, cols: p.k, rs: p.aRS, cs: p.aCS) {
            la = l
        } else {
            a = try a.materialized(pool: pool)
            (p.aRS, p.aCS) = (p.k, 1)
            if a.rank == 3 { p.batchStrideA = p.m * p.k }
            la = BLASLayout(transposed: false, ld: p.k)
        }
        var lb: BLASLayout
        if let l = BLASLayout.of(rows: p.k, cols: p.n, rs: p.bRS, cs: p.bCS) {
            lb = l
        } else {
            b = try b.materialized(pool: pool)
            (p.bRS, p.bCS) = (p.n, 1)
            if b.rank == 3 { p.batchStrideB = p.k * p.n }
            lb = BLASLayout(transposed: false, ld: p.n)
        }
        // [B, M, K] · [K, N] with the batches stacked at a uniform row pitch is one [B·M, K] product.
        var batch = p.batch, m = p.m
        if batch > 1 && b.rank == 2 && a.rank == 3 && !la.transposed {
            let bs = p.batchStrideA
            if m == 1 && bs >= Swift.max(1, p.k) {
                la.ld = bs
                (m, batch) = (batch, 1)
            } else if m > 1 && bs == m * la.ld {
                (m, batch) = (batch * m, 1)
            }
        }
        defer { withExtendedLifetime((a, b)) {} }  // a or b may be a packed copy used via raw pointers
        let aBase = UnsafePointer(a.elementBase.assumingMemoryBound(to: Float.self))
        let bBase = UnsafePointer(b.elementBase.assumingMemoryBound(to: Float.self))
        let n = p.n, k = p.k
        let bm = try blasInt(m, "M"), bn = try blasInt(n, "N"), bk = try blasInt(k, "K")
        let lda = try blasInt(la.ld, "lda"), ldb = try blasInt(lb.ld, "ldb")
        for i in 0..<batch {
            let aP = aBase + i * p.batchStrideA
            let bP = bBase + i * p.batchStrideB
            let cP = c + i * m * n
            if m == 1 {
                // One row: y[N] = op(B)^T · (row of op(A)).
                try gemv(lb.flipped, rows: n, cols: k, bP, aP, incx: k == 1 ? 1 : p.aCS, cP)
            } else if n == 1 {
                // One column: y[M] = op(A) · (column of op(B)).
                try gemv(la, rows: m, cols: k, aP, bP, incx: k == 1 ? 1 : p.bRS, cP)
            } else {
                cblas_sgemm(CblasRowMajor, la.transposed ? CblasTrans : CblasNoTrans,
                            lb.transposed ? CblasTrans : CblasNoTrans,
                            bm, bn, bk, 1, aP, lda, bP, ldb, 0, cP, bn)
            }
        }
    }
}
