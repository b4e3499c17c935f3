import CKestrelKernels
import KestrelKernels
import Synchronization

/// A row-major weight matrix kept quantized and multiplied by float vectors with the quantized
/// kernels (`kestrel_gemv_q8_0` … in `kestrel_kernels.h`, dispatched to the best ISA tier).
///
/// Weights are either ggml blocks (Q8_0, Q4_0, Q4_K, Q6_K: each row is `columns / blockSize`
/// blocks back to back, exactly as a GGUF tensor stores them) or int8 codes with one scale per
/// row. ``gemv(x:into:threads:)`` quantizes the activation vector once per call (Q8_0 for Q8_0 and
/// Q4_0 weights, Q8_K for the K-quants, symmetric int8 for int8 weights), then runs integer dot
/// products, so its result is the product of the *quantized* operands: it matches a double-precision
/// product of the dequantized weights and dequantized activations within
/// `(blocks + 4) · 2⁻²³ · Σ|wᵢ xᵢ|` per row (int8 weights: bit-exact with any tier).
///
/// Value type holding immutable storage: thread-safe to share and to call from several threads.
public struct QuantizedMatrix: Sendable {
    /// How the weights are stored.
    public enum Weights: Sendable, Hashable {
        /// ggml blocks of this type (one of ``QuantizedMatrix/supportedBlockTypes``).
        case blocks(GGMLType)
        /// int8 codes with one f32 scale per row: w[r][c] = rowScales[r] · codes[r · columns + c].
        case int8
    }

    /// Block types whose rows ``QuantizedMatrix`` can multiply.
    public static let supportedBlockTypes: [GGMLType] = [.q8_0, .q4_0, .q4_K, .q6_K]

    /// Largest column count of int8 weights (`KESTREL_QGEMV_MAX_COLS`, 65,536: int32 sums never wrap).
    public static let maxInt8Columns = Int(KESTREL_QGEMV_MAX_COLS)

    /// Number of rows (outputs of ``gemv(x:into:threads:)``).
    public let rows: Int
    /// Number of columns (length of the activation vector).
    public let columns: Int
    /// The storage format.
    public let weights: Weights
    /// Block bytes (`.blocks`) or int8 codes as bytes (`.int8`), row after row.
    let payload: [UInt8]
    /// Per-row scales (`.int8` only; empty otherwise).
    let rowScales: [Float]

    /// Weights as ggml blocks, row-major (`rows` rows of `columns / type.blockSize` blocks).
    /// - Parameters:
    ///   - rows: rows, >= 0.
    ///   - columns: columns, >= 0 and a multiple of `type.blockSize` (32, or 256 for Q4_K/Q6_K).
    ///   - type: one of ``supportedBlockTypes``.
    ///   - blocks: exactly `rows · columns / blockSize · bytesPerBlock` bytes (copied, not validated
    ///     further: any bytes are valid blocks; non-finite fp16 scales give non-finite results).
    /// - Throws: `invalidArgument` (name `"type"`, `"rows"`, `"columns"`) for an unsupported type, a
    ///   negative extent or a row length that is not a multiple of the block size;
    ///   `capacityExceeded` when the byte count overflows; `dimensionMismatch(expected: [bytes],
    ///   actual: [blocks.count])` for a payload of the wrong size.
    /// - Complexity: O(bytes) (one copy-on-write reference, no copy of an array value).
    public init(rows: Int, columns: Int, type: GGMLType, blocks: [UInt8]) throws(KestrelError) {
        guard Self.supportedBlockTypes.contains(type) else {
            throw .invalidArgument(name: "type", reason: "\(type) weights have no quantized dot product (q8_0, q4_0, q4_k, q6_k)")
        }
        try Self.checkExtents(rows: rows, columns: columns)
        guard columns % type.blockSize == 0 else {
            throw .invalidArgument(name: "columns", reason: "\(columns) is not a multiple of the \(type) block size \(type.blockSize)")
        }
        let bytes = try SizeCheck.product(rows, columns / type.blockSize, type.bytesPerBlock)
        guard blocks.count == bytes else { throw .dimensionMismatch(expected: [bytes], actual: [blocks.count]) }
        self.rows = rows
        self.columns = columns
        self.weights = .blocks(type)
        self.payload = blocks
        self.rowScales = []
    }

