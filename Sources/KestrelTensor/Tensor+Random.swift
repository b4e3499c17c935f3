extension Tensor {
    /// A tensor of pseudo-random values, uniform in `range`, reproducible from `seed` on every
    /// platform (SplitMix64 stream; the same seed and shape give the same values).
    /// Values are drawn as f32 and converted to `dtype` (integers round and saturate).
    /// - Throws: `KestrelError.invalidArgument` for a non-finite range bound;
    ///   `KestrelError.capacityExceeded` when allocation fails.
    /// - Complexity: O(n).
    public static func random(_ shape: Shape, seed: UInt64, in range: ClosedRange<Float> = -1...1,
                              dtype: DType = .f32) throws(KestrelError) -> Tensor {
        guard range.lowerBound.isFinite && range.upperBound.isFinite else {
            throw .invalidArgument(name: "range", reason: "bounds must be finite, got \(range)")
        }
        var gen = SplitMix64(seed: seed)
        let n = shape.elementCount
        let t = try Tensor(allocating: shape, dtype: .f32, zeroed: false)
        let p = t.storage.baseAddress.assumingMemoryBound(to: Float.self)
        let lo = Double(range.lowerBound)
        let width = Double(range.upperBound) - lo
        for i in 0..<n {
            // 24 random bits give an exactly representable uniform in [0, 1).
            let u = Double(gen.next() >> 40) * 0x1p-24
            p[i] = Swift.min(Float(lo + u * width), range.upperBound)
        }
        return dtype == .f32 ? t : try t.converted(to: dtype)
    }

    /// As ``random(_:seed:in:dtype:)-(Shape,_,_,_)`` with extents given as an array.
    /// - Throws: `KestrelError.invalidArgument` for bad extents; otherwise as the `Shape` version.
    public static func random(_ dims: [Int], seed: UInt64, in range: ClosedRange<Float> = -1...1,
                              dtype: DType = .f32) throws(KestrelError) -> Tensor {
        try random(Shape(dims), seed: seed, in: range, dtype: dtype)
    }
}
