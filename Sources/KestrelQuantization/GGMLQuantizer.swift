import KestrelKernels

/// A ``Quantizer`` that writes ggml tensor data: the eight block formats of ``GGMLBlocks``
/// (bit-exact with ggml's reference quantizers) or plain f32 / f16 / bf16 storage.
///
/// The last axis of a tensor is its row: for a block format its extent must be a multiple of
/// the block size (32, or 256 for Q4_K / Q6_K), as ggml requires. The payload is the rows' blocks
/// back to back (f32/f16/bf16: the little-endian element bytes), exactly what a GGUF file stores
/// for a tensor of that type.
///
/// Value type holding only its configuration: `Sendable`, usable from any thread.
public struct GGMLQuantizer: Quantizer, Hashable {
    /// The ggml type written and read.
    public let type: GGMLType
    /// Pinned ISA tier, or nil for the active one (tests pin tiers; results are identical).
    public var tier: ISALevel?
    /// Worker threads for large tensors (>= 1); see ``GGMLBlocks``.
    public var threads: Int
    /// Whether ``dequantize(_:)`` decodes blocks whose fp16 scale is NaN or ±Inf (to NaN / ±Inf
    /// values) instead of throwing.
    public var allowNonFiniteScales: Bool

    /// A quantizer for `type`.
    /// - Throws: `invalidArgument(name: "type")` for q8_K (an activation-only type with no
    ///   reference quantizer here); `invalidArgument(name: "threads")` when below 1.
    public init(_ type: GGMLType, tier: ISALevel? = nil, threads: Int = activeProcessorCount,
                allowNonFiniteScales: Bool = false) throws(KestrelError) {
        guard type != .q8_K else { throw .invalidArgument(name: "type", reason: "q8_k is not supported") }
        guard threads >= 1 else { throw .invalidArgument(name: "threads", reason: "must be >= 1, got \(threads)") }
        self.type = type
        self.tier = tier
        self.threads = threads
        self.allowNonFiniteScales = allowNonFiniteScales
    }

    /// `.ggml(type)`.
    public var format: QuantizationFormat { .ggml(type) }

    /// f16 and bf16 are ``HalfPrecisionQuantizer``'s (one implementation of the 16-bit types).
    private var halfPrecision: HalfPrecisionQuantizer? {
        get throws(KestrelError) { type == .f16 || type == .bf16 ? try HalfPrecisionQuantizer(type) : nil }
    }

    /// Quantizes `x` (any floating dtype; converted to f32 first, exactly for f16/bf16). The f16 and
    /// bf16 types are ``HalfPrecisionQuantizer``'s: a finite value that would round to ±Inf throws
    /// there instead of being stored as infinity (round to nearest even otherwise, as the tensor
    /// core converts).
    /// - Throws: `nonFiniteValue(index:)` with the flat row-major index of the first NaN/±Inf;
    ///   `invalidArgument(name: "shape")` for a rank-0 tensor or a last axis that is not a
    ///   multiple of the block size; `invalidArgument(name: "dtype")` for an integer tensor;
    ///   `capacityExceeded` when the payload size overflows or cannot be allocated.
    /// - Complexity: O(n) time; O(n) memory for the payload (plus an f32 copy of a non-f32 or
    ///   non-contiguous input).
    public func quantize(_ x: Tensor) throws(KestrelError) -> QuantizedTensor {
        if let half = try halfPrecision { return try half.quantize(x) }
        guard x.dtype.isFloatingPoint else {
            throw .invalidArgument(name: "dtype", reason: "\(x.dtype) tensors cannot be quantized")
        }
        let shape = x.shape.dims
        let bytes = try quantizedByteCount(shape: shape)
        let f32 = try x.converted(to: .f32)
        var data = [UInt8](repeating: 0, count: bytes)
        try f32.withUnsafeBufferPointer { (src) throws(KestrelError) in
            if let bad = GGMLBlocks.firstNonFinite(src) { throw .nonFiniteValue(index: bad) }
            try data.withUnsafeMutableBufferPointer { (dst) throws(KestrelError) in
                try write(src, into: UnsafeMutableRawBufferPointer(dst), rowLength: shape.last ?? 1)
            }
        }
        return QuantizedTensor(shape: shape, format: format, data: data)
    }

