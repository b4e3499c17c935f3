/// Approximate comparisons used by the tests.
public enum Approx {
    /// True when `a` and `b` are within `abs + rel * max(|a|, |b|)`; NaN equals NaN, and
    /// infinities must match exactly.
    public static func equal(_ a: Double, _ b: Double, rel: Double = 1e-5, abs: Double = 1e-6) -> Bool {
        if a.isNaN || b.isNaN { return a.isNaN && b.isNaN }
        if a.isInfinite || b.isInfinite { return a == b }
        return Swift.abs(a - b) <= abs + rel * Swift.max(Swift.abs(a), Swift.abs(b))
    }

    /// Float overload of ``equal(_:_:rel:abs:)``.
    public static func equal(_ a: Float, _ b: Float, rel: Double = 1e-5, abs: Double = 1e-6) -> Bool {
        equal(Double(a), Double(b), rel: rel, abs: abs)
    }

    /// Distance in units in the last place between two finite Floats of the same sign (Int.max otherwise).
    public static func ulps(_ a: Float, _ b: Float) -> Int {
        if a == b { return 0 }
        if a.isNaN || b.isNaN || a.isInfinite || b.isInfinite { return Int.max }
        func ordered(_ x: Float) -> Int64 {
            let bits = Int64(Int32(bitPattern: x.bitPattern))
            return bits < 0 ? Int64(Int32.min) - bits : bits
        }
        return Int(Swift.abs(ordered(a) - ordered(b)))
    }
}
