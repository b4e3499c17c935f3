import CKestrelKernels

/// Scalar conversions between f32 and the storage types, matching the C conversion kernels.
enum ElementCodec {
    /// f32 -> f16/bf16 bits with round-to-nearest-even (the C kernel, so bits agree with bulk conversion).
    static func encode16(_ value: Float, _ dtype: DType) throws(KestrelError) -> UInt16 {
        var v = value
        var out: UInt16 = 0
        switch dtype {
        case .f16: kestrel_f32_to_f16(&v, &out, 1)
        case .bf16: kestrel_f32_to_bf16(&v, &out, 1)
        default: throw .invalidArgument(name: "dtype", reason: "\(dtype) is not a 16-bit float type")
        }
        return out
    }

    /// f16/bf16 bits -> f32 (exact).
    static func decode16(_ bits: UInt16, _ dtype: DType) -> Float {
        var b = bits
        var out: Float = 0
        if dtype == .bf16 { kestrel_bf16_to_f32(&b, &out, 1) } else { kestrel_f16_to_f32(&b, &out, 1) }
        return out
    }

    /// Round to nearest even, saturate to [-128, 127]; NaN/Inf throw (reporting `index`).
    static func int8(_ value: Float, index: Int) throws(KestrelError) -> Int8 {
        guard value.isFinite else { throw .nonFiniteValue(index: index) }
        let r = value.rounded(.toNearestOrEven)
        return Int8(Swift.min(Swift.max(r, -128), 127))
    }

    /// Round to nearest even, saturate to [0, 255]; NaN/Inf throw (reporting `index`).
    static func uint8(_ value: Float, index: Int) throws(KestrelError) -> UInt8 {
        guard value.isFinite else { throw .nonFiniteValue(index: index) }
        let r = value.rounded(.toNearestOrEven)
        return UInt8(Swift.min(Swift.max(r, 0), 255))
    }

    /// Reads the element at `p` as f32.
    static func load(_ p: UnsafeRawPointer, _ dtype: DType) -> Float {
        switch dtype {
        case .f32: return p.load(as: Float.self)
        case .f16, .bf16: return decode16(p.load(as: UInt16.self), dtype)
        case .int8: return Float(p.load(as: Int8.self))
        case .uint8: return Float(p.load(as: UInt8.self))
        }
    }

    /// Writes `value` converted to `dtype` at `p`.
    static func store(_ value: Float, _ p: UnsafeMutableRawPointer, _ dtype: DType, index: Int) throws(KestrelError) {
        switch dtype {
        case .f32: p.storeBytes(of: value, as: Float.self)
        case .f16, .bf16: p.storeBytes(of: try encode16(value, dtype), as: UInt16.self)
        case .int8: p.storeBytes(of: try int8(value, index: index), as: Int8.self)
        case .uint8: p.storeBytes(of: try uint8(value, index: index), as: UInt8.self)
        }
    }
}