    /// Dequantizes to an f32 tensor of `q.shape`.
    /// - Throws: `invalidArgument(name: "format")` when `q.format` is not `.ggml(type)`;
    ///   `invalidArgument(name: "shape")` when the shape cannot hold this type;
    ///   `corruptFile(path: nil, section: "ggml blocks", ...)` when the payload is shorter or
    ///   longer than the shape needs; `corruptFile(path: nil, section: "block <i>", ...)` for a
    ///   non-finite block scale unless ``allowNonFiniteScales``.
    /// - Complexity: O(n) time and memory.
    public func dequantize(_ q: QuantizedTensor) throws(KestrelError) -> Tensor {
        if let half = try halfPrecision { return try half.dequantize(q) }
        guard q.format == format else {
            throw .invalidArgument(name: "format", reason: "expected \(format), got \(q.format)")
        }
        let bytes = try quantizedByteCount(shape: q.shape)
        guard q.data.count == bytes else {
            throw .corruptFile(path: nil, section: "ggml blocks",
                               reason: "\(q.data.count < bytes ? "truncated" : "over-long") \(type) payload: \(q.data.count) bytes, shape \(q.shape) needs \(bytes)")
        }
        var out = try Tensor.zeros(q.shape)
        try q.data.withUnsafeBufferPointer { (src) throws(KestrelError) in
            try out.withUnsafeMutableBufferPointer { (dst) throws(KestrelError) in
                try read(UnsafeRawBufferPointer(src), into: dst)
            }
        }
        return out
    }

    /// Bytes of the payload for a tensor of `shape`: blocks × bytes per block (f32: 4n,
    /// f16/bf16: 2n). O(rank).
    /// - Throws: `invalidArgument(name: "shape")` for a negative extent, a rank-0 shape, or a last
    ///   axis that is not a multiple of the block size; `capacityExceeded(limit:requested: Int.max)`
    ///   when the element or byte count overflows `Int`.
    public func quantizedByteCount(shape: [Int]) throws(KestrelError) -> Int {
        if let half = try halfPrecision { return try half.quantizedByteCount(shape: shape) }
        guard let row = shape.last else {
            throw .invalidArgument(name: "shape", reason: "a rank-0 tensor has no row to cut into \(type) blocks")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw .invalidArgument(name: "shape", reason: "negative extent in \(shape)") }
        guard row % type.blockSize == 0 else {
            throw .invalidArgument(name: "shape",
                                   reason: "last axis \(row) is not a multiple of \(type)'s block size \(type.blockSize)")
        }
        let n = try SizeCheck.product(shape)
        return try SizeCheck.product(n / type.blockSize, type.bytesPerBlock)
    }

    private func write(_ src: UnsafeBufferPointer<Float>, into dst: UnsafeMutableRawBufferPointer,
                       rowLength: Int) throws(KestrelError) {
        guard !src.isEmpty else { return }
        switch type {
        case .f32:
            dst.copyMemory(from: UnsafeRawBufferPointer(src))  // little-endian, as GGUF
        default:
            try GGMLBlocks.quantize(src, rowLength: rowLength, as: type, into: dst, tier: tier, threads: threads)
        }
    }

    private func read(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableBufferPointer<Float>) throws(KestrelError) {
        guard !dst.isEmpty else { return }
        switch type {
        case .f32:
            UnsafeMutableRawBufferPointer(dst).copyMemory(from: src)
        default:
            try GGMLBlocks.dequantize(src, as: type, into: dst, allowNonFiniteScales: allowNonFiniteScales,
                                      tier: tier, threads: threads)
        }
    }
}
