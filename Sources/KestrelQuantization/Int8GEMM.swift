import CKestrelKernels
import KestrelKernels

/// int8 matrix product with row and column scales:
/// `C[i][j] = (rowScales[i] · columnScales[j]) · Float(Σₚ A[i][p] · B[j][p])`.
///
/// A is `m × k`, B is given as `n` rows of `k` (that is, Bᵀ: each row of B is one output
/// column), both row-major int8; C is `m × n` row-major f32. Sums are exact in int32 (any int8
/// values, -128 included); each result is one f32 rounding of the exact integer times the f32
/// scale product, so every ISA tier returns the same bits (`kestrel_gemm_i8`, blocked over panels
/// of B that stay in cache; AVX2 `maddubs`, AVX-512 VNNI, NEON `sdot`).
///
/// Stateless; thread-safe.
public enum Int8GEMM {
    /// C = (A · Bᵀ) scaled by `rowScales[i] · columnScales[j]`.
    /// - Parameters:
    ///   - a: `m · k` codes, row-major.
    ///   - b: `n · k` codes, row-major (row j of B makes column j of C).
    ///   - rowScales: `m` finite scales (one per row of A).
    ///   - columnScales: `n` finite scales (one per row of B).
    ///   - c: resized to `m · n` when its count differs; receives C row-major.
    /// - Throws: `invalidArgument` for a negative extent; `capacityExceeded(limit: 65536, requested: k)`
    ///   when k exceeds ``QuantizedMatrix/maxInt8Columns``, or `capacityExceeded` when a size product
    ///   overflows; `dimensionMismatch` when an array's length disagrees with m, n, k;
    ///   `nonFiniteValue(index:)` for a NaN/Inf scale (row scales first, then column scales offset by m).
    /// - Complexity: O(m · n · k) time, no extra memory (besides resizing `c`).
    public static func multiply(
        a: [Int8], m: Int, k: Int, b: [Int8], n: Int, rowScales: [Float], columnScales: [Float], into c: inout [Float]
    ) throws(KestrelError) {
        for (name, v) in [("m", m), ("n", n), ("k", k)] where v < 0 {
            throw .invalidArgument(name: name, reason: "\(v) is negative")
        }
        guard k <= QuantizedMatrix.maxInt8Columns else {
            throw .capacityExceeded(limit: QuantizedMatrix.maxInt8Columns, requested: k)
        }
        let aCount = try SizeCheck.product(m, k), bCount = try SizeCheck.product(n, k), cCount = try SizeCheck.product(m, n)
        guard a.count == aCount else { throw .dimensionMismatch(expected: [m, k], actual: [a.count]) }
        guard b.count == bCount else { throw .dimensionMismatch(expected: [n, k], actual: [b.count]) }
        guard rowScales.count == m else { throw .dimensionMismatch(expected: [m], actual: [rowScales.count]) }
        guard columnScales.count == n else { throw .dimensionMismatch(expected: [n], actual: [columnScales.count]) }
        if let bad = rowScales.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteValue(index: bad) }
        if let bad = columnScales.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteValue(index: m + bad) }
        if c.count != cCount { c = [Float](repeating: 0, count: cCount) }
        guard cCount > 0 else { return }
        let st = a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                rowScales.withUnsafeBufferPointer { rs in
                    columnScales.withUnsafeBufferPointer { cs in
                        c.withUnsafeMutableBufferPointer { cp in
                            kestrel_gemm_i8(ap.baseAddress, m, k, k, bp.baseAddress, n, k, rs.baseAddress, cs.baseAddress,
                                            cp.baseAddress, n)
                        }
                    }
                }
            }
        }
        guard st == KESTREL_OK else { throw .backendFailure(routine: "kestrel_gemm_i8", code: Int(st.rawValue)) }
    }
}
