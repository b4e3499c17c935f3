import CKestrelKernels

extension AcceleratedBackend {
    /// A fresh contiguous f32 result of `dims`, from the pool when there is one.
    private func result(_ dims: [Int], zeroed: Bool = false) throws(KestrelError) -> Tensor {
        try Tensor(allocating: Shape(dims), dtype: .f32, zeroed: zeroed, pool: pool)
    }

    private static func f32(_ t: Tensor) -> UnsafeMutablePointer<Float> {
        t.elementBase.assumingMemoryBound(to: Float.self)
    }

    /// (outer, n, inner) of the lanes along `axis` of a contiguous tensor.
    private static func lanes(_ x: Tensor, axis: Int) -> (outer: Int, n: Int, inner: Int) {
        let d = x.shape.dims
        return (d[..<axis].reduce(1, *), d[axis], d[(axis + 1)...].reduce(1, *))
    }

    /// See ``Backend/softmax(_:axis:)``. The C kernel `softmax_f32` per lane (f32 accumulation;
    /// outputs sum to 1 within n·2^-23). Lanes along an inner axis are gathered into a scratch
    /// row, so any axis costs one extra pass. O(n).
    public func softmax(_ x: Tensor, axis: Int) throws(KestrelError) -> Tensor {
        try x.checkAxis(axis)
        let xs = try OperandChecks.f32(x, "x").contiguous()
        defer { withExtendedLifetime(xs) {} }  // raw pointers into xs are used below
        let out = try result(xs.shape.dims)
        let (outer, n, inner) = Self.lanes(xs, axis: axis)
        if xs.elementCount == 0 { return out }
        let softmax = kernels.table.softmax_f32!
        let src = Self.f32(xs), dst = Self.f32(out)
        if inner == 1 {
            for r in 0..<outer { softmax(src + r * n, dst + r * n, n) }
            return out
        }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { lane in
            guard let buf = lane.baseAddress else { return }
            for o in 0..<outer {
                for i in 0..<inner {
                    let base = o * n * inner + i
                    for j in 0..<n { buf[j] = src[base + j * inner] }
                    softmax(buf, buf, n)
                    for j in 0..<n { dst[base + j * inner] = buf[j] }
                }
            }
        }
        return out
    }

    /// `out = op(a, b)` with `b` repeated over a's leading axes.
    private func binary(_ a: Tensor, _ b: Tensor,
                        _ pick: (kestrel_kernel_table) -> kestrel_binary_f32_fn?) throws(KestrelError) -> Tensor {
        let a32 = try OperandChecks.f32(a, "a").contiguous()
        let b32 = try OperandChecks.f32(b, "b").contiguous()
        let bn = try OperandChecks.elementwise(a32, b32)
        defer { withExtendedLifetime((a32, b32)) {} }
        let out = try result(a32.shape.dims)
        let total = a32.elementCount
        if total == 0 { return out }
        let op = pick(kernels.table)!
        let pa = Self.f32(a32), pb = Self.f32(b32), po = Self.f32(out)
        var start = 0
        while start < total {
            op(pa + start, pb, po + start, bn)
            start += bn
        }
        return out
    }

    /// See ``Backend/add(_:_:)``. The C kernel `add_f32` (exact: one rounding per element). O(n).
    public func add(_ a: Tensor, _ b: Tensor) throws(KestrelError) -> Tensor {
        try binary(a, b) { $0.add_f32 }
    }

    /// See ``Backend/mul(_:_:)``. The C kernel `mul_f32` (exact: one rounding per element). O(n).
    public func mul(_ a: Tensor, _ b: Tensor) throws(KestrelError) -> Tensor {
        try binary(a, b) { $0.mul_f32 }
    }

    /// See ``Backend/scale(_:by:)``. The C kernel `scale_f32`. O(n).
    public func scale(_ x: Tensor, by alpha: Float) throws(KestrelError) -> Tensor {
        let xs = try OperandChecks.f32(x, "x").contiguous()
        defer { withExtendedLifetime(xs) {} }  // raw pointers into xs are used below
        let out = try result(xs.shape.dims)
        if xs.elementCount > 0 { kernels.table.scale_f32!(alpha, Self.f32(xs), Self.f32(out), xs.elementCount) }
        return out
    }

    /// See ``Backend/rmsNorm(_:weight:eps:)``. Per row: `sumsq_f32` (f32 accumulation), then
    /// `scale_f32` and `mul_f32`. Rows whose sum of squares overflows f32 (|x| around 1e19
    /// and above) come out as zeros. O(n).
    public func rmsNorm(_ x: Tensor, weight: Tensor?, eps: Float) throws(KestrelError) -> Tensor {
        let xs = try OperandChecks.f32(x, "x").contiguous()
        defer { withExtendedLifetime(xs) {} }  // raw pointers into xs are used below
        let n = try OperandChecks.norm(xs, eps: eps, params: [(weight, "weight")])
        let w = try weight.map { (t: Tensor) throws(KestrelError) in try OperandChecks.f32(t, "weight").contiguous() }
        defer { withExtendedLifetime(w) {} }
        let out = try result(xs.shape.dims)
        if xs.elementCount == 0 { return out }
        let k = kernels.table
        let sumsq = k.sumsq_f32!, scale = k.scale_f32!, mul = k.mul_f32!
        let src = Self.f32(xs), dst = Self.f32(out), pw = w.map(Self.f32)
        for r in 0..<(xs.elementCount / n) {
            let row = src + r * n, o = dst + r * n
            let inv = 1 / (sumsq(row, n) / Float(n) + eps).squareRoot()
            scale(inv, row, o, n)
            if let pw { mul(o, pw, o, n) }
        }
        return out
    }

