import CKestrelKernels

/// Distances between vectors, on the SIMD C kernels.
///
/// Each function takes its vectors as any `Collection` (arrays, `ArraySlice`s, buffer
/// pointers are read in place; other collections are copied once) or as `Span`s, checks
/// their sizes in Swift, and runs on the process's active tier, or on `tier` when given
/// (tests and benchmarks pin a tier this way).
///
/// Accuracy: floating-point distances accumulate in `Float` (`Float16`/``BFloat16`` inputs
/// are widened exactly); a SIMD tier sums in a different order from the scalar reference, so
/// results agree with `tier: .scalar` within a relative error of about n·2⁻²⁴ of
/// Σ|aᵢ·bᵢ|, not bit for bit. int8 and binary distances are exact at every tier. A NaN in
/// either vector makes the distance NaN.
///
/// Complexity: O(n) time, no allocation (except the copy of a non-contiguous collection).
/// Thread-safety: pure functions; call them from any thread.
public enum Distance {
    // MARK: floating point, one pair

    /// The inner product Σ aᵢ·bᵢ.
    /// - Parameters:
    ///   - a: the first vector.
    ///   - b: the second vector, as long as `a`.
    ///   - tier: the ISA tier to run on; nil (default) for the active one.
    /// - Returns: the inner product; 0 for empty vectors.
    /// - Throws: `KestrelError.dimensionMismatch(expected: [a.count], actual: [b.count])` when
    ///   the lengths differ; `.unsupported` when `tier` cannot run here.
    public static func dot<E: FloatDistanceElement>(_ a: some Collection<E>, _ b: some Collection<E>,
                                                    tier: ISALevel? = nil) throws(KestrelError) -> Float {
        try floatPair(.dot, a, b, tier)
    }

    /// The squared Euclidean distance Σ (aᵢ − bᵢ)².
    /// - Parameters: as `dot(_:_:tier:)`.
    /// - Returns: the squared distance; 0 for empty vectors.
    /// - Throws: `KestrelError.dimensionMismatch` when the lengths differ; `.unsupported` for
    ///   a tier this CPU cannot run.
    public static func l2sq<E: FloatDistanceElement>(_ a: some Collection<E>, _ b: some Collection<E>,
                                                     tier: ISALevel? = nil) throws(KestrelError) -> Float {
        try floatPair(.l2sq, a, b, tier)
    }

    /// The cosine distance 1 − a·b / (|a|·|b|), clamped to [0, 2]: 0 for identical vectors at
    /// every tier, 1 when exactly one vector has zero norm, 0 when both have.
    /// - Parameters: as `dot(_:_:tier:)`.
    /// - Throws: `KestrelError.dimensionMismatch` when the lengths differ; `.unsupported` for
    ///   a tier this CPU cannot run.
    public static func cosine<E: FloatDistanceElement>(_ a: some Collection<E>, _ b: some Collection<E>,
                                                       tier: ISALevel? = nil) throws(KestrelError) -> Float {
        try floatPair(.cosine, a, b, tier)
    }

    // MARK: int8, one pair (exact)

    /// The exact inner product of int8 vectors (never wraps: 64-bit total).
    /// - Throws: `KestrelError.dimensionMismatch` when the lengths differ; `.unsupported` for
    ///   a tier this CPU cannot run.
    public static func dot(_ a: some Collection<Int8>, _ b: some Collection<Int8>,
                           tier: ISALevel? = nil) throws(KestrelError) -> Int64 {
        let t = try prepare(a.count, b.count, tier)
        return withContiguousBuffer(a) { a in withContiguousBuffer(b) { b in t.dot_i8(a.baseAddress, b.baseAddress, a.count) } }
    }

    /// The exact squared Euclidean distance of int8 vectors (never wraps).
    /// - Throws: `KestrelError.dimensionMismatch` when the lengths differ; `.unsupported` for
    ///   a tier this CPU cannot run.
    public static func l2sq(_ a: some Collection<Int8>, _ b: some Collection<Int8>,
                            tier: ISALevel? = nil) throws(KestrelError) -> Int64 {
        let t = try prepare(a.count, b.count, tier)
        return withContiguousBuffer(a) { a in withContiguousBuffer(b) { b in t.l2sq_i8(a.baseAddress, b.baseAddress, a.count) } }
    }

    /// The cosine distance of int8 vectors, from the exact integer dot product and norms (the
    /// final division in `Double`); zero-norm rules as `cosine(_:_:tier:)`.
    /// Identical at every tier.
    /// - Throws: `KestrelError.dimensionMismatch` when the lengths differ; `.unsupported` for
    ///   a tier this CPU cannot run.
    public static func cosine(_ a: some Collection<Int8>, _ b: some Collection<Int8>,
                              tier: ISALevel? = nil) throws(KestrelError) -> Float {
        let t = try prepare(a.count, b.count, tier)
        return withContiguousBuffer(a) { a in withContiguousBuffer(b) { b in t.cosine_i8(a.baseAddress, b.baseAddress, a.count) } }
    }

    // MARK: packed bits, one pair (exact)

