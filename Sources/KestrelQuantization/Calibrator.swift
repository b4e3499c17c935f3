/// How a ``Calibrator`` picks each slot's range from calibration samples.
public enum CalibrationMethod: Sendable, Hashable {
    /// The slot's smallest and largest sample.
    case minMax
    /// Clip to the central part of the distribution: the upper bound is the nearest-rank
    /// `percent`-th percentile of the slot's samples, the lower bound the nearest-rank
    /// `(100 − percent)`-th (nearest rank: the k-th smallest with `k = ⌈q · m / 100⌉`, at least 1,
    /// for m samples). `percent` in 50…100; 100 is min-max.
    case percentile(Double)
    /// Try the min-max range scaled by each ratio (0 < r ≤ 1; the range is first widened to
    /// contain 0, so `[r·lo, r·hi]`) and keep the one whose quantize-dequantize squared error over
    /// the slot's samples (in Double) is smallest; ties go to the larger ratio.
    case mseSearch(ratios: [Float])

    /// ``mseSearch(ratios:)`` over 1.00, 0.99, …, 0.30 (71 ratios).
    public static var mseSearch: CalibrationMethod {
        .mseSearch(ratios: (0...70).map { Float(100 - $0) / 100 })
    }
}

/// The ranges a ``Calibrator`` chose, one per slot (the elements sharing a scale under
/// `granularity`, in the order of Documentation/Quantization.md, "Integer schemes"); pass it to
/// ``IntegerQuantizer/init(scheme:calibration:)``. Value type; thread-safe.
public struct CalibratedRanges: Sendable, Hashable {
    /// Granularity the slots follow.
    public let granularity: QuantizationGranularity
    /// Method that chose the ranges.
    public let method: CalibrationMethod
    /// Chosen range per slot (in the units of the data).
    public let ranges: [ClosedRange<Float>]
    /// Chosen clip ratio per slot for ``CalibrationMethod/mseSearch(ratios:)``; 1 for the other methods.
    public let clipRatios: [Float]
    /// Calibration values seen per slot (over all samples).
    public let sampleCounts: [Int]

    /// Wraps ranges (e.g. stored from an earlier calibration); `clipRatios` default to 1 and the
    /// sample counts to 0.
    /// - Throws: `invalidArgument` for a range with a non-finite bound, or arrays of different lengths.
    public init(granularity: QuantizationGranularity, method: CalibrationMethod, ranges: [ClosedRange<Float>],
                clipRatios: [Float]? = nil, sampleCounts: [Int]? = nil) throws(KestrelError) {
        for (k, r) in ranges.enumerated() where !(r.lowerBound.isFinite && r.upperBound.isFinite) {
            throw .invalidArgument(name: "ranges", reason: "range \(k) is \(r)")
        }
        let ratios = clipRatios ?? [Float](repeating: 1, count: ranges.count)
        let counts = sampleCounts ?? [Int](repeating: 0, count: ranges.count)
        guard ratios.count == ranges.count && counts.count == ranges.count else {
            throw .invalidArgument(name: "clipRatios", reason: "one ratio and one count per range")
        }
        self.granularity = granularity
        self.method = method
        self.ranges = ranges
        self.clipRatios = ratios
        self.sampleCounts = counts
    }
}

/// Chooses per-slot ranges for an ``IntegerScheme`` from calibration samples (tensors of one
/// shape, e.g. activations seen on representative inputs): min-max, percentile clipping, or an
/// MSE-optimal clip search. Value type; thread-safe.
public struct Calibrator: Sendable {
    /// The scheme the ranges are for (its bits and symmetry decide the MSE search's error).
    public let scheme: IntegerScheme
    /// How ranges are chosen.
    public let method: CalibrationMethod

    /// - Throws: `invalidArgument` for a scheme ``IntegerQuantizer`` refuses, a percentile outside
    ///   50…100, or an empty ratio list or a ratio outside (0, 1].
    public init(scheme: IntegerScheme, method: CalibrationMethod) throws(KestrelError) {
        _ = try IntegerQuantizer(scheme: scheme)
        switch method {
        case .minMax: break
        case .percentile(let p):
            guard p >= 50 && p <= 100 else { throw .invalidArgument(name: "percent", reason: "must be in 50...100, got \(p)") }
        case .mseSearch(let ratios):
            guard !ratios.isEmpty, ratios.allSatisfy({ $0 > 0 && $0 <= 1 }) else {
                throw .invalidArgument(name: "ratios", reason: "need at least one ratio, each in (0, 1]")
            }
        }
        self.scheme = scheme
        self.method = method
    }

