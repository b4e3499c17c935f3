import CKestrelKernels
import KestrelKernels

/// ggml block quantization: Q8_0, Q8_1, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K and Q6_K rows, bit-exact
/// with ggml's reference quantizers (`quantize_row_<t>_ref`, the path `llama-quantize` writes
/// model files with) and its dequantizers.
///
/// A row of floats is cut into blocks of ``GGMLType/blockSize`` elements (32, or 256 for the
/// K-quants); the quantized row is the blocks back to back, no padding, no header. Rows never
/// share a block, so a stream of rows is one stream of blocks. Layouts, nibble orders and the
/// rounding rules: Documentation/Quantization.md, "ggml block formats".
///
/// Every ISA tier gives the same bytes and float bits (SIMD quantizers for Q8_0 and Q8_1, SIMD
/// dequantizers for all eight; the other quantizers are the scalar reference everywhere).
/// `tier` pins one tier (tests); nil follows the active tier.
///
/// Parallelism: `threads` workers (default: the active cores) split streams of at least
/// ``parallelGrain`` elements per worker; smaller inputs stay on the caller. The result does not
/// depend on the thread count.
///
/// Thread-safety: stateless; call from any thread. Buffers must not be written by others
/// during a call.
public enum GGMLBlocks {
    /// The block formats these functions read and write.
    public static let blockTypes: [GGMLType] = [.q8_0, .q8_1, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q6_K]

    /// Fewest elements a worker is given: below about this many, starting a thread (tens of
    /// microseconds) costs more than the block work it would take over (Q8_0 runs at about
    /// 1 element/ns per core).
    public static let parallelGrain = 1 << 16

    /// Elements per piece of the single-thread paths: the input check and the kernel take turns
    /// on 16 KiB of floats, so the kernel reads what the check has just brought into L1.
    static let pieceElements = 4096

    /// Bytes of the block stream holding `elementCount` elements of `type`.
    /// - Throws: `invalidArgument(name: "type")` for a type that is not a block format (f32,
    ///   f16, bf16, q8_K); `invalidArgument(name: "elementCount")` when it is negative or not a
    ///   multiple of the block size; `capacityExceeded` when the byte count overflows `Int`.
    /// - Complexity: O(1).
    public static func byteCount(of type: GGMLType, elementCount: Int) throws(KestrelError) -> Int {
        try checkBlockType(type)
        guard elementCount >= 0, elementCount % type.blockSize == 0 else {
            throw .invalidArgument(name: "elementCount",
                                   reason: "\(elementCount) is not a non-negative multiple of \(type)'s block size \(type.blockSize)")
        }
        // Not SizeCheck.product: its variadic array would allocate on every call of the hot paths.
        let (bytes, overflow) = (elementCount / type.blockSize).multipliedReportingOverflow(by: type.bytesPerBlock)
        guard !overflow else { throw .capacityExceeded(limit: .max, requested: .max) }
        return bytes
    }

