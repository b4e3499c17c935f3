import CKestrelKernels

/// Conversions between `Float` and the 16-bit storage formats, on the SIMD C kernels.
///
/// Narrowing rounds to nearest even; NaN stays a (quiet) NaN, ±Inf stays ±Inf, overflow
/// becomes ±Inf, tiny values become binary16 subnormals or zero. Widening is exact. Every tier
/// gives bit-identical results, equal to Swift's own `Float16(_:)` / `Float(_:)` conversions.
/// Complexity: O(n) time; the allocating forms allocate the result only.
/// Thread-safety: pure functions; call them from any thread.
public enum Conversion {
    /// The bfloat16 values of `source`.
    /// - Throws: `KestrelError.unsupported` when `tier` cannot run here.
    public static func bfloat16(_ source: some Collection<Float>, tier: ISALevel? = nil) throws(KestrelError) -> [BFloat16] {
        let t = try KernelTable(tier).table
        return convert(source) { s, d, n in t.f32_to_bf16(s, d, n) }
    }

    /// The `Float` values of bfloat16 `source` (exact).
    /// - Throws: `KestrelError.unsupported` when `tier` cannot run here.
    public static func float(_ source: some Collection<BFloat16>, tier: ISALevel? = nil) throws(KestrelError) -> [Float] {
        let t = try KernelTable(tier).table
        return convert(source) { s, d, n in t.bf16_to_f32(s, d, n) }
    }

    /// Writes the bfloat16 values of `source` into `destination`.
    /// - Throws: `KestrelError.dimensionMismatch(expected: [source.count], actual: [destination.count])`
    ///   when the lengths differ; `.unsupported` when `tier` cannot run here.
    public static func convert(_ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableBufferPointer<BFloat16>,
                               tier: ISALevel? = nil) throws(KestrelError) {
        let t = try prepare(source.count, destination.count, tier)
        t.f32_to_bf16(source.baseAddress, bits(destination), source.count)
    }

    /// Writes the `Float` values of bfloat16 `source` into `destination` (exact).
    /// - Throws: `KestrelError.dimensionMismatch` when the lengths differ; `.unsupported` when
    ///   `tier` cannot run here.
    public static func convert(_ source: UnsafeBufferPointer<BFloat16>, into destination: UnsafeMutableBufferPointer<Float>,
                               tier: ISALevel? = nil) throws(KestrelError) {
        let t = try prepare(source.count, destination.count, tier)
        t.bf16_to_f32(bits(source), destination.baseAddress, source.count)
    }

    static func prepare(_ source: Int, _ destination: Int, _ tier: ISALevel?) throws(KestrelError) -> kestrel_kernel_table {
        guard source == destination else { throw .dimensionMismatch(expected: [source], actual: [destination]) }
        return try KernelTable(tier).table
    }

    /// A 16-bit element buffer seen as the `uint16_t` the C kernels take.
    static func bits<T: BitwiseCopyable>(_ p: UnsafeBufferPointer<T>) -> UnsafePointer<UInt16>? {
        UnsafeRawPointer(p.baseAddress)?.assumingMemoryBound(to: UInt16.self)
    }

    static func bits<T: BitwiseCopyable>(_ p: UnsafeMutableBufferPointer<T>) -> UnsafeMutablePointer<UInt16>? {
        UnsafeMutableRawPointer(p.baseAddress)?.assumingMemoryBound(to: UInt16.self)
    }

    /// Runs a C conversion from `source` into a new array of the same length.
    static func convert<S: Collection, D: BitwiseCopyable, CS, CD>(
        _ source: S, _ kernel: (UnsafePointer<CS>?, UnsafeMutablePointer<CD>?, Int) -> Void
    ) -> [D] where S.Element: BitwiseCopyable {
        // Internal callers pair element types with the C kernel's; a mismatch is a Kestrel bug.
        assert(MemoryLayout<S.Element>.stride == MemoryLayout<CS>.stride && MemoryLayout<D>.stride == MemoryLayout<CD>.stride)
        return withContiguousBuffer(source) { s in
            [D](unsafeUninitializedCapacity: s.count) { d, initialized in
                kernel(UnsafeRawPointer(s.baseAddress)?.assumingMemoryBound(to: CS.self),
                       UnsafeMutableRawPointer(d.baseAddress)?.assumingMemoryBound(to: CD.self), s.count)
                initialized = s.count
            }
        }
    }
}

#if !(os(macOS) && arch(x86_64))
extension Conversion {
    /// The IEEE binary16 values of `source` (same bits as `Float16(_:)`).
    /// - Throws: `KestrelError.unsupported` when `tier` cannot run here.
    public static func float16(_ source: some Collection<Float>, tier: ISALevel? = nil) throws(KestrelError) -> [Float16] {
        let t = try KernelTable(tier).table
        return convert(source) { s, d, n in t.f32_to_f16(s, d, n) }
    }

    /// The `Float` values of binary16 `source` (exact).
    /// - Throws: `KestrelError.unsupported` when `tier` cannot run here.
    public static func float(_ source: some Collection<Float16>, tier: ISALevel? = nil) throws(KestrelError) -> [Float] {
        let t = try KernelTable(tier).table
        return convert(source) { s, d, n in t.f16_to_f32(s, d, n) }
    }

    /// Writes the binary16 values of `source` into `destination`.
    /// - Throws: `KestrelError.dimensionMismatch` when the lengths differ; `.unsupported` when
    ///   `tier` cannot run here.
    public static func convert(_ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableBufferPointer<Float16>,
                               tier: ISALevel? = nil) throws(KestrelError) {
        let t = try prepare(source.count, destination.count, tier)
        t.f32_to_f16(source.baseAddress, bits(destination), source.count)
    }

    /// Writes the `Float` values of binary16 `source` into `destination` (exact).
    /// - Throws: `KestrelError.dimensionMismatch` when the lengths differ; `.unsupported` when
    ///   `tier` cannot run here.
    public static func convert(_ source: UnsafeBufferPointer<Float16>, into destination: UnsafeMutableBufferPointer<Float>,
                               tier: ISALevel? = nil) throws(KestrelError) {
        let t = try prepare(source.count, destination.count, tier)
        t.f16_to_f32(bits(source), destination.baseAddress, source.count)
    }
}
#endif