    /// Ranges for every slot of tensors shaped like the samples.
    /// - Throws: `invalidArgument` for no samples or a shape the granularity cannot hold;
    ///   `dimensionMismatch` when a sample's shape differs from the first's; `nonFiniteValue(index:)`
    ///   with `sample · n + i` for the first NaN/Inf (n elements per sample).
    /// - Complexity: min-max O(total); percentile O(total · log) (sorts each slot); MSE search
    ///   O(total · ratios). Memory O(total) except for min-max (O(slots)).
    public func calibrate(_ samples: [Tensor]) throws(KestrelError) -> CalibratedRanges {
        guard let first = samples.first else { throw .invalidArgument(name: "samples", reason: "need at least one sample") }
        let dims = first.shape.dims
        let layout = try ScaleLayout(shape: dims, granularity: scheme.granularity)
        let slots = layout.slotCount
        let n = layout.elementCount
        var lo = [Float](repeating: .infinity, count: slots)
        var hi = [Float](repeating: -.infinity, count: slots)
        var values = [[Float]](repeating: [], count: method == .minMax ? 0 : slots)
        for (s, sample) in samples.enumerated() {
            guard sample.shape.dims == dims else { throw .dimensionMismatch(expected: dims, actual: sample.shape.dims) }
            let x = sample.dtype == .f32 ? sample : try sample.converted(to: .f32)
            guard n > 0 else { continue }
            try x.withUnsafeBufferPointer { (b: UnsafeBufferPointer<Float>) throws(KestrelError) in
                let p = b.baseAddress!
                if let i = IntegerQuantizer.firstNonFinite(p, count: n) { throw .nonFiniteValue(index: s * n + i) }
                try layout.forEachRun { (start, len, slot) throws(KestrelError) in
                    let run = UnsafeBufferPointer(start: p + start, count: len)
                    for v in run {
                        lo[slot] = Swift.min(lo[slot], v)
                        hi[slot] = Swift.max(hi[slot], v)
                    }
                    if !values.isEmpty { values[slot].append(contentsOf: run) }
                }
            }
        }
        let counts = values.isEmpty ? Self.counts(layout, samples: samples.count) : values.map(\.count)
        var ranges = [ClosedRange<Float>]()
        var ratios = [Float](repeating: 1, count: slots)
        for k in 0..<slots {
            guard counts[k] > 0 else { ranges.append(0...0); continue }
            switch method {
            case .minMax:
                ranges.append(lo[k]...hi[k])
            case .percentile(let p):
                let v = values[k].sorted()
                ranges.append(Self.nearestRank(v, 100 - p)...Self.nearestRank(v, p))
            case .mseSearch(let grid):
                let l = Swift.min(lo[k], 0), h = Swift.max(hi[k], 0)
                let quantizer = try IntegerQuantizer(scheme: scheme)
                var best = (error: Double.infinity, ratio: Float(0))
                for r in grid {
                    let e = Self.squaredError(values[k], quantizer: quantizer, lo: r * l, hi: r * h)
                    if e < best.error || (e == best.error && r > best.ratio) { best = (e, r) }
                }
                ratios[k] = best.ratio
                ranges.append((best.ratio * l)...(best.ratio * h))
            }
        }
        return try CalibratedRanges(granularity: scheme.granularity, method: method, ranges: ranges,
                                    clipRatios: ratios, sampleCounts: counts)
    }

    /// Values per slot without collecting them: run lengths times the sample count.
    private static func counts(_ layout: ScaleLayout, samples: Int) -> [Int] {
        var c = [Int](repeating: 0, count: layout.slotCount)
        layout.forEachRun { _, len, slot in c[slot] += len * samples }
        return c
    }

    /// The k-th smallest of sorted `v` with `k = ⌈q · m / 100⌉` clamped to 1…m (a 1e-9 slack keeps
    /// products that are integers in decimal, like 99.9 · 1000 / 100, from rounding up).
    static func nearestRank(_ v: [Float], _ q: Double) -> Float {
        let k = Int((q * Double(v.count) / 100 - 1e-9).rounded(.up))
        return v[Swift.max(1, Swift.min(v.count, k)) - 1]
    }

    /// Σ (x − x̂)² in Double when the slot's range is `[lo, hi]`.
    static func squaredError(_ v: [Float], quantizer: IntegerQuantizer, lo: Float, hi: Float) -> Double {
        let (step, z) = quantizer.slotParameters(lo: lo, hi: hi)
        let (qmin, qmax) = quantizer.codeBounds
        let inv = 1 / step
        let zf = Int32(z)
        var e: Double = 0
        for x in v {
            let q = AffineCodes.roundClamped(x * inv, Float(qmin - zf), Float(qmax - zf))
            let d = Double(x) - Double(Float(q) * step)
            e += d * d
        }
        return e
    }
}
