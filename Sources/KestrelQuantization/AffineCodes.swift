/// The package's one scalar (affine) quantization rule, shared by ``IntegerQuantizer`` and
/// KestrelVectorIndex's int8 codec so both write the same bits:
///
///     q = clamp(roundHalfEven((x − offset) · inverseStep) + zeroPoint, lower, upper)
///
/// computed in f32 (one subtraction when there is an offset, one multiplication), and decoded as
/// `x ≈ Float(q − zeroPoint) · step + offset`.
///
/// The loops are branch-free so the compiler vectorises them: the product is clamped to
/// `[lower − zeroPoint, upper − zeroPoint]` first (clamping to integer bounds commutes with
/// rounding, so the result is the same as rounding first), then rounded half to even by adding and
/// reading back 1.5 · 2²³ (exact for |t| ≤ 2²², which the clamp guarantees), whose low mantissa
/// bits are the integer. Inputs must be finite (callers check); an infinite product still clamps.
///
/// Stateless; thread-safe. Every function is O(count) with no allocation.
package enum AffineCodes {
    /// 1.5 · 2²³: adding it puts any |t| ≤ 2²² in the binade where the f32 ulp is 1, so the
    /// addition rounds t to an integer under the default rounding mode (half to even).
    @usableFromInline static let magic: Float = 12_582_912
    @usableFromInline static let magicBits: UInt32 = 0x4B40_0000

    /// roundHalfEven(clamp(t, lo, hi)) as an integer; `lo`, `hi` are integers with |·| ≤ 2²².
    @inlinable @inline(__always)
    static func roundClamped(_ t: Float, _ lo: Float, _ hi: Float) -> Int32 {
        let c = Swift.max(lo, Swift.min(hi, t))
        return Int32(bitPattern: (c + magic).bitPattern &- magicBits)
    }

    /// Encodes `count` floats with one step and zero point: `out[i] = clamp(roundHalfEven((x[i] −
    /// offsets[i]) · inverseStep) + zeroPoint, lower, upper)` (no subtraction when `offsets` is nil).
    /// - Parameters:
    ///   - inverseStep: 1/step, computed once by the caller in f32 (the stored rule multiplies).
    ///   - lower, upper: code bounds within −128…127 (e.g. −127…127 for symmetric int8, −8…7 for int4).
    @inlinable
    package static func encode(_ x: UnsafePointer<Float>, count: Int, offsets: UnsafePointer<Float>?,
                               inverseStep: Float, zeroPoint: Int32 = 0, lower: Int32 = -127, upper: Int32 = 127,
                               into out: UnsafeMutablePointer<Int8>) {
        let lo = Float(lower - zeroPoint), hi = Float(upper - zeroPoint)
        if let offsets {
            for i in 0..<count {
                let q = roundClamped((x[i] - offsets[i]) * inverseStep, lo, hi)
                out[i] = Int8(truncatingIfNeeded: q &+ zeroPoint)
            }
        } else {
            for i in 0..<count {
                let q = roundClamped(x[i] * inverseStep, lo, hi)
                out[i] = Int8(truncatingIfNeeded: q &+ zeroPoint)
            }
        }
    }

    /// Encodes `count` floats whose step and zero point change with the element (one per column of
    /// a row: per-channel quantization along the last axis): `out[i] = clamp(roundHalfEven(x[i] ·
    /// inverseSteps[i]) + zeroPoints[i], lower, upper)` (zero points 0 when nil).
    @inlinable
    package static func encodeColumns(_ x: UnsafePointer<Float>, count: Int, inverseSteps: UnsafePointer<Float>,
                                      zeroPoints: UnsafePointer<Int8>?, lower: Int32, upper: Int32,
                                      into out: UnsafeMutablePointer<Int8>) {
        for i in 0..<count {
            let z = zeroPoints.map { Int32($0[i]) } ?? 0
            let q = roundClamped(x[i] * inverseSteps[i], Float(lower - z), Float(upper - z))
            out[i] = Int8(truncatingIfNeeded: q &+ z)
        }
    }

    /// Decodes `count` codes: `out[i] = Float(Int32(codes[i]) − zeroPoint) · step + offsets[i]`
    /// (no addition when `offsets` is nil). Exact up to the one f32 multiplication (and addition).
    @inlinable
    package static func decode(_ codes: UnsafePointer<Int8>, count: Int, step: Float, zeroPoint: Int32 = 0,
                               offsets: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>) {
        if let offsets {
            for i in 0..<count { out[i] = Float(Int32(codes[i]) - zeroPoint) * step + offsets[i] }
        } else {
            for i in 0..<count { out[i] = Float(Int32(codes[i]) - zeroPoint) * step }
        }
    }
}