    /// The number of differing bits of two packed bit vectors (8 bits per byte).
    /// - Throws: `KestrelError.dimensionMismatch` when the byte counts differ; `.unsupported`
    ///   for a tier this CPU cannot run.
    public static func hamming(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>,
                               tier: ISALevel? = nil) throws(KestrelError) -> Int {
        let t = try prepare(a.count, b.count, tier)
        return Int(withContiguousBuffer(a) { a in withContiguousBuffer(b) { b in t.hamming_b1(a.baseAddress, b.baseAddress, a.count) } })
    }

    /// The Jaccard distance 1 − |a ∧ b| / |a ∨ b| of two packed bit vectors; 0 when both are
    /// all zero. Exact counts, one division.
    /// - Throws: `KestrelError.dimensionMismatch` when the byte counts differ; `.unsupported`
    ///   for a tier this CPU cannot run.
    public static func jaccard(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>,
                               tier: ISALevel? = nil) throws(KestrelError) -> Float {
        let t = try prepare(a.count, b.count, tier)
        return withContiguousBuffer(a) { a in withContiguousBuffer(b) { b in t.jaccard_b1(a.baseAddress, b.baseAddress, a.count) } }
    }

    // MARK: shared

    /// Checks the lengths and resolves the tier's table.
    package static func prepare(_ a: Int, _ b: Int, _ tier: ISALevel?) throws(KestrelError) -> kestrel_kernel_table {
        try requireSameLength(a, b)
        return try KernelTable(tier).table
    }

    static func floatPair<E: FloatDistanceElement>(_ metric: FloatMetric, _ a: some Collection<E>, _ b: some Collection<E>,
                                                   _ tier: ISALevel?) throws(KestrelError) -> Float {
        let t = try prepare(a.count, b.count, tier)
        let family = E._kernelFamily.family
        return withContiguousBuffer(a) { a in
            withContiguousBuffer(b) { b in
                t.pair(metric, family, UnsafeRawPointer(a.baseAddress), UnsafeRawPointer(b.baseAddress), a.count)
            }
        }
    }
}

#if compiler(>=6.2)
extension Distance {
    /// `dot(_:_:tier:)` over spans.
    /// - Throws: `KestrelError.dimensionMismatch` when the lengths differ; `.unsupported` for
    ///   a tier this CPU cannot run.
    public static func dot<E: FloatDistanceElement>(_ a: Span<E>, _ b: Span<E>, tier: ISALevel? = nil) throws(KestrelError) -> Float {
        try a.withUnsafeBufferPointer { (a) throws(KestrelError) in try b.withUnsafeBufferPointer { (b) throws(KestrelError) in try floatPair(.dot, a, b, tier) } }
    }

    /// `l2sq(_:_:tier:)` over spans.
    /// - Throws: `KestrelError.dimensionMismatch` when the lengths differ; `.unsupported` for
    ///   a tier this CPU cannot run.
    public static func l2sq<E: FloatDistanceElement>(_ a: Span<E>, _ b: Span<E>, tier: ISALevel? = nil) throws(KestrelError) -> Float {
        try a.withUnsafeBufferPointer { (a) throws(KestrelError) in try b.withUnsafeBufferPointer { (b) throws(KestrelError) in try floatPair(.l2sq, a, b, tier) } }
    }

    /// `cosine(_:_:tier:)` over spans.
    /// - Throws: `KestrelError.dimensionMismatch` when the lengths differ; `.unsupported` for
    ///   a tier this CPU cannot run.
    public static func cosine<E: FloatDistanceElement>(_ a: Span<E>, _ b: Span<E>, tier: ISALevel? = nil) throws(KestrelError) -> Float {
        try a.withUnsafeBufferPointer { (a) throws(KestrelError) in try b.withUnsafeBufferPointer { (b) throws(KestrelError) in try floatPair(.cosine, a, b, tier) } }
    }

    /// The exact int8 inner product over spans.
    /// - Throws: `KestrelError.dimensionMismatch` when the lengths differ; `.unsupported` for
    ///   a tier this CPU cannot run.
    public static func dot(_ a: Span<Int8>, _ b: Span<Int8>, tier: ISALevel? = nil) throws(KestrelError) -> Int64 {
        try a.withUnsafeBufferPointer { (a) throws(KestrelError) in try b.withUnsafeBufferPointer { (b) throws(KestrelError) in try dot(a, b, tier: tier) } }
    }

    /// The exact int8 squared Euclidean distance over spans.
    /// - Throws: `KestrelError.dimensionMismatch` when the lengths differ; `.unsupported` for
    ///   a tier this CPU cannot run.
    public static func l2sq(_ a: Span<Int8>, _ b: Span<Int8>, tier: ISALevel? = nil) throws(KestrelError) -> Int64 {
        try a.withUnsafeBufferPointer { (a) throws(KestrelError) in try b.withUnsafeBufferPointer { (b) throws(KestrelError) in try l2sq(a, b, tier: tier) } }
    }

    /// The Hamming distance of packed bit vectors over spans.
    /// - Throws: `KestrelError.dimensionMismatch` when the byte counts differ; `.unsupported`
    ///   for a tier this CPU cannot run.
    public static func hamming(_ a: Span<UInt8>, _ b: Span<UInt8>, tier: ISALevel? = nil) throws(KestrelError) -> Int {
        try a.withUnsafeBufferPointer { (a) throws(KestrelError) in try b.withUnsafeBufferPointer { (b) throws(KestrelError) in try hamming(a, b, tier: tier) } }
    }
}
#endif
