#if canImport(Accelerate)
import Accelerate
#else
import CKestrelBLAS
#endif

/// The three LAPACK drivers KestrelTensor uses, column-major, returning LAPACK's `info`
/// (0 on success). On Linux they go through LAPACKE (which sizes the workspace); on Apple
/// platforms through Accelerate's CLAPACK entry points with a workspace query.
enum LAPACKBridge {
    /// Thin SVD of the column-major m×n matrix `a` (destroyed): `sgesdd`, jobz = 'S'.
    static func sgesdd(m: Int32, n: Int32, a: UnsafeMutablePointer<Float>, lda: Int32,
                       s: UnsafeMutablePointer<Float>, u: UnsafeMutablePointer<Float>, ldu: Int32,
                       vt: UnsafeMutablePointer<Float>, ldvt: Int32) -> Int {
        #if canImport(Accelerate)
        var jobz = CChar(UInt8(ascii: "S")), m = m, n = n, lda = lda, ldu = ldu, ldvt = ldvt
        var info: __CLPK_integer = 0, lwork: __CLPK_integer = -1, query: Float = 0
        var iwork = [__CLPK_integer](repeating: 0, count: 8 * Int(Swift.min(m, n)))
        sgesdd_(&jobz, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, &query, &lwork, &iwork, &info)
        guard info == 0 else { return Int(info) }
        lwork = __CLPK_integer(query)
        var work = [Float](repeating: 0, count: Int(Swift.max(1, lwork)))
        sgesdd_(&jobz, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, &work, &lwork, &iwork, &info)
        return Int(info)
        #else
        return Int(LAPACKE_sgesdd(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "S")), m, n, a, lda, s, u, ldu, vt, ldvt))
        #endif
    }

    /// Eigenvalues (ascending, into `w`) and eigenvectors (overwriting `a`, column j for w[j])
    /// of the symmetric column-major n×n `a`, reading its upper triangle: `ssyevd`, jobz = 'V'.
    static func ssyevd(n: Int32, a: UnsafeMutablePointer<Float>, lda: Int32, w: UnsafeMutablePointer<Float>) -> Int {
        #if canImport(Accelerate)
        var jobz = CChar(UInt8(ascii: "V")), uplo = CChar(UInt8(ascii: "U")), n = n, lda = lda
        var info: __CLPK_integer = 0, lwork: __CLPK_integer = -1, liwork: __CLPK_integer = -1
        var wq: Float = 0, iwq: __CLPK_integer = 0
        ssyevd_(&jobz, &uplo, &n, a, &lda, w, &wq, &lwork, &iwq, &liwork, &info)
        guard info == 0 else { return Int(info) }
        lwork = __CLPK_integer(wq)
        liwork = iwq
        var work = [Float](repeating: 0, count: Int(Swift.max(1, lwork)))
        var iwork = [__CLPK_integer](repeating: 0, count: Int(Swift.max(1, liwork)))
        ssyevd_(&jobz, &uplo, &n, a, &lda, w, &work, &lwork, &iwork, &liwork, &info)
        return Int(info)
        #else
        return Int(LAPACKE_ssyevd(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "U")), n, a, lda, w))
        #endif
    }

    /// Minimum-norm least squares min ||A X - B|| by divide-and-conquer SVD: `sgelsd`.
    /// `a` (m×n, destroyed) and `b` (max(m,n)×nrhs, solution in its first n rows) are column-major.
    static func sgelsd(m: Int32, n: Int32, nrhs: Int32, a: UnsafeMutablePointer<Float>, lda: Int32,
                       b: UnsafeMutablePointer<Float>, ldb: Int32, s: UnsafeMutablePointer<Float>,
                       rcond: Float, rank: inout Int32) -> Int {
        #if canImport(Accelerate)
        var m = m, n = n, nrhs = nrhs, lda = lda, ldb = ldb, rcond = rcond
        var info: __CLPK_integer = 0, lwork: __CLPK_integer = -1, r: __CLPK_integer = 0
        var wq: Float = 0, iwq: __CLPK_integer = 0
        sgelsd_(&m, &n, &nrhs, a, &lda, b, &ldb, s, &rcond, &r, &wq, &lwork, &iwq, &info)
        guard info == 0 else { return Int(info) }
        lwork = __CLPK_integer(wq)
        var work = [Float](repeating: 0, count: Int(Swift.max(1, lwork)))
        var iwork = [__CLPK_integer](repeating: 0, count: Int(Swift.max(1, iwq)))
        sgelsd_(&m, &n, &nrhs, a, &lda, b, &ldb, s, &rcond, &r, &work, &lwork, &iwork, &info)
        rank = Int32(r)
        return Int(info)
        #else
        return Int(LAPACKE_sgelsd(LAPACK_COL_MAJOR, m, n, nrhs, a, lda, b, ldb, s, rcond, &rank))
        #endif
    }
}