    /// Weights as int8 codes with one scale per row.
    /// - Parameters:
    ///   - codes: `rows · columns` codes, row-major (any int8 value, -128 included).
    ///   - rowScales: `rows` finite scales.
    /// - Throws: `invalidArgument` for negative extents; `capacityExceeded(limit: maxInt8Columns,
    ///   requested: columns)` for too many columns, or when `rows · columns` overflows;
    ///   `dimensionMismatch` when `codes` or `rowScales` has the wrong length; `nonFiniteValue(index:)`
    ///   for a NaN/Inf scale (its row index).
    /// - Complexity: O(rows · columns) (one copy of the codes).
    public init(rows: Int, columns: Int, codes: [Int8], rowScales: [Float]) throws(KestrelError) {
        try Self.checkExtents(rows: rows, columns: columns)
        guard columns <= Self.maxInt8Columns else {
            throw .capacityExceeded(limit: Self.maxInt8Columns, requested: columns)
        }
        let count = try SizeCheck.product(rows, columns)
        guard codes.count == count else { throw .dimensionMismatch(expected: [rows, columns], actual: [codes.count]) }
        guard rowScales.count == rows else { throw .dimensionMismatch(expected: [rows], actual: [rowScales.count]) }
        if let bad = rowScales.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteValue(index: bad) }
        self.rows = rows
        self.columns = columns
        self.weights = .int8
        self.payload = codes.withUnsafeBytes { [UInt8]($0) }
        self.rowScales = rowScales
    }

    private static func checkExtents(rows: Int, columns: Int) throws(KestrelError) {
        guard rows >= 0 else { throw .invalidArgument(name: "rows", reason: "\(rows) is negative") }
        guard columns >= 0 else { throw .invalidArgument(name: "columns", reason: "\(columns) is negative") }
    }

    /// The activation-side block type ``gemv(x:into:threads:)`` quantizes `x` to: Q8_0 for Q8_0 and
    /// Q4_0 weights, Q8_K for Q4_K and Q6_K, nil for int8 weights (symmetric per-vector int8).
    public var activationType: GGMLType? {
        switch weights {
        case .blocks(.q4_K), .blocks(.q6_K): .q8_K
        case .blocks: .q8_0
        case .int8: nil
        }
    }

    /// Payload bytes (blocks or codes; int8 row scales not included).
    public var byteCount: Int { payload.count }

    /// y = W · x with the quantized kernels.
    ///
    /// `x` is quantized once per call: Q8_0 (ggml's reference quantizer, bit-exact with model
    /// files' rounding), Q8_K (Kestrel's rounding, `kestrel_quantize_row_q8_K`), or for int8
    /// weights symmetric int8 with scale max|x| / 127 and codes rounded half away from zero
    /// (an all-zero x gives y = 0).
    /// - Parameters:
    ///   - x: `columns` finite floats.
    ///   - y: resized to `rows` when its count differs (no allocation when it already fits).
    ///   - threads: workers over row ranges, >= 1 (1 stays on the caller).
    /// - Throws: `dimensionMismatch(expected: [columns], actual: [x.count])`; `nonFiniteValue(index:)`
    ///   for the first NaN/Inf in x; `invalidArgument(name: "threads")` below 1.
    /// - Complexity: O(rows · columns) time; O(columns) extra memory for the quantized activations.
    public func gemv(x: [Float], into y: inout [Float], threads: Int = 1) throws(KestrelError) {
        guard x.count == columns else { throw .dimensionMismatch(expected: [columns], actual: [x.count]) }
        guard threads >= 1 else { throw .invalidArgument(name: "threads", reason: "\(threads) is below 1") }
        if let bad = x.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteValue(index: bad) }
        if y.count != rows { y = [Float](repeating: 0, count: rows) }
        guard rows > 0 else { return }
        switch weights {
        case .blocks(let type):
            if type == .q4_K || type == .q6_K {
                var act = [kestrel_block_q8_K](repeating: kestrel_block_q8_K(), count: columns / 256)
                x.withUnsafeBufferPointer { kestrel_quantize_row_q8_K($0.baseAddress, &act, columns) }
                let st = act.withUnsafeBytes { run(type, activations: $0, into: &y, threads: threads) }
                if let st { throw .backendFailure(routine: "kestrel_gemv_\(type)", code: Int(st.rawValue)) }
            } else {
                var act = [kestrel_block_q8_0](repeating: kestrel_block_q8_0(), count: columns / 32)
                x.withUnsafeBufferPointer { kestrel_quantize_act_q8_0($0.baseAddress, &act, columns) }
                let st = act.withUnsafeBytes { run(type, activations: $0, into: &y, threads: threads) }
                if let st { throw .backendFailure(routine: "kestrel_gemv_\(type)", code: Int(st.rawValue)) }
            }
        case .int8:
            let (codes, scale) = Self.quantizeSymmetricInt8(x)
            try gemv(codes: codes, scale: scale, into: &y, threads: threads)
        }
    }

    /// y = W · (scale · codes) for int8 weights, with exact int32 sums: y[r] =
    /// (rowScales[r] · scale) · Float(Σ w[r][c] · codes[c]), bit-identical at every ISA tier.
    /// - Throws: `invalidArgument(name: "weights")` for block weights; `dimensionMismatch` when
    ///   `codes.count != columns`; `nonFiniteValue(index: 0)` for a non-finite scale;
    ///   `invalidArgument(name: "threads")` below 1.
    /// - Complexity: O(rows · columns), no allocation when `y` already holds `rows` elements.
    public func gemv(codes: [Int8], scale: Float, into y: inout [Float], threads: Int = 1) throws(KestrelError) {
        guard weights == .int8 else {
            throw .invalidArgument(name: "weights", reason: "int8 activations need int8 weights; this matrix holds \(weights)")
        }
        guard codes.count == columns else { throw .dimensionMismatch(expected: [columns], actual: [codes.count]) }
        guard scale.isFinite else { throw .nonFiniteValue(index: 0) }
        guard threads >= 1 else { throw .invalidArgument(name: "threads", reason: "\(threads) is below 1") }
        if y.count != rows { y = [Float](repeating: 0, count: rows) }
        guard rows > 0 else { return }
        let cols = columns
        let failed: kestrel_status? = payload.withUnsafeBytes { w in
            codes.withUnsafeBufferPointer { xb in
                rowScales.withUnsafeBufferPointer { rs in
                    y.withUnsafeMutableBufferPointer { yb -> kestrel_status? in
                        let wa = UInt(bitPattern: w.baseAddress), xa = UInt(bitPattern: xb.baseAddress)
                        let ra = UInt(bitPattern: rs.baseAddress), ya = UInt(bitPattern: yb.baseAddress)
                        return forRowRanges(threads: threads) { r in
                            let wp = UnsafePointer<Int8>(bitPattern: wa).map { $0 + r.lowerBound * cols }
                            let rp = UnsafePointer<Float>(bitPattern: ra).map { $0 + r.lowerBound }
                            let yp = UnsafeMutablePointer<Float>(bitPattern: ya).map { $0 + r.lowerBound }
                            return kestrel_gemv_i8(wp, r.count, cols, cols, rp, UnsafePointer(bitPattern: xa), scale, yp)
                        }
                    }
                }
            }
        }
        if let st = failed { throw .backendFailure(routine: "kestrel_gemv_i8", code: Int(st.rawValue)) }
    }

    /// Runs the block GEMV of `type` over row ranges on `threads` workers; the first failing status, if any.
    private func run(_ type: GGMLType, activations: UnsafeRawBufferPointer, into y: inout [Float],
                     threads: Int) -> kestrel_status? {
        let nb = columns / type.blockSize, rowBytes = nb * type.bytesPerBlock
        let xa = UInt(bitPattern: activations.baseAddress)
        return payload.withUnsafeBytes { w in
            y.withUnsafeMutableBufferPointer { yb in
                let wa = UInt(bitPattern: w.baseAddress), ya = UInt(bitPattern: yb.baseAddress)
                return forRowRanges(threads: threads) { r in
                    let wp = UnsafeRawPointer(bitPattern: wa).map { $0 + r.lowerBound * rowBytes }
                    let xp = UnsafeRawPointer(bitPattern: xa)
                    let yp = UnsafeMutablePointer<Float>(bitPattern: ya).map { $0 + r.lowerBound }
                    switch type {
                    case .q8_0:
                        return kestrel_gemv_q8_0(wp?.assumingMemoryBound(to: kestrel_block_q8_0.self), r.count, nb,
                                                 xp?.assumingMemoryBound(to: kestrel_block_q8_0.self), yp)
                    case .q4_0:
                        return kestrel_gemv_q4_0(wp?.assumingMemoryBound(to: kestrel_block_q4_0.self), r.count, nb,
                                                 xp?.assumingMemoryBound(to: kestrel_block_q8_0.self), yp)
                    case .q4_K:
                        return kestrel_gemv_q4_K(wp?.assumingMemoryBound(to: kestrel_block_q4_K.self), r.count, nb,
                                                 xp?.assumingMemoryBound(to: kestrel_block_q8_K.self), yp)
                    default:
                        return kestrel_gemv_q6_K(wp?.assumingMemoryBound(to: kestrel_block_q6_K.self), r.count, nb,
                                                 xp?.assumingMemoryBound(to: kestrel_block_q8_K.self), yp)
                    }
                }
            }
        }
    }

    /// Calls `body` on disjoint row ranges covering 0..<rows (one range when threads == 1) and
    /// returns the first non-OK status, if any. `threads` >= 1 (checked by the callers).
    private func forRowRanges(threads: Int, _ body: @escaping @Sendable (Range<Int>) -> kestrel_status) -> kestrel_status? {
        if threads == 1 || rows < 64 {
            let st = body(0..<rows)
            return st == KESTREL_OK ? nil : st
        }
        let grain = max(16, (rows + 4 * threads - 1) / (4 * threads))
        let firstError = Mutex<kestrel_status?>(nil)
        do {
            try parallelFor(0..<rows, threads: threads, grain: grain) { r in
                let st = body(r)
                if st != KESTREL_OK { firstError.withLock { if $0 == nil { $0 = st } } }
            }
        } catch {
            return KESTREL_ERR_INVALID_ARGUMENT  // unreachable: threads and grain are >= 1
        }
        return firstError.withLock { $0 }
    }

    /// Symmetric per-vector int8: scale = max|x| / 127, codes = round-half-away(x · 127 / max|x|)
    /// clamped to ±127 (never -128, so the x86 sign trick applies); all zeros for max|x| = 0.
    package static func quantizeSymmetricInt8(_ x: [Float]) -> (codes: [Int8], scale: Float) {
        let amax = x.reduce(Float(0)) { max($0, abs($1)) }
        guard amax > 0 else { return ([Int8](repeating: 0, count: x.count), 0) }
        let inv = 127 / amax
        guard inv.isFinite else { return ([Int8](repeating: 0, count: x.count), 0) }
        let codes = x.map { v -> Int8 in Int8(max(-127, min(127, (v * inv).rounded()))) }
        return (codes, amax / 127)
    }
}
