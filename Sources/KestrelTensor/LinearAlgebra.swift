/// Dense factorizations on LAPACK (LAPACKE/OpenBLAS on Linux, Accelerate on Apple platforms).
///
/// Inputs are f32 tensors of any layout (f16/bf16 are converted; integer types throw
/// `KestrelError.unsupported`); they are copied, never modified. Results are new contiguous
/// f32 tensors. Non-finite inputs throw `KestrelError.nonFiniteValue` (flat row-major index)
/// before LAPACK sees them; a LAPACK failure (`info != 0`) throws
/// `KestrelError.backendFailure(routine:code:)` with LAPACK's `info`. Sizes must fit LAPACK's
/// 32-bit integers. Thread-safe: no shared state.
public enum LinearAlgebra {
    /// A thin singular value decomposition `A = U · diag(S) · Vᵀ`.
    public struct SVD: Sendable {
        /// Left singular vectors, `[m, k]` with orthonormal columns (k = min(m, n)).
        public let u: Tensor
        /// Singular values, `[k]`, non-negative and in descending order.
        public let singularValues: Tensor
        /// Right singular vectors transposed, `[k, n]` with orthonormal rows.
        public let vt: Tensor
    }

    /// The eigendecomposition `A = V · diag(λ) · Vᵀ` of a symmetric matrix.
    public struct SymmetricEigen: Sendable {
        /// Eigenvalues, `[n]`, ascending.
        public let values: Tensor
        /// Eigenvectors, `[n, n]`: column j is the unit eigenvector of `values[j]`.
        public let vectors: Tensor
    }

    /// The minimum-norm least-squares solution of `A · X ≈ B`.
    public struct LeastSquares: Sendable {
        /// `X`: `[n]` when B was `[m]`, else `[n, nrhs]`.
        public let solution: Tensor
        /// Effective rank of A (singular values above `rcond · σ_max`).
        public let rank: Int
        /// Singular values of A, `[min(m, n)]`, descending.
        public let singularValues: Tensor
    }

    /// Thin SVD of `a` `[m, n]` by divide and conquer (`sgesdd`).
    /// - Throws: `invalidArgument` unless `a` has rank 2; `nonFiniteValue`; `backendFailure`
    ///   when LAPACK does not converge.
    /// - Complexity: O(m·n·min(m, n)) time, O(m·n) extra memory.
    public static func svd(_ a: Tensor) throws(KestrelError) -> SVD {
        let x = try matrixCopy(a, "a")
        let (m, n) = (x.shape.dims[0], x.shape.dims[1])
        let k = Swift.min(m, n)
        let u = try Tensor.zeros([m, k]), s = try Tensor.zeros([k]), vt = try Tensor.zeros([k, n])
        if k == 0 { return SVD(u: u, singularValues: s, vt: vt) }
        // Row-major A is column-major Aᵀ (n×m). LAPACK factors Aᵀ = U'·S·V'ᵀ, so A = V'·S·U'ᵀ:
        // LAPACK's column-major U' (n×k) is our row-major Vᵀ [k, n], and its column-major V'ᵀ
        // (k×m) is our row-major U [m, k]. No transposes needed.
        let info = withExtendedLifetime((x, u, s, vt)) {
            LAPACKBridge.sgesdd(m: Int32(n), n: Int32(m), a: f32(x), lda: Int32(Swift.max(1, n)),
                                s: f32(s), u: f32(vt), ldu: Int32(Swift.max(1, n)),
                                vt: f32(u), ldvt: Int32(Swift.max(1, k)))
        }
        guard info == 0 else { throw .backendFailure(routine: "sgesdd", code: info) }
        return SVD(u: u, singularValues: s, vt: vt)
    }

    /// Eigenvalues and eigenvectors of the symmetric `a` `[n, n]` (`ssyevd`, divide and conquer).
    /// Only the lower triangle (row >= column) is read; the upper one is assumed to mirror it.
    /// - Throws: `invalidArgument` unless `a` is square of rank 2; `nonFiniteValue`; `backendFailure`.
    /// - Complexity: O(n³) time, O(n²) extra memory.
    public static func symmetricEigen(_ a: Tensor) throws(KestrelError) -> SymmetricEigen {
        let x = try matrixCopy(a, "a")
        let n = x.shape.dims[0]
        guard x.shape.dims[1] == n else {
            throw .dimensionMismatch(expected: [n, n], actual: a.shape.dims)
        }
        let w = try Tensor.zeros([n])
        if n == 0 { return SymmetricEigen(values: w, vectors: x) }
        // Column-major view of row-major A is Aᵀ; its upper triangle is A's lower triangle.
        let info = withExtendedLifetime((x, w)) {
            LAPACKBridge.ssyevd(n: Int32(n), a: f32(x), lda: Int32(n), w: f32(w))
        }
        guard info == 0 else { throw .backendFailure(routine: "ssyevd", code: info) }
        // LAPACK's column j (eigenvector j) is our row j: transpose so columns are eigenvectors.
        return SymmetricEigen(values: w, vectors: try x.transposed().contiguous())
    }

