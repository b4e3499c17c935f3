import CKestrelKernels

// One query against many rows: the memory-bound scan of an index.
//
// `rows` holds row r at elements [r·stride, r·stride + dim) with dim = query.count and
// stride ≥ dim (default dim: rows packed back to back); the padding between rows is never
// read. The `into:` forms write one distance per element of `out` (so `out.count` rows are
// read); the allocating forms scan every row of `rows`, whose length must then be a whole
// number of strides. Every result equals the one-pair distance of the same tier bit for bit.
// Complexity: O(count·dim) time; the allocating forms allocate the result only.
extension Distance {
    // MARK: floating point

    /// Writes `out[r]` = the inner product of `query` and row r of `rows`.
    /// - Parameters:
    ///   - query: the query vector; its length is the dimension.
    ///   - rows: row-major rows, row r starting at element r·stride.
    ///   - stride: elements from one row's start to the next (≥ the dimension; nil = packed).
    ///   - out: one result per row to read.
    ///   - tier: the ISA tier to run on; nil (default) for the active one.
    /// - Throws: `KestrelError.invalidArgument(name: "stride", …)` when stride < dimension;
    ///   `.dimensionMismatch(expected: [needed], actual: [rows.count])` when `rows` is too short
    ///   for `out.count` rows; `.capacityExceeded(limit: rows.count, requested: Int.max)` when
    ///   the size computation overflows; `.unsupported` for a tier this CPU cannot run.
    public static func dot<E: FloatDistanceElement>(query: some Collection<E>, rows: some Collection<E>, stride: Int? = nil,
                                                    into out: UnsafeMutableBufferPointer<Float>,
                                                    tier: ISALevel? = nil) throws(KestrelError) {
        try floatScan(.dot, query, rows, stride, out, tier)
    }

    /// Writes `out[r]` = the squared Euclidean distance of `query` and row r of `rows`.
    /// - Parameters: as ``dot(query:rows:stride:into:tier:)``.
    /// - Throws: as ``dot(query:rows:stride:into:tier:)``.
    public static func l2sq<E: FloatDistanceElement>(query: some Collection<E>, rows: some Collection<E>, stride: Int? = nil,
                                                     into out: UnsafeMutableBufferPointer<Float>,
                                                     tier: ISALevel? = nil) throws(KestrelError) {
        try floatScan(.l2sq, query, rows, stride, out, tier)
    }

    /// Writes `out[r]` = the cosine distance of `query` and row r of `rows`.
    /// - Parameters: as ``dot(query:rows:stride:into:tier:)``.
    /// - Throws: as ``dot(query:rows:stride:into:tier:)``.
    public static func cosine<E: FloatDistanceElement>(query: some Collection<E>, rows: some Collection<E>, stride: Int? = nil,
                                                       into out: UnsafeMutableBufferPointer<Float>,
                                                       tier: ISALevel? = nil) throws(KestrelError) {
        try floatScan(.cosine, query, rows, stride, out, tier)
    }

    /// The inner products of `query` with every row of `rows`.
    /// - Throws: `KestrelError.dimensionMismatch(expected: [-1, stride], actual: [rows.count])`
    ///   when `rows` is not a whole number of strides; `.invalidArgument(name: "stride", …)`
    ///   when stride < dimension, or stride is 0 while `rows` is not empty; `.unsupported` for
    ///   a tier this CPU cannot run.
    public static func dot<E: FloatDistanceElement>(query: some Collection<E>, rows: some Collection<E>, stride: Int? = nil,
                                                    tier: ISALevel? = nil) throws(KestrelError) -> [Float] {
        try allocatingScan(query.count, rows.count, stride) { (out) throws(KestrelError) in
            try floatScan(.dot, query, rows, stride, out, tier)
        }
    }

