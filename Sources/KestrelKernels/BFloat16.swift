/// A bfloat16 value stored as its 16-bit pattern: the top half of an IEEE binary32 (sign,
/// 8 exponent bits, 7 fraction bits).
///
/// A storage type, not an arithmetic one: convert to `Float` to compute. Conversions from
/// `Float` round to nearest even and keep NaN a (quiet) NaN, exactly as the C kernels do
/// (``Conversion/bfloat16(_:tier:)`` converts whole arrays on the SIMD tiers).
/// Thread-safety: a value type, `Sendable`.
public struct BFloat16: BitwiseCopyable, Sendable, Hashable, CustomStringConvertible {
    /// The raw bits.
    public var bitPattern: UInt16

    /// Wraps raw bits. O(1).
    public init(bitPattern: UInt16) { self.bitPattern = bitPattern }

    /// Rounds `value` to the nearest bfloat16 (ties to even); NaN becomes a quiet NaN with
    /// the same sign, ±Inf and overflow past the largest finite bfloat16 become ±Inf. O(1).
    public init(_ value: Float) {
        let bits = value.bitPattern
        if value.isNaN {
            bitPattern = UInt16(truncatingIfNeeded: bits >> 16) | 0x0040
        } else {
            let roundingBias: UInt32 = 0x7fff + ((bits >> 16) & 1)
            bitPattern = UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
        }
    }

    /// The exact `Float` value (the bits shifted left by 16). O(1).
    public var floatValue: Float { Float(bitPattern: UInt32(bitPattern) << 16) }

    /// The value as `Float` renders it.
    public var description: String { floatValue.description }
}

extension Float {
    /// The exact value of a bfloat16. O(1).
    public init(_ value: BFloat16) { self = value.floatValue }
}
