/// SplitMix64: a tiny, fast, seeded generator (not cryptographic), so synthetic data,
/// initialisation, tests and benchmarks are reproducible from a seed on every platform.
///
/// A value type: copies continue the same sequence independently. O(1) per draw.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A float uniformly distributed in [-1, 1) (31 random bits).
    public mutating func nextSignedUnit() -> Float {
        Float(Int32(truncatingIfNeeded: next() >> 32)) * 0x1p-31
    }

    /// Fills `n` floats uniform in [-scale, scale) (24 random bits each, two per draw).
    /// - Complexity: O(n).
    public mutating func fillFloats(_ p: UnsafeMutablePointer<Float>, _ n: Int, scale: Float = 1) {
        let k = scale * 0x1p-23
        var i = 0
        while i < n {
            let r = next()
            p[i] = Float(UInt32(truncatingIfNeeded: r >> 40)) * k - scale
            if i + 1 < n { p[i + 1] = Float(UInt32(truncatingIfNeeded: r >> 8) & 0xFF_FFFF) * k - scale }
            i += 2
        }
    }

    /// Fills `n` random bytes (every value occurs, so int8 data covers -128...127).
    /// - Complexity: O(n).
    public mutating func fillBytes(_ p: UnsafeMutableRawPointer, _ n: Int) {
        var i = 0
        while i + 8 <= n {
            p.storeBytes(of: next(), toByteOffset: i, as: UInt64.self)
            i += 8
        }
        if i < n {
            var r = next()
            while i < n {
                p.storeBytes(of: UInt8(truncatingIfNeeded: r), toByteOffset: i, as: UInt8.self)
                r >>= 8
                i += 1
            }
        }
    }
}