    /// The squared Euclidean distances of `query` to every row of `rows`.
    /// - Throws: as ``dot(query:rows:stride:tier:)``.
    public static func l2sq<E: FloatDistanceElement>(query: some Collection<E>, rows: some Collection<E>, stride: Int? = nil,
                                                     tier: ISALevel? = nil) throws(KestrelError) -> [Float] {
        try allocatingScan(query.count, rows.count, stride) { (out) throws(KestrelError) in
            try floatScan(.l2sq, query, rows, stride, out, tier)
        }
    }

    /// The cosine distances of `query` to every row of `rows`.
    /// - Throws: as ``dot(query:rows:stride:tier:)``.
    public static func cosine<E: FloatDistanceElement>(query: some Collection<E>, rows: some Collection<E>, stride: Int? = nil,
                                                       tier: ISALevel? = nil) throws(KestrelError) -> [Float] {
        try allocatingScan(query.count, rows.count, stride) { (out) throws(KestrelError) in
            try floatScan(.cosine, query, rows, stride, out, tier)
        }
    }

    // MARK: int8 (exact)

    /// Writes the exact int8 inner products of `query` with the rows into `out` (`Int32`:
    /// exact because the dimension is capped).
    /// - Throws: as ``dot(query:rows:stride:into:tier:)``, and
    ///   `.invalidArgument(name: "dimension", …)` when the dimension exceeds 32768 (use the
    ///   one-pair `dot(_:_:tier:)` there, which returns `Int64`).
    public static func dot(query: some Collection<Int8>, rows: some Collection<Int8>, stride: Int? = nil,
                           into out: UnsafeMutableBufferPointer<Int32>, tier: ISALevel? = nil) throws(KestrelError) {
        try requireInt32Dimension(query.count)
        try scan(query, rows, stride, out, tier, "kestrel_dot_i8_many") { $0.dot_i8_many($1, $2, $3, $4, $5, $6) }
    }

    /// Writes the exact int8 squared Euclidean distances of `query` to the rows into `out`.
    /// - Throws: as `dot(query:rows:stride:into:tier:)`.
    public static func l2sq(query: some Collection<Int8>, rows: some Collection<Int8>, stride: Int? = nil,
                            into out: UnsafeMutableBufferPointer<Int32>, tier: ISALevel? = nil) throws(KestrelError) {
        try requireInt32Dimension(query.count)
        try scan(query, rows, stride, out, tier, "kestrel_l2sq_i8_many") { $0.l2sq_i8_many($1, $2, $3, $4, $5, $6) }
    }

    /// Writes the int8 cosine distances of `query` to the rows into `out`.
    /// - Throws: as ``dot(query:rows:stride:into:tier:)``.
    public static func cosine(query: some Collection<Int8>, rows: some Collection<Int8>, stride: Int? = nil,
                              into out: UnsafeMutableBufferPointer<Float>, tier: ISALevel? = nil) throws(KestrelError) {
        try scan(query, rows, stride, out, tier, "kestrel_cosine_i8_many") { $0.cosine_i8_many($1, $2, $3, $4, $5, $6) }
    }

    /// The exact int8 inner products of `query` with every row of `rows`.
    /// - Throws: as ``dot(query:rows:stride:tier:)`` and the dimension cap of
    ///   `dot(query:rows:stride:into:tier:)`.
    public static func dot(query: some Collection<Int8>, rows: some Collection<Int8>, stride: Int? = nil,
                           tier: ISALevel? = nil) throws(KestrelError) -> [Int32] {
        try allocatingScan(query.count, rows.count, stride) { (out) throws(KestrelError) in
            try dot(query: query, rows: rows, stride: stride, into: out, tier: tier)
        }
    }

    /// The exact int8 squared Euclidean distances of `query` to every row of `rows`.
    /// - Throws: as `dot(query:rows:stride:tier:)`.
    public static func l2sq(query: some Collection<Int8>, rows: some Collection<Int8>, stride: Int? = nil,
                            tier: ISALevel? = nil) throws(KestrelError) -> [Int32] {
        try allocatingScan(query.count, rows.count, stride) { (out) throws(KestrelError) in
            try l2sq(query: query, rows: rows, stride: stride, into: out, tier: tier)
        }
    }