    /// Minimum-norm least-squares solution of `a · X ≈ b` (`sgelsd`): works for over- and
    /// under-determined and rank-deficient systems.
    /// - Parameters:
    ///   - a: `[m, n]`.
    ///   - b: `[m]` or `[m, nrhs]`.
    ///   - rcond: singular values below `rcond · σ_max` count as zero; negative means machine precision.
    /// - Throws: `dimensionMismatch` naming both shapes when b's rows differ from m;
    ///   `invalidArgument` for bad ranks or a NaN rcond; `nonFiniteValue`; `backendFailure`.
    /// - Complexity: O(m·n·min(m, n) + max(m, n)·nrhs·min(m, n)) time, O((m + nrhs)·max(m, n)) memory.
    public static func leastSquares(_ a: Tensor, _ b: Tensor, rcond: Float = -1) throws(KestrelError) -> LeastSquares {
        let x = try matrixCopy(a, "a")
        guard b.rank == 1 || b.rank == 2 else {
            throw .invalidArgument(name: "b", reason: "least squares needs b of rank 1 or 2, got shape \(b.shape)")
        }
        guard !rcond.isNaN else { throw .invalidArgument(name: "rcond", reason: "NaN") }
        let (m, n) = (x.shape.dims[0], x.shape.dims[1])
        guard b.shape.dims[0] == m else {
            throw .dimensionMismatch(expected: [m] + b.shape.dims.dropFirst(), actual: b.shape.dims)
        }
        let bv = try finiteF32(b, "b")
        let nrhs = b.rank == 2 ? b.shape.dims[1] : 1
        let outDims = b.rank == 2 ? [n, nrhs] : [n]
        let k = Swift.min(m, n)
        let s = try Tensor.zeros([k])
        if k == 0 || nrhs == 0 {
            return LeastSquares(solution: try Tensor.zeros(outDims), rank: 0, singularValues: s)
        }
        let ldb = Swift.max(m, n)
        _ = try blasInt(ldb * Swift.max(nrhs, 1), "b size")
        // Column-major copies: A (m×n, lda = m) and B (ldb×nrhs).
        let av = x.scalars()
        var colA = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { colA[i + j * m] = av[i * n + j] } }
        var colB = [Float](repeating: 0, count: ldb * nrhs)
        for i in 0..<m { for j in 0..<nrhs { colB[i + j * ldb] = bv[i * nrhs + j] } }
        var rank: Int32 = 0
        let info = withExtendedLifetime(s) {
            colA.withUnsafeMutableBufferPointer { pa in
                colB.withUnsafeMutableBufferPointer { pb in
                    LAPACKBridge.sgelsd(m: Int32(m), n: Int32(n), nrhs: Int32(nrhs), a: pa.baseAddress!, lda: Int32(m),
                                        b: pb.baseAddress!, ldb: Int32(ldb), s: f32(s), rcond: rcond, rank: &rank)
                }
            }
        }
        guard info == 0 else { throw .backendFailure(routine: "sgelsd", code: info) }
        var sol = [Float](repeating: 0, count: n * nrhs)
        for i in 0..<n { for j in 0..<nrhs { sol[i * nrhs + j] = colB[i + j * ldb] } }
        return LeastSquares(solution: try Tensor(sol, shape: outDims), rank: Int(rank), singularValues: s)
    }

    // MARK: Helpers

    private static func f32(_ t: Tensor) -> UnsafeMutablePointer<Float> {
        t.elementBase.assumingMemoryBound(to: Float.self)
    }

    /// The elements as f32 (row-major), checked finite.
    private static func finiteF32(_ t: Tensor, _ name: String) throws(KestrelError) -> [Float] {
        let v = try OperandChecks.f32(t, name).scalars()
        if let bad = v.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteValue(index: bad) }
        return v
    }

    /// A fresh contiguous f32 copy of a finite rank-2 matrix whose sizes fit LAPACK.
    private static func matrixCopy(_ a: Tensor, _ name: String) throws(KestrelError) -> Tensor {
        guard a.rank == 2 else {
            throw .invalidArgument(name: name, reason: "needs a rank-2 matrix, got shape \(a.shape)")
        }
        _ = try blasInt(a.elementCount, "\(name) size")
        return try Tensor(finiteF32(a, name), shape: a.shape)
    }
}
