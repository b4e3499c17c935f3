/// A pruned tensor, its mask and the same error report as quantization. Value type; thread-safe.
public struct PruningResult: Sendable {
    /// The input (as f32) with pruned elements set to 0, same shape.
    public let pruned: Tensor
    /// Row-major, `true` where the element is kept.
    public let mask: [Bool]
    /// Kept elements.
    public let keptCount: Int
    /// Error against the input and sparse storage size: `bytesAfter` counts the kept values (at the
    /// input's dtype size) plus a bitmask of `⌈n/8⌉` bytes (unstructured) or `⌈log2 M⌉` bits of
    /// position per kept value (N:M), rounded up to whole bytes.
    public let report: QuantizationReport

    /// Fraction of elements pruned (0 for an empty tensor).
    public var sparsity: Double { mask.isEmpty ? 0 : 1 - Double(keptCount) / Double(mask.count) }
}

/// Magnitude pruning: unstructured to a target sparsity, or N:M structured (e.g. 2:4, which sparse
/// tensor hardware runs). Stateless; thread-safe.
public enum Pruner {
    /// Prunes the `k = ⌊sparsity · n⌋` elements of smallest magnitude (equal magnitudes: the lower
    /// flat index is pruned first).
    /// - Throws: `invalidArgument` for a sparsity outside 0…1; `nonFiniteValue(index:)` for the
    ///   first NaN/Inf; `capacityExceeded` when allocation fails.
    /// - Complexity: O(n log n) time, O(n) memory.
    public static func magnitude(_ x: Tensor, sparsity: Double) throws(KestrelError) -> PruningResult {
        guard sparsity >= 0 && sparsity <= 1 else {
            throw .invalidArgument(name: "sparsity", reason: "must be in 0...1, got \(sparsity)")
        }
        let v = try values(x)
        let n = v.count
        let k = Swift.min(n, Int((sparsity * Double(n)).rounded(.down)))
        var mask = [Bool](repeating: true, count: n)
        let order = (0..<n).sorted { a, b in
            let (ma, mb) = (abs(v[a]), abs(v[b]))
            return ma < mb || (ma == mb && a < b)
        }
        for i in order.prefix(k) { mask[i] = false }
        let kept = n - k
        let after = try SizeCheck.product(kept, x.dtype.byteSize) + (n + 7) / 8
        return try result(x, v, mask, kept: kept, format: "magnitude \(k)/\(n) pruned", bytesAfter: after)
    }

    /// Keeps the `n` largest-magnitude elements of every run of `m` consecutive elements along the
    /// last axis (equal magnitudes: the lower index is kept).
    /// - Throws: `invalidArgument` unless 1 ≤ n ≤ m ≤ 256, for a rank-0 tensor, or when `m` does not
    ///   divide the last axis; `nonFiniteValue(index:)` for the first NaN/Inf.
    /// - Complexity: O(total · m) time, O(total) memory.
    public static func structured(_ x: Tensor, keep n: Int, of m: Int) throws(KestrelError) -> PruningResult {
        guard n >= 1 && n <= m && m <= 256 else {
            throw .invalidArgument(name: "n:m", reason: "need 1 <= n <= m <= 256, got \(n):\(m)")
        }
        guard let last = x.shape.dims.last, last % m == 0 else {
            throw .invalidArgument(name: "x", reason: "the last axis of shape \(x.shape.dims) must be a multiple of \(m)")
        }
        let v = try values(x)
        var mask = [Bool](repeating: false, count: v.count)
        var run = [Int](repeating: 0, count: m)
        var start = 0
        while start < v.count {
            for j in 0..<m { run[j] = start + j }
            // Stable order by decreasing magnitude: the lower index wins ties.
            run.sort { a, b in abs(v[a]) > abs(v[b]) || (abs(v[a]) == abs(v[b]) && a < b) }
            for j in 0..<n { mask[run[j]] = true }
            start += m
        }
        let kept = v.count / m * n
        var indexBits = 0
        while 1 << indexBits < m { indexBits += 1 }
        let after = try SizeCheck.product(kept, x.dtype.byteSize) + (try SizeCheck.product(kept, indexBits) + 7) / 8
        return try result(x, v, mask, kept: kept, format: "\(n):\(m) pruned", bytesAfter: after)
    }

    private static func values(_ x: Tensor) throws(KestrelError) -> [Float] {
        let v = x.dtype == .f32 ? x.scalars() : try x.converted(to: .f32).scalars()
        if let i = v.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteValue(index: i) }
        return v
    }

    private static func result(_ x: Tensor, _ v: [Float], _ mask: [Bool], kept: Int, format: String,
                               bytesAfter: Int) throws(KestrelError) -> PruningResult {
        let p = zip(v, mask).map { $1 ? $0 : 0 }
        let report = try QuantizationReport(shape: x.shape.dims, format: format, original: v, reconstruction: p,
                                            bytesBefore: x.shape.elementCount * x.dtype.byteSize, bytesAfter: bytesAfter)
        return PruningResult(pruned: try Tensor(p, shape: x.shape.dims), mask: mask, keptCount: kept, report: report)
    }
}