    /// Quantizes rows of `rowLength` floats into `destination`.
    ///
    /// - Parameters:
    ///   - source: `rows * rowLength` finite floats, row after row.
    ///   - rowLength: elements per row, > 0 and a multiple of `type.blockSize`.
    ///   - type: one of ``blockTypes``.
    ///   - destination: exactly ``byteCount(of:elementCount:)`` bytes; no alignment needed.
    ///     On a throw its contents are unspecified.
    ///   - tier: a pinned ISA tier, or nil for the active one.
    ///   - threads: workers, >= 1.
    /// - Throws: `invalidArgument(name: "type")`; `invalidArgument(name: "rowLength")` when it is
    ///   not a positive multiple of the block size; `dimensionMismatch(expected: [-1, rowLength],
    ///   actual: [source.count])` when the source is not whole rows; `dimensionMismatch(expected:
    ///   [bytes], actual: [destination.count])` for a wrong-sized destination;
    ///   `nonFiniteValue(index:)` with the flat index of the first NaN or ±Inf in `source`;
    ///   `invalidArgument(name: "threads")` when below 1; `unsupported` when `tier` cannot run here.
    /// - Complexity: O(n) time (the K-quant searches do about 20 passes per block), no allocation.
    public static func quantize(_ source: UnsafeBufferPointer<Float>, rowLength: Int, as type: GGMLType,
                                into destination: UnsafeMutableRawBufferPointer, tier: ISALevel? = nil,
                                threads: Int = activeProcessorCount) throws(KestrelError) {
        let kernel = try quantizer(type, try KernelTable(tier).table)
        try checkRows(source.count, rowLength: rowLength, type: type)
        let bytes = try byteCount(of: type, elementCount: source.count)
        guard destination.count == bytes else {
            throw .dimensionMismatch(expected: [bytes], actual: [destination.count])
        }
        guard threads >= 1 else { throw .invalidArgument(name: "threads", reason: "must be >= 1, got \(threads)") }
        guard let s = source.baseAddress, let d = destination.baseAddress, !source.isEmpty else { return }
        // The workers touch disjoint blocks of the caller's buffers, which outlive the call.
        nonisolated(unsafe) let src = s, dst = d
        let qk = type.blockSize, bpb = type.bytesPerBlock, blockCount = source.count / qk
        let grainBlocks = Swift.max(1, parallelGrain / qk)
        if threads == 1 || blockCount < 2 * grainBlocks {
            // Check, then quantize, one 16 KiB piece at a time (each float is read twice
            // while it is still in L1); no allocation on this path.
            let piece = Swift.max(1, pieceElements / qk)
            var b = 0
            while b < blockCount {
                let count = Swift.min(piece, blockCount - b)
                if let bad = firstNonFinite(src + b * qk, count * qk) { throw .nonFiniteValue(index: b * qk + bad) }
                kernel(src + b * qk, dst + b * bpb, count * qk)
                b += count
            }
            return
        }
        let firstBad = FirstIndex()
        try forEachBlockRange(blockCount, blockSize: qk, threads: threads) { blocks in
            let lo = blocks.lowerBound * qk, n = blocks.count * qk
            if let bad = firstNonFinite(src + lo, n) {
                firstBad.offer(lo + bad)
            } else {
                kernel(src + lo, dst + blocks.lowerBound * bpb, n)
            }
        }
        if let bad = firstBad.value { throw .nonFiniteValue(index: bad) }
    }

    /// Quantizes rows of `rowLength` floats into a new block stream.
    /// - Throws: as ``quantize(_:rowLength:as:into:tier:threads:)``.
    /// - Complexity: O(n); allocates the result only.
    public static func quantize(_ source: [Float], rowLength: Int, as type: GGMLType, tier: ISALevel? = nil,
                                threads: Int = activeProcessorCount) throws(KestrelError) -> [UInt8] {
        try checkBlockType(type)
        try checkRows(source.count, rowLength: rowLength, type: type)
        let bytes = try byteCount(of: type, elementCount: source.count)
        var out = [UInt8](repeating: 0, count: bytes)
        try source.withUnsafeBufferPointer { (s) throws(KestrelError) in
            try out.withUnsafeMutableBufferPointer { (d) throws(KestrelError) in
                try quantize(s, rowLength: rowLength, as: type, into: UnsafeMutableRawBufferPointer(d), tier: tier, threads: threads)
            }
        }
        return out
    }

