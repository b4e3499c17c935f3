import CKestrelKernels

/// f16 (IEEE binary16) or bf16 storage as a ``Quantizer``, through the tensor core's SIMD
/// conversion kernels (round to nearest even, bit-identical at every ISA tier).
///
/// Payload: one little-endian 16-bit value per element, row-major (format `.ggml(.f16)` or
/// `.ggml(.bf16)`, as GGUF stores them). Value type; thread-safe.
public struct HalfPrecisionQuantizer: Quantizer {
    /// `.f16` or `.bf16`.
    public let type: GGMLType

    /// - Throws: `invalidArgument` for a type other than `.f16` and `.bf16`.
    public init(_ type: GGMLType) throws(KestrelError) {
        guard type == .f16 || type == .bf16 else {
            throw .invalidArgument(name: "type", reason: "half precision is f16 or bf16, got \(type)")
        }
        self.type = type
    }

    /// `.ggml(type)`.
    public var format: QuantizationFormat { .ggml(type) }

    /// `2 · n` bytes. - Throws: `invalidArgument` for a negative extent, `capacityExceeded` on overflow.
    public func quantizedByteCount(shape: [Int]) throws(KestrelError) -> Int {
        try SizeCheck.product(shape + [2])
    }

    private var exponentMask: UInt16 { type == .f16 ? 0x7C00 : 0x7F80 }

    /// Rounds every element to the 16-bit type. O(n).
    /// - Throws: `nonFiniteValue(index:)` for the first NaN/Inf of the input; `invalidArgument` (name
    ///   "x") for the first finite value too large for the type (|x| ≥ 65520 for f16, beyond
    ///   ≈ 3.39e38 for bf16), which would round to infinity.
    public func quantize(_ x: Tensor) throws(KestrelError) -> QuantizedTensor {
        let n = try quantizedByteCount(shape: x.shape.dims) / 2
        let src = x.dtype == .f32 ? x : try x.converted(to: .f32)
        var data = [UInt8](repeating: 0, count: 2 * n)
        guard n > 0 else { return QuantizedTensor(shape: x.shape.dims, format: format, data: data) }
        try src.withUnsafeBufferPointer { (b: UnsafeBufferPointer<Float>) throws(KestrelError) in
            if let i = IntegerQuantizer.firstNonFinite(b.baseAddress!, count: n) { throw .nonFiniteValue(index: i) }
            let overflow: Int? = data.withUnsafeMutableBytes { raw in
                let h = raw.baseAddress!.assumingMemoryBound(to: UInt16.self)
                if type == .f16 { kestrel_f32_to_f16(b.baseAddress!, h, n) } else { kestrel_f32_to_bf16(b.baseAddress!, h, n) }
                let mask = exponentMask
                #if _endian(big)
                for i in 0..<n { h[i] = h[i].littleEndian }
                #endif
                return (0..<n).first { UInt16(littleEndian: h[$0]) & mask == mask }
            }
            if let i = overflow { throw .invalidArgument(name: "x", reason: "element \(i) = \(b[i]) overflows \(type)") }
        }
        return QuantizedTensor(shape: x.shape.dims, format: format, data: data)
    }

    /// Widens back to f32 (exact). O(n).
    /// - Throws: `invalidArgument` for another format or an invalid shape; `corruptFile` (section
    ///   "half payload") for a byte count other than `2 · n` or a NaN/Inf value.
    public func dequantize(_ q: QuantizedTensor) throws(KestrelError) -> Tensor {
        guard q.format == format else {
            throw .invalidArgument(name: "format", reason: "payload is \(q.format), this quantizer reads \(format)")
        }
        let bytes = try quantizedByteCount(shape: q.shape)
        guard q.data.count == bytes else {
            throw .corruptFile(path: nil, section: "half payload", reason: "\(q.data.count) bytes, shape \(q.shape) needs \(bytes)")
        }
        var out = try Tensor.zeros(q.shape)
        let n = bytes / 2
        guard n > 0 else { return out }
        var halves = [UInt16](repeating: 0, count: n)
        q.data.withUnsafeBytes { raw in
            for i in 0..<n { halves[i] = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        }
        let mask = exponentMask
        if let i = halves.firstIndex(where: { $0 & mask == mask }) {
            throw .corruptFile(path: nil, section: "half payload", reason: "element \(i) is not finite")
        }
        try out.withUnsafeMutableBufferPointer { (o: UnsafeMutableBufferPointer<Float>) throws(KestrelError) in
            halves.withUnsafeBufferPointer { h in
                if type == .f16 { kestrel_f16_to_f32(h.baseAddress!, o.baseAddress!, n) } else { kestrel_bf16_to_f32(h.baseAddress!, o.baseAddress!, n) }
            }
        }
        return out
    }
}