    // MARK: packed bits (exact)

    /// Writes the Hamming distances of a packed query to packed rows (stride in bytes) into `out`.
    /// - Throws: as ``dot(query:rows:stride:into:tier:)``.
    public static func hamming(query: some Collection<UInt8>, rows: some Collection<UInt8>, stride: Int? = nil,
                               into out: UnsafeMutableBufferPointer<UInt32>, tier: ISALevel? = nil) throws(KestrelError) {
        try scan(query, rows, stride, out, tier, "kestrel_hamming_b1_many") { $0.hamming_b1_many($1, $2, $3, $4, $5, $6) }
    }

    /// Writes the Jaccard distances of a packed query to packed rows into `out`.
    /// - Throws: as ``dot(query:rows:stride:into:tier:)``.
    public static func jaccard(query: some Collection<UInt8>, rows: some Collection<UInt8>, stride: Int? = nil,
                               into out: UnsafeMutableBufferPointer<Float>, tier: ISALevel? = nil) throws(KestrelError) {
        try scan(query, rows, stride, out, tier, "kestrel_jaccard_b1_many") { $0.jaccard_b1_many($1, $2, $3, $4, $5, $6) }
    }

    /// The Hamming distances of a packed query to every packed row of `rows`.
    /// - Throws: as ``dot(query:rows:stride:tier:)``.
    public static func hamming(query: some Collection<UInt8>, rows: some Collection<UInt8>, stride: Int? = nil,
                               tier: ISALevel? = nil) throws(KestrelError) -> [UInt32] {
        try allocatingScan(query.count, rows.count, stride) { (out) throws(KestrelError) in
            try hamming(query: query, rows: rows, stride: stride, into: out, tier: tier)
        }
    }

    // MARK: geometry

    /// Checks a scan of `count` rows of `dim` elements, `stride` apart, over `baseCount`
    /// elements, and returns the stride to use.
    package static func scanStride(dim: Int, baseCount: Int, stride: Int?, count: Int) throws(KestrelError) -> Int {
        let s = stride ?? dim
        guard s >= dim else { throw .invalidArgument(name: "stride", reason: "stride \(s) is less than the dimension \(dim)") }
        guard count > 0 else { return s }
        let (span, o1) = (count - 1).multipliedReportingOverflow(by: s)
        let (needed, o2) = span.addingReportingOverflow(dim)
        if o1 || o2 { throw .capacityExceeded(limit: baseCount, requested: Int.max) }
        guard baseCount >= needed else { throw .dimensionMismatch(expected: [needed], actual: [baseCount]) }
        return s
    }

    /// The number of rows an allocating scan reads: `rows` must be a whole number of strides.
    package static func rowCount(dim: Int, baseCount: Int, stride: Int?) throws(KestrelError) -> Int {
        let s = stride ?? dim
        guard s >= dim else { throw .invalidArgument(name: "stride", reason: "stride \(s) is less than the dimension \(dim)") }
        guard s > 0 else {
            if baseCount == 0 { return 0 }
            throw .invalidArgument(name: "stride", reason: "a zero stride cannot split \(baseCount) elements into rows")
        }
        guard baseCount % s == 0 else { throw .dimensionMismatch(expected: [-1, s], actual: [baseCount]) }
        return baseCount / s
    }

    static func requireInt32Dimension(_ dim: Int) throws(KestrelError) {
        guard dim <= Int(KESTREL_I8_MANY_MAX_DIM) else {
            throw .invalidArgument(name: "dimension", reason: "\(dim) exceeds \(KESTREL_I8_MANY_MAX_DIM), the largest whose int32 results are exact")
        }
    }