    /// See ``Backend/layerNorm(_:weight:bias:eps:)``. Per row: mean from `sum_f32`, centring,
    /// variance from `sumsq_f32` of the centred row (two-pass: no cancellation), then
    /// `scale_f32`, `mul_f32`, `add_f32`. O(n).
    public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float) throws(KestrelError) -> Tensor {
        let xs = try OperandChecks.f32(x, "x").contiguous()
        defer { withExtendedLifetime(xs) {} }  // raw pointers into xs are used below
        let n = try OperandChecks.norm(xs, eps: eps, params: [(weight, "weight"), (bias, "bias")])
        let w = try weight.map { (t: Tensor) throws(KestrelError) in try OperandChecks.f32(t, "weight").contiguous() }
        let bs = try bias.map { (t: Tensor) throws(KestrelError) in try OperandChecks.f32(t, "bias").contiguous() }
        defer { withExtendedLifetime((w, bs)) {} }
        let out = try result(xs.shape.dims)
        if xs.elementCount == 0 { return out }
        let k = kernels.table
        let sum = k.sum_f32!, sumsq = k.sumsq_f32!, scale = k.scale_f32!, mul = k.mul_f32!, add = k.add_f32!
        let src = Self.f32(xs), dst = Self.f32(out), pw = w.map(Self.f32), pb = bs.map(Self.f32)
        for r in 0..<(xs.elementCount / n) {
            let row = src + r * n, o = dst + r * n
            let mean = sum(row, n) / Float(n)
            for i in 0..<n { o[i] = row[i] - mean }
            let inv = 1 / (sumsq(o, n) / Float(n) + eps).squareRoot()
            scale(inv, o, o, n)
            if let pw { mul(o, pw, o, n) }
            if let pb { add(o, pb, o, n) }
        }
        return out
    }

    /// See ``Backend/sum(_:axis:)``. Last axis: `sum_f32` per lane; other axes: `add_f32`
    /// over whole inner rows, in sequential order (f32 accumulation). O(n).
    public func sum(_ x: Tensor, axis: Int) throws(KestrelError) -> Tensor {
        let dims = try OperandChecks.reducedDims(x, axis: axis)
        let xs = try OperandChecks.f32(x, "x").contiguous()
        defer { withExtendedLifetime(xs) {} }  // raw pointers into xs are used below
        let out = try result(dims, zeroed: true)
        let (outer, n, inner) = Self.lanes(xs, axis: axis)
        if out.elementCount == 0 || n == 0 { return out }
        let k = kernels.table
        let src = Self.f32(xs), dst = Self.f32(out)
        if inner == 1 {
            let sum = k.sum_f32!
            for o in 0..<outer { dst[o] = sum(src + o * n, n) }
        } else {
            let add = k.add_f32!
            for o in 0..<outer {
                let acc = dst + o * inner
                for j in 0..<n { add(acc, src + (o * n + j) * inner, acc, inner) }
            }
        }
        return out
    }

    /// See ``Backend/max(_:axis:)``. Last axis: `max_f32` per lane; other axes: a running
    /// element-wise maximum over inner rows. NaN propagates. O(n).
    public func max(_ x: Tensor, axis: Int) throws(KestrelError) -> Tensor {
        let dims = try OperandChecks.reducedDims(x, axis: axis)
        let xs = try OperandChecks.f32(x, "x").contiguous()
        defer { withExtendedLifetime(xs) {} }  // raw pointers into xs are used below
        let out = try result(dims)
        let (outer, n, inner) = Self.lanes(xs, axis: axis)
        if out.elementCount == 0 { return out }
        let src = Self.f32(xs), dst = Self.f32(out)
        if inner == 1 {
            let maxK = kernels.table.max_f32!
            for o in 0..<outer { dst[o] = maxK(src + o * n, n) }
            return out
        }
        dst.update(repeating: -.infinity, count: outer * inner)
        for o in 0..<outer {
            let acc = dst + o * inner
            for j in 0..<n {
                let row = src + (o * n + j) * inner
                for i in 0..<inner {
                    let v = row[i], m = acc[i]
                    acc[i] = (v > m || v.isNaN) ? v : m  // a NaN already in acc stays
                }
            }
        }
        return out
    }

    /// See ``Backend/sum(_:)``. `sum_f32` over blocks of 4096 elements, block sums added in
    /// Double, so the error grows with the block size, not with n. O(n).
    public func sum(_ x: Tensor) throws(KestrelError) -> Float {
        let xs = try OperandChecks.f32(x, "x").contiguous()
        defer { withExtendedLifetime(xs) {} }  // raw pointers into xs are used below
        let sum = kernels.table.sum_f32!
        let p = Self.f32(xs), n = xs.elementCount
        var total = 0.0
        var start = 0
        while start < n {
            let len = Swift.min(4096, n - start)
            total += Double(sum(p + start, len))
            start += len
        }
        return Float(total)
    }

    /// See ``Backend/max(_:)``. `max_f32` over all elements. O(n).
    public func max(_ x: Tensor) throws(KestrelError) -> Float {
        let xs = try OperandChecks.f32(x, "x").contiguous()
        defer { withExtendedLifetime(xs) {} }  // raw pointers into xs are used below
        return kernels.table.max_f32!(Self.f32(xs), xs.elementCount)
    }
}
