/// Shape validation shared by the backends, so every backend throws the same errors.
enum OperandChecks {
    /// An operand as f32 (f16/bf16 converted; integer types refused).
    static func f32(_ t: Tensor, _ name: String) throws(KestrelError) -> Tensor {
        switch t.dtype {
        case .f32: return t
        case .f16, .bf16: return try t.converted(to: .f32)
        case .int8, .uint8:
            throw .unsupported("\(t.dtype) operand '\(name)' \(t.shape): convert to f32 or use KestrelQuantization")
        }
    }

    /// The resolved geometry of a (possibly batched) matrix product.
    struct MatmulPlan {
        var batch: Int
        var m: Int
        var n: Int
        var k: Int
        /// True when the result has a batch axis ([B, M, N]); else [M, N].
        var batched: Bool
        /// Batch strides (elements) of a and b; 0 for a broadcast rank-2 operand.
        var batchStrideA: Int
        var batchStrideB: Int
        /// Strides (row, column) of op(a) [M, K] and op(b) [K, N].
        var aRS: Int, aCS: Int, bRS: Int, bCS: Int

        /// Result extents: [M, N] or [B, M, N].
        var outDims: [Int] { batched ? [batch, m, n] : [m, n] }

        /// True when `dims` equals ``outDims`` (without building it).
        func isOutShape(_ dims: [Int]) -> Bool {
            batched ? dims.count == 3 && dims[0] == batch && dims[1] == m && dims[2] == n
                : dims.count == 2 && dims[0] == m && dims[1] == n
        }
    }

    /// Throws unless `t` has rank 2 or 3 (the matmul operand ranks).
    @inline(__always)
    static func matmulRank(_ t: Tensor, _ name: String) throws(KestrelError) {
        if t.rank != 2 && t.rank != 3 {
            throw .invalidArgument(name: name, reason: "matmul needs rank 2 or 3, got shape \(t.shape)")
        }
    }

    /// Validates `op(a) · op(b)`, given the operands with their transposes already applied
    /// (views), so every dimension below is that of op(x). Allocation-free unless it throws.
    static func matmulPlan(_ a: Tensor, _ b: Tensor) throws(KestrelError) -> MatmulPlan {
        try matmulRank(a, "a")
        try matmulRank(b, "b")
        let (ra, rb) = (a.rank, b.rank)
        let (ad, bd) = (a.shape.dims, b.shape.dims)
        let (m, k, kb, n) = (ad[ra - 2], ad[ra - 1], bd[rb - 2], bd[rb - 1])
        guard k == kb else {
            throw .dimensionMismatch(expected: Array(bd.dropLast(2)) + [k, n], actual: bd)
        }
        if ra == 3 && rb == 3 && ad[0] != bd[0] {
            throw .dimensionMismatch(expected: [ad[0], kb, n], actual: bd)
        }
        let batched = ra == 3 || rb == 3
        let batch = ra == 3 ? ad[0] : (rb == 3 ? bd[0] : 1)
        let (mn, o1) = m.multipliedReportingOverflow(by: n)
        let (_, o2) = mn.multipliedReportingOverflow(by: batch)
        if o1 || o2 {
            throw .invalidArgument(name: "b", reason: "result of a \(a.shape) · b \(b.shape) overflows Int")
        }
        let (as2, bs2) = (a.strides, b.strides)
        return MatmulPlan(batch: batch, m: m, n: n, k: k, batched: batched,
                          batchStrideA: ra == 3 ? as2[0] : 0,
                          batchStrideB: rb == 3 ? bs2[0] : 0,
                          aRS: as2[ra - 2], aCS: as2[ra - 1], bRS: bs2[rb - 2], bCS: bs2[rb - 1])
    }

    /// Validates `a · x` (transpose already applied to the view `a`); returns (M, K).
    static func matvecPlan(_ a: Tensor, _ x: Tensor) throws(KestrelError) -> (m: Int, k: Int) {
        guard a.rank == 2 else {
            throw .invalidArgument(name: "a", reason: "matvec needs a rank-2 matrix, got shape \(a.shape)")
        }
        guard x.rank == 1 else {
            throw .invalidArgument(name: "x", reason: "matvec needs a rank-1 vector, got shape \(x.shape)")
        }
        let (m, k) = (a.shape.dims[0], a.shape.dims[1])
        guard x.shape.dims[0] == k else {
            throw .dimensionMismatch(expected: [k], actual: x.shape.dims)
        }
        return (m, k)
    }

    /// Validates element-wise operands: same shape, or `b` a trailing part of `a`'s shape.
    /// Returns the repeat length (elements of `b`).
    static func elementwise(_ a: Tensor, _ b: Tensor) throws(KestrelError) -> Int {
        let ad = a.shape.dims, bd = b.shape.dims
        guard bd.count <= ad.count, Array(ad.suffix(bd.count)) == bd else {
            throw .dimensionMismatch(expected: ad, actual: bd)
        }
        return b.elementCount
    }

    /// Validates a norm: rank >= 1, eps finite and >= 0, parameter vectors of extent N.
    static func norm(_ x: Tensor, eps: Float, params: [(Tensor?, String)]) throws(KestrelError) -> Int {
        guard x.rank >= 1 else {
            throw .invalidArgument(name: "x", reason: "normalisation needs rank >= 1, got shape \(x.shape)")
        }
        guard eps.isFinite && eps >= 0 else {
            throw .invalidArgument(name: "eps", reason: "must be finite and >= 0, got \(eps)")
        }
        let n = x.shape.dims[x.rank - 1]
        for case let (p?, _) in params where p.shape.dims != [n] {
            throw .dimensionMismatch(expected: [n], actual: p.shape.dims)
        }
        return n
    }

    /// The shape with `axis` removed.
    static func reducedDims(_ x: Tensor, axis: Int) throws(KestrelError) -> [Int] {
        try x.checkAxis(axis)
        var dims = x.shape.dims
        dims.remove(at: axis)
        return dims
    }
}