    /// Dequantizes a block stream of `type` into `destination` (its count is the element count).
    ///
    /// - Parameters:
    ///   - source: the block stream: exactly `destination.count / blockSize` blocks.
    ///   - type: one of ``blockTypes``.
    ///   - destination: a multiple of the block size of floats; no alignment needed. On a throw
    ///     for a non-finite scale its contents are unspecified.
    ///   - allowNonFiniteScales: when false (the default), a block whose fp16 scale (`d`, and
    ///     `m` / `dmin` where the format has one) is NaN or ±Inf is refused; when true it is
    ///     decoded as the reference does (NaN or ±Inf outputs). Q8_1's `s` is never checked: it
    ///     is not used to dequantize and legitimately overflows to ±Inf.
    ///   - tier: a pinned ISA tier, or nil for the active one.
    ///   - threads: workers, >= 1.
    /// - Throws: `invalidArgument(name: "type")`; `invalidArgument(name: "elementCount")` when
    ///   `destination.count` is not a multiple of the block size; `corruptFile(path: nil,
    ///   section: "ggml blocks", reason:)` when the stream is shorter (truncated) or longer than
    ///   that many blocks (nothing is read out of bounds); `corruptFile(path: nil, section:
    ///   "block <i>", reason:)` for the first block with a non-finite scale;
    ///   `invalidArgument(name: "threads")`; `unsupported` when `tier` cannot run here.
    /// - Complexity: O(n), no allocation.
    public static func dequantize(_ source: UnsafeRawBufferPointer, as type: GGMLType,
                                  into destination: UnsafeMutableBufferPointer<Float>,
                                  allowNonFiniteScales: Bool = false, tier: ISALevel? = nil,
                                  threads: Int = activeProcessorCount) throws(KestrelError) {
        let kernel = try dequantizer(type, try KernelTable(tier).table)
        let bytes = try byteCount(of: type, elementCount: destination.count)
        guard source.count == bytes else {
            let what = source.count < bytes ? "truncated" : "over-long"
            throw .corruptFile(path: nil, section: "ggml blocks",
                               reason: "\(what) \(type) stream: \(source.count) bytes, \(destination.count) elements need \(bytes)")
        }
        guard threads >= 1 else { throw .invalidArgument(name: "threads", reason: "must be >= 1, got \(threads)") }
        guard let s = source.baseAddress, let d = destination.baseAddress, bytes > 0 else { return }
        // The workers touch disjoint blocks of the caller's buffers, which outlive the call.
        nonisolated(unsafe) let src = s, dst = d
        let qk = type.blockSize, bpb = type.bytesPerBlock
        let blockCount = destination.count / qk
        func refuse(_ block: Int, _ field: String) -> KestrelError {
            .corruptFile(path: nil, section: "block \(block)", reason: "fp16 scale \(field) of a \(type) block is NaN or infinite")
        }
        if threads == 1 || blockCount < 2 * Swift.max(1, parallelGrain / qk) {
            // Scales checked one piece ahead of its dequantization, while its blocks are in L1.
            let piece = Swift.max(1, pieceElements / qk)
            var b = 0
            while b < blockCount {
                let count = Swift.min(piece, blockCount - b)
                if !allowNonFiniteScales, let (block, field) = firstNonFiniteScale(src + b * bpb, count, type) {
                    throw refuse(b + block, field)
                }
                kernel(src + b * bpb, dst + b * qk, count * qk)
                b += count
            }
            return
        }
        if !allowNonFiniteScales, let (block, field) = firstNonFiniteScale(src, blockCount, type) {
            throw refuse(block, field)
        }
        try forEachBlockRange(blockCount, blockSize: qk, threads: threads) { blocks in
            kernel(src + blocks.lowerBound * bpb, dst + blocks.lowerBound * qk, blocks.count * qk)
        }
    }

    /// Dequantizes a block stream holding `elementCount` elements of `type` into a new array.
    /// - Throws: as ``dequantize(_:as:into:allowNonFiniteScales:tier:threads:)``.
    /// - Complexity: O(n); allocates the result only.
    public static func dequantize(_ source: [UInt8], as type: GGMLType, elementCount: Int,
                                  allowNonFiniteScales: Bool = false, tier: ISALevel? = nil,
                                  threads: Int = activeProcessorCount) throws(KestrelError) -> [Float] {
        _ = try byteCount(of: type, elementCount: elementCount)
        var out = [Float](repeating: 0, count: elementCount)
        try source.withUnsafeBufferPointer { (s) throws(KestrelError) in
            try out.withUnsafeMutableBufferPointer { (d) throws(KestrelError) in
                try dequantize(UnsafeRawBufferPointer(s), as: type, into: d, allowNonFiniteScales: allowNonFiniteScales, tier: tier, threads: threads)
            }
        }
        return out
    }

    // MARK: - Internals

    static func checkBlockType(_ type: GGMLType) throws(KestrelError) {
        guard blockTypes.contains(type) else {
            throw .invalidArgument(name: "type", reason: "\(type) is not a ggml block format (\(blockTypes.map(\.description)))")
        }
    }

    static func checkRows(_ count: Int, rowLength: Int, type: GGMLType) throws(KestrelError) {
        guard rowLength > 0, rowLength % type.blockSize == 0 else {
            throw .invalidArgument(name: "rowLength",
                                   reason: "\(rowLength) is not a positive multiple of \(type)'s block size \(type.blockSize)")
        }
        guard count % rowLength == 0 else { throw .dimensionMismatch(expected: [-1, rowLength], actual: [count]) }
    }

    typealias QuantizeKernel = @convention(c) (UnsafePointer<Float>?, UnsafeMutableRawPointer?, Int) -> Void
    typealias DequantizeKernel = @convention(c) (UnsafeRawPointer?, UnsafeMutablePointer<Float>?, Int) -> Void

    static func quantizer(_ type: GGMLType, _ t: kestrel_kernel_table) throws(KestrelError) -> QuantizeKernel {
        let f: QuantizeKernel?
        switch type {
        case .q8_0: f = t.quantize_q8_0
        case .q8_1: f = t.quantize_q8_1
        case .q4_0: f = t.quantize_q4_0
        case .q4_1: f = t.quantize_q4_1
        case .q5_0: f = t.quantize_q5_0
        case .q5_1: f = t.quantize_q5_1
        case .q4_K: f = t.quantize_q4_K
        case .q6_K: f = t.quantize_q6_K
        default: f = nil
        }
        guard let f else { try checkBlockType(type); throw .unsupported("\(type) quantizer") }
        return f
    }

