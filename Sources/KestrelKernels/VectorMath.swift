import CKestrelKernels

/// Element-wise math and reductions over `Float` vectors, on the SIMD C kernels.
///
/// Accuracy against `tier: .scalar`: `exp` is within 2 ulp of the correctly rounded result
/// on [-87.3, 88.7] (the SIMD tiers measure at most 1 ulp), flushes towards 0 below and is
/// +Inf above; `softmax` outputs sum to 1 within n·2⁻²³ (any NaN or +Inf input makes every
/// output NaN; an all −Inf row gives zeros); `sum` and `sumOfSquares` accumulate in `Float`
/// in a tier-dependent order (relative error about n·2⁻²⁴ of Σ|xᵢ|); `add`, `multiply`,
/// `scale` and `max` are exact; `axpy` uses FMA on SIMD tiers (one rounding instead of two).
/// Complexity: O(n) time; the allocating forms allocate the result only.
/// Thread-safety: pure functions; call them from any thread.
public enum VectorMath {
    /// eᶻ of every element.
    /// - Throws: `KestrelError.unsupported` when `tier` cannot run here.
    public static func exp(_ x: some Collection<Float>, tier: ISALevel? = nil) throws(KestrelError) -> [Float] {
        try unary(x, tier) { $0.exp_f32 }
    }

    /// Writes eᶻ of every element of `x` into `y` (`y` may be `x`'s memory).
    /// - Throws: `KestrelError.dimensionMismatch(expected: [x.count], actual: [y.count])` when
    ///   the lengths differ; `.unsupported` when `tier` cannot run here.
    public static func exp(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>,
                           tier: ISALevel? = nil) throws(KestrelError) {
        let t = try Distance.prepare(x.count, y.count, tier)
        t.exp_f32(x.baseAddress, y.baseAddress, x.count)
    }

    /// The numerically stable softmax exp(xᵢ − max) / Σⱼ exp(xⱼ − max).
    /// - Throws: `KestrelError.unsupported` when `tier` cannot run here.
    public static func softmax(_ x: some Collection<Float>, tier: ISALevel? = nil) throws(KestrelError) -> [Float] {
        try unary(x, tier) { $0.softmax_f32 }
    }

    /// Writes the softmax of `x` into `y` (`y` may be `x`'s memory).
    /// - Throws: `KestrelError.dimensionMismatch` when the lengths differ; `.unsupported`
    ///   when `tier` cannot run here.
    public static func softmax(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>,
                               tier: ISALevel? = nil) throws(KestrelError) {
        let t = try Distance.prepare(x.count, y.count, tier)
        t.softmax_f32(x.baseAddress, y.baseAddress, x.count)
    }

    /// Replaces `x` by its softmax.
    /// - Throws: `KestrelError.unsupported` when `tier` cannot run here.
    public static func softmax(inPlace x: inout [Float], tier: ISALevel? = nil) throws(KestrelError) {
        let t = try KernelTable(tier).table
        x.withUnsafeMutableBufferPointer { t.softmax_f32($0.baseAddress, $0.baseAddress, $0.count) }
    }

    /// y ← y + alpha·x (BLAS saxpy; FMA on SIMD tiers).
    /// - Throws: `KestrelError.dimensionMismatch(expected: [x.count], actual: [y.count])` when
    ///   the lengths differ; `.unsupported` when `tier` cannot run here.
    public static func axpy(_ alpha: Float, _ x: some Collection<Float>, _ y: inout [Float],
                            tier: ISALevel? = nil) throws(KestrelError) {
        let t = try Distance.prepare(x.count, y.count, tier)
        withContiguousBuffer(x) { x in y.withUnsafeMutableBufferPointer { t.axpy_f32(alpha, x.baseAddress, $0.baseAddress, x.count) } }
    }

    /// y ← y + alpha·x over buffers.
    /// - Throws: as ``axpy(_:_:_:tier:)``.
    public static func axpy(_ alpha: Float, _ x: UnsafeBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>,
                            tier: ISALevel? = nil) throws(KestrelError) {
        let t = try Distance.prepare(x.count, y.count, tier)
        t.axpy_f32(alpha, x.baseAddress, y.baseAddress, x.count)
    }

    /// alpha·xᵢ for every element (exact products, rounded once).
    /// - Throws: `KestrelError.unsupported` when `tier` cannot run here.
    public static func scale(_ x: some Collection<Float>, by alpha: Float, tier: ISALevel? = nil) throws(KestrelError) -> [Float] {
        let t = try KernelTable(tier).table
        return fill(x.count) { y in withContiguousBuffer(x) { t.scale_f32(alpha, $0.baseAddress, y, $0.count) } }
    }

