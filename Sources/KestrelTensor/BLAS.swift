#if canImport(Accelerate)
import Accelerate
#else
import CKestrelBLAS
#endif

/// Raw BLAS entry points for the package's own fast paths (Tensor products and the exact index's
/// GEMM scan), so only KestrelTensor depends on the BLAS library.
package enum BLAS {
    /// `C = alpha · op(A) · op(B) + beta · C` in row-major order (`cblas_sgemm`), f32 throughout;
    /// `op(X)` is `X` or its transpose. `C` is [m, n]; op(A) is [m, k]; op(B) is [k, n].
    ///
    /// Runs on as many threads as ``BLASThreads/count`` allows (1 inside Kestrel's parallel regions).
    /// - Throws: `KestrelError.invalidArgument` when a size or leading dimension exceeds the
    ///   32-bit BLAS limit (nothing is computed then).
    /// - Complexity: O(m · n · k) time, no extra memory.
    @inline(__always)
    package static func sgemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                              alpha: Float, a: UnsafePointer<Float>, lda: Int,
                              b: UnsafePointer<Float>, ldb: Int,
                              beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) throws(KestrelError) {
        let bm = try blasInt(m, "M"), bn = try blasInt(n, "N"), bk = try blasInt(k, "K")
        let la = try blasInt(lda, "lda"), lb = try blasInt(ldb, "ldb"), lc = try blasInt(ldc, "ldc")
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    bm, bn, bk, alpha, a, la, b, lb, beta, c, lc)
    }
}