    static func dequantizer(_ type: GGMLType, _ t: kestrel_kernel_table) throws(KestrelError) -> DequantizeKernel {
        let f: DequantizeKernel?
        switch type {
        case .q8_0: f = t.dequantize_q8_0
        case .q8_1: f = t.dequantize_q8_1
        case .q4_0: f = t.dequantize_q4_0
        case .q4_1: f = t.dequantize_q4_1
        case .q5_0: f = t.dequantize_q5_0
        case .q5_1: f = t.dequantize_q5_1
        case .q4_K: f = t.dequantize_q4_K
        case .q6_K: f = t.dequantize_q6_K
        default: f = nil
        }
        guard let f else { try checkBlockType(type); throw .unsupported("\(type) dequantizer") }
        return f
    }

    /// Runs `body` over `0..<blockCount` in chunks of at least `parallelGrain` elements.
    static func forEachBlockRange(_ blockCount: Int, blockSize: Int, threads: Int,
                                  _ body: @Sendable (Range<Int>) -> Void) throws(KestrelError) {
        let grainBlocks = Swift.max(1, parallelGrain / blockSize)
        if threads == 1 || blockCount < 2 * grainBlocks {
            body(0..<blockCount)
            return
        }
        // A few chunks per worker balance uneven cores without many scheduling steps.
        let chunk = Swift.max(grainBlocks, blockCount / (threads * 4))
        try parallelFor(0..<blockCount, threads: threads, grain: chunk, body)
    }

    /// Index of the first NaN or ±Inf in `x`, or nil. O(n).
    static func firstNonFinite(_ x: UnsafeBufferPointer<Float>) -> Int? {
        guard let p = x.baseAddress else { return nil }
        return firstNonFinite(p, x.count)
    }

    /// Index of the first NaN or ±Inf among `n` floats, or nil. A first pass per 4096 floats
    /// only ORs `(bits & exponent) + 2^23`, whose bit 31 is set exactly for an all-ones exponent:
    /// and/add/or with no branch, which the compiler vectorizes with plain SSE2 / NEON.
    static func firstNonFinite(_ p: UnsafePointer<Float>, _ n: Int) -> Int? {
        let exp: UInt32 = 0x7f80_0000
        let bits = UnsafeRawPointer(p).assumingMemoryBound(to: UInt32.self)
        var start = 0
        while start < n {
            let end = Swift.min(n, start + 4096)
            var flags: UInt32 = 0
            for i in start..<end { flags |= (bits[i] & exp) &+ 0x0080_0000 }
            if flags & 0x8000_0000 != 0 {
                for i in start..<end where bits[i] & exp == exp { return i }
            }
            start = end
        }
        return nil
    }

    /// The first block (and field name) whose fp16 scale is NaN or ±Inf, or nil. O(blocks),
    /// no allocation unless a bad scale is found.
    static func firstNonFiniteScale(_ p: UnsafeRawPointer, _ blockCount: Int, _ type: GGMLType) -> (Int, String)? {
        // Byte offsets of the fp16 scales that dequantization uses (-1: none).
        let (first, second): (Int, Int)
        switch type {
        case .q4_1, .q5_1, .q4_K: (first, second) = (0, 2)
        case .q6_K: (first, second) = (208, -1)
        default: (first, second) = (0, -1)
        }
        let bpb = type.bytesPerBlock
        func bad(_ offset: Int) -> Bool {
            // fp16 exponent all ones (the high byte's bits 2-6): Inf or NaN.
            p.load(fromByteOffset: offset + 1, as: UInt8.self) & 0x7c == 0x7c
        }
        for b in 0..<blockCount {
            if bad(b * bpb + first) { return (b, "d") }
            if second >= 0, bad(b * bpb + second) { return (b, type == .q4_K ? "dmin" : "m") }
        }
        return nil
    }
}

/// The smallest index offered by concurrent workers (the first non-finite value).
final class FirstIndex: @unchecked Sendable {  // guarded by `lock`
    private let lock = PlainLock()
    private var best: Int?

    func offer(_ i: Int) { lock.withLock { if best.map({ i < $0 }) ?? true { best = i } } }

    var value: Int? { lock.withLock { best } }
}
