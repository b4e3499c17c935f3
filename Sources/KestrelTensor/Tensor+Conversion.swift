import CKestrelKernels

extension Tensor {
    /// The tensor converted to `target`, as a new contiguous tensor (a contiguous `self` is
    /// returned unchanged when `target == dtype`).
    ///
    /// f32 <-> f16/bf16 use the C kernels (`kestrel_f32_to_f16`, ... : round to nearest even,
    /// bit-identical at every ISA tier, NaN stays NaN, overflow becomes ±Inf). To int8/uint8,
    /// values round to nearest even and saturate to the type's range. Conversions between two
    /// non-f32 types go through f32 (exact widening first, so only one rounding).
    /// - Throws: `KestrelError.nonFiniteValue` (flat row-major index) when a NaN/Inf would go
    ///   to an integer type; `KestrelError.capacityExceeded` when allocation fails.
    /// - Complexity: O(n) time; O(n) memory (plus one f32 temporary for non-f32 pairs).
    public func converted(to target: DType) throws(KestrelError) -> Tensor {
        if target == dtype { return try contiguous() }
        let src = try contiguous()
        let n = shape.elementCount
        if dtype != .f32 && target != .f32 {
            return try src.converted(to: .f32).converted(to: target)
        }
        let out = try Tensor(allocating: shape, dtype: target, zeroed: false)
        if n == 0 { return out }
        defer { withExtendedLifetime(src) {} }  // `from` points into src's storage
        let from = src.elementBase
        let to = out.storage.baseAddress
        switch (dtype, target) {
        case (.f32, .f16):
            kestrel_f32_to_f16(from.assumingMemoryBound(to: Float.self), to.assumingMemoryBound(to: UInt16.self), n)
        case (.f32, .bf16):
            kestrel_f32_to_bf16(from.assumingMemoryBound(to: Float.self), to.assumingMemoryBound(to: UInt16.self), n)
        case (.f16, .f32):
            kestrel_f16_to_f32(from.assumingMemoryBound(to: UInt16.self), to.assumingMemoryBound(to: Float.self), n)
        case (.bf16, .f32):
            kestrel_bf16_to_f32(from.assumingMemoryBound(to: UInt16.self), to.assumingMemoryBound(to: Float.self), n)
        case (.f32, .int8):
            let s = from.assumingMemoryBound(to: Float.self)
            let d = to.assumingMemoryBound(to: Int8.self)
            for i in 0..<n { d[i] = try ElementCodec.int8(s[i], index: i) }
        case (.f32, .uint8):
            let s = from.assumingMemoryBound(to: Float.self)
            let d = to.assumingMemoryBound(to: UInt8.self)
            for i in 0..<n { d[i] = try ElementCodec.uint8(s[i], index: i) }
        case (.int8, .f32):
            let s = from.assumingMemoryBound(to: Int8.self)
            let d = to.assumingMemoryBound(to: Float.self)
            for i in 0..<n { d[i] = Float(s[i]) }
        case (.uint8, .f32):
            let s = from.assumingMemoryBound(to: UInt8.self)
            let d = to.assumingMemoryBound(to: Float.self)
            for i in 0..<n { d[i] = Float(s[i]) }
        default:
            // Every pair without f32 was routed through f32 above.
            throw .unsupported("conversion \(dtype) -> \(target)")
        }
        return out
    }

    /// `self` as f32: no copy when already contiguous f32, else converted/gathered.
    func contiguousF32() throws(KestrelError) -> Tensor {
        dtype == .f32 ? try contiguous() : try converted(to: .f32)
    }
}