    static func allocatingScan<O: BitwiseCopyable>(_ dim: Int, _ baseCount: Int, _ stride: Int?,
                                                   _ fill: (UnsafeMutableBufferPointer<O>) throws(KestrelError) -> Void) throws(KestrelError) -> [O] {
        let count = try rowCount(dim: dim, baseCount: baseCount, stride: stride)
        var failure: KestrelError?
        let result = [O](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(KestrelError) {
                try fill(UnsafeMutableBufferPointer(rebasing: buffer[0..<count]))
                initialized = count
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return result
    }

    static func floatScan<E: FloatDistanceElement>(_ metric: FloatMetric, _ query: some Collection<E>, _ rows: some Collection<E>,
                                                   _ stride: Int?, _ out: UnsafeMutableBufferPointer<Float>,
                                                   _ tier: ISALevel?) throws(KestrelError) {
        let family = E._kernelFamily.family
        try scan(query, rows, stride, out, tier, "distance scan") { t, q, b, dim, count, s, o in
            t.many(metric, family, UnsafeRawPointer(q), UnsafeRawPointer(b), dim: dim, count: count, stride: s, o)
        }
    }

    static func scan<E, O>(_ query: some Collection<E>, _ rows: some Collection<E>, _ stride: Int?,
                           _ out: UnsafeMutableBufferPointer<O>, _ tier: ISALevel?, _ routine: String,
                           _ kernel: (kestrel_kernel_table, UnsafePointer<E>?, UnsafePointer<E>?, Int, Int, Int,
                                      UnsafeMutablePointer<O>?) -> kestrel_status) throws(KestrelError) {
        let dim = query.count
        let s = try scanStride(dim: dim, baseCount: rows.count, stride: stride, count: out.count)
        let t = try KernelTable(tier).table
        let status = withContiguousBuffer(query) { q in
            withContiguousBuffer(rows) { b in kernel(t, q.baseAddress, b.baseAddress, dim, out.count, s, out.baseAddress) }
        }
        try KestrelError.check(status, routine)
    }
}

#if compiler(>=6.2)
extension Distance {
    /// ``dot(query:rows:stride:into:tier:)`` over spans.
    /// - Throws: as ``dot(query:rows:stride:into:tier:)``.
    public static func dot<E: FloatDistanceElement>(query: Span<E>, rows: Span<E>, stride: Int? = nil,
                                                    into out: inout MutableSpan<Float>, tier: ISALevel? = nil) throws(KestrelError) {
        try spanScan(.dot, query, rows, stride, &out, tier)
    }

    /// ``l2sq(query:rows:stride:into:tier:)`` over spans.
    /// - Throws: as ``dot(query:rows:stride:into:tier:)``.
    public static func l2sq<E: FloatDistanceElement>(query: Span<E>, rows: Span<E>, stride: Int? = nil,
                                                     into out: inout MutableSpan<Float>, tier: ISALevel? = nil) throws(KestrelError) {
        try spanScan(.l2sq, query, rows, stride, &out, tier)
    }

    /// ``cosine(query:rows:stride:into:tier:)`` over spans.
    /// - Throws: as ``dot(query:rows:stride:into:tier:)``.
    public static func cosine<E: FloatDistanceElement>(query: Span<E>, rows: Span<E>, stride: Int? = nil,
                                                       into out: inout MutableSpan<Float>, tier: ISALevel? = nil) throws(KestrelError) {
        try spanScan(.cosine, query, rows, stride, &out, tier)
    }

    static func spanScan<E: FloatDistanceElement>(_ metric: FloatMetric, _ query: Span<E>, _ rows: Span<E>, _ stride: Int?,
                                                  _ out: inout MutableSpan<Float>, _ tier: ISALevel?) throws(KestrelError) {
        try query.withUnsafeBufferPointer { (q) throws(KestrelError) in
            try rows.withUnsafeBufferPointer { (b) throws(KestrelError) in
                try out.withUnsafeMutableBufferPointer { (o) throws(KestrelError) in
                    try floatScan(metric, q, b, stride, o, tier)
                }
            }
        }
    }
}
#endif