    /// aᵢ + bᵢ for every element.
    /// - Throws: `KestrelError.dimensionMismatch` when the lengths differ; `.unsupported` when
    ///   `tier` cannot run here.
    public static func add(_ a: some Collection<Float>, _ b: some Collection<Float>, tier: ISALevel? = nil) throws(KestrelError) -> [Float] {
        let t = try Distance.prepare(a.count, b.count, tier)
        return fill(a.count) { y in withContiguousBuffer(a) { a in withContiguousBuffer(b) { t.add_f32(a.baseAddress, $0.baseAddress, y, a.count) } } }
    }

    /// aᵢ · bᵢ for every element.
    /// - Throws: `KestrelError.dimensionMismatch` when the lengths differ; `.unsupported` when
    ///   `tier` cannot run here.
    public static func multiply(_ a: some Collection<Float>, _ b: some Collection<Float>, tier: ISALevel? = nil) throws(KestrelError) -> [Float] {
        let t = try Distance.prepare(a.count, b.count, tier)
        return fill(a.count) { y in withContiguousBuffer(a) { a in withContiguousBuffer(b) { t.mul_f32(a.baseAddress, $0.baseAddress, y, a.count) } } }
    }

    /// Σ xᵢ, accumulated in `Float` (0 for an empty vector).
    /// - Throws: `KestrelError.unsupported` when `tier` cannot run here.
    public static func sum(_ x: some Collection<Float>, tier: ISALevel? = nil) throws(KestrelError) -> Float {
        try reduce(x, tier) { $0.sum_f32 }
    }

    /// The largest element: NaN if any element is NaN, −Inf for an empty vector.
    /// - Throws: `KestrelError.unsupported` when `tier` cannot run here.
    public static func max(_ x: some Collection<Float>, tier: ISALevel? = nil) throws(KestrelError) -> Float {
        try reduce(x, tier) { $0.max_f32 }
    }

    /// Σ xᵢ², accumulated in `Float` (0 for an empty vector).
    /// - Throws: `KestrelError.unsupported` when `tier` cannot run here.
    public static func sumOfSquares(_ x: some Collection<Float>, tier: ISALevel? = nil) throws(KestrelError) -> Float {
        try reduce(x, tier) { $0.sumsq_f32 }
    }

    static func fill(_ n: Int, _ body: (UnsafeMutablePointer<Float>?) -> Void) -> [Float] {
        [Float](unsafeUninitializedCapacity: n) { y, initialized in
            body(y.baseAddress)
            initialized = n
        }
    }

    static func unary(_ x: some Collection<Float>, _ tier: ISALevel?,
                      _ pick: (kestrel_kernel_table) -> kestrel_unary_f32_fn?) throws(KestrelError) -> [Float] {
        let f = pick(try KernelTable(tier).table)!
        return fill(x.count) { y in withContiguousBuffer(x) { f($0.baseAddress, y, $0.count) } }
    }

    static func reduce(_ x: some Collection<Float>, _ tier: ISALevel?,
                       _ pick: (kestrel_kernel_table) -> kestrel_reduce_f32_fn?) throws(KestrelError) -> Float {
        let f = pick(try KernelTable(tier).table)!
        return withContiguousBuffer(x) { f($0.baseAddress, $0.count) }
    }
}

#if compiler(>=6.2)
extension VectorMath {
    /// Writes eᶻ of every element of `x` into `y`.
    /// - Throws: as ``exp(_:into:tier:)``.
    public static func exp(_ x: Span<Float>, into y: inout MutableSpan<Float>, tier: ISALevel? = nil) throws(KestrelError) {
        try x.withUnsafeBufferPointer { (x) throws(KestrelError) in
            try y.withUnsafeMutableBufferPointer { (y) throws(KestrelError) in try exp(x, into: y, tier: tier) }
        }
    }

    /// Writes the softmax of `x` into `y`.
    /// - Throws: as ``softmax(_:into:tier:)``.
    public static func softmax(_ x: Span<Float>, into y: inout MutableSpan<Float>, tier: ISALevel? = nil) throws(KestrelError) {
        try x.withUnsafeBufferPointer { (x) throws(KestrelError) in
            try y.withUnsafeMutableBufferPointer { (y) throws(KestrelError) in try softmax(x, into: y, tier: tier) }
        }
    }

    /// Σ xᵢ over a span.
    /// - Throws: `KestrelError.unsupported` when `tier` cannot run here.
    public static func sum(_ x: Span<Float>, tier: ISALevel? = nil) throws(KestrelError) -> Float {
        try x.withUnsafeBufferPointer { (x) throws(KestrelError) in try sum(x, tier: tier) }
    }
}
#endif
