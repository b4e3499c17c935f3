/// int8 and int4 quantization, symmetric or asymmetric, per tensor, per channel (any axis) or per
/// group of 32/64/128 along the last axis.
///
/// Rule (Documentation/Quantization.md, "Integer schemes"): each slot (the elements sharing a
/// scale, see ``QuantizationGranularity``) has a range `[lo, hi]` — the slot's min and max, or a
/// calibrated range — from which
/// - symmetric: `m = max(|lo|, |hi|)`, `step = clamp(m / qmax, Float.leastNormalMagnitude, cap)`
///   (f32), zero point 0, codes in `−qmax…qmax` (qmax = 127 or 7);
/// - asymmetric: the range is widened to contain 0, `step = clamp(Float((hi − lo) / (2^bits − 1)),
///   leastNormal, cap)` (the difference in Double), zero point `z = clamp(roundHalfEven(qmin −
///   lo/step), qmin, qmax)` (Double), codes in `qmin…qmax` (−128…127 or −8…7);
/// with `cap = Float.greatestFiniteMagnitude / 2^bits` so that every code decodes to a finite value
/// (it only bites for ranges beyond about ±1.3e36, whose extremes then clamp);
/// then `q = clamp(roundHalfEven(x · (1/step)) + z, qmin, qmax)` in f32 (``AffineCodes``) and
/// `x̂ = Float(q − z) · step`. Zero is always exact; an all-zero or empty slot gets the step
/// `leastNormalMagnitude`.
///
/// Value type holding only its configuration: `Sendable`, safe to use from any thread.
public struct IntegerQuantizer: Quantizer {
    /// The scheme (bits, symmetry, granularity).
    public let scheme: IntegerScheme
    /// Calibrated ranges used instead of each slot's min and max, if any.
    public let calibration: CalibratedRanges?

    /// A quantizer that takes each slot's range from the data (min-max).
    /// - Throws: `invalidArgument` when `bits` is not 4 or 8, or a group size is not 32, 64 or 128,
    ///   or a channel axis is negative.
    public init(scheme: IntegerScheme) throws(KestrelError) {
        try Self.validate(scheme)
        self.scheme = scheme
        calibration = nil
    }

    /// A quantizer that uses calibrated ranges (from ``Calibrator``): values outside a slot's range
    /// are clamped to it. The tensors it quantizes must have `calibration.ranges.count` slots.
    /// - Throws: as ``init(scheme:)``; `invalidArgument` when the calibration was made for
    ///   another granularity.
    public init(scheme: IntegerScheme, calibration: CalibratedRanges) throws(KestrelError) {
        try Self.validate(scheme)
        guard calibration.granularity == scheme.granularity else {
            throw .invalidArgument(name: "calibration",
                                   reason: "ranges were calibrated for \(calibration.granularity), the scheme is \(scheme.granularity)")
        }
        self.scheme = scheme
        self.calibration = calibration
    }

    private static func validate(_ s: IntegerScheme) throws(KestrelError) {
        guard s.bits == 8 || s.bits == 4 else {
            throw .invalidArgument(name: "bits", reason: "integer schemes have 8 or 4 bits, got \(s.bits)")
        }
        switch s.granularity {
        case .perTensor: break
        case .perChannel(let axis):
            guard axis >= 0 else { throw .invalidArgument(name: "axis", reason: "must be >= 0, got \(axis)") }
        case .perGroup(let g):
            guard [32, 64, 128].contains(g) else {
                throw .invalidArgument(name: "group", reason: "group size must be 32, 64 or 128, got \(g)")
            }
        }
    }

    /// `.integer(scheme)`.
    public var format: QuantizationFormat { .integer(scheme) }

    /// Smallest and largest code.
    var codeBounds: (lower: Int32, upper: Int32) {
        let half = Int32(1) << Int32(scheme.bits - 1)
        return scheme.symmetric ? (-(half - 1), half - 1) : (-half, half - 1)
    }

    /// Bytes of the payload: `4·S` (f32 steps) `+ S` (int8 zero points, asymmetric only) `+` codes
    /// (`n` bytes for int8, `⌈n/2⌉` for int4), S = number of slots. O(rank).
    /// - Throws: `invalidArgument` for a shape the granularity cannot hold (axis out of range,
    ///   per-group on rank 0, negative extent); `capacityExceeded` when the count overflows.
    public func quantizedByteCount(shape: [Int]) throws(KestrelError) -> Int {
        let layout = try ScaleLayout(shape: shape, granularity: scheme.granularity)
        return try byteCount(layout).total
    }

    private func byteCount(_ l: ScaleLayout) throws(KestrelError) -> (header: Int, total: Int) {
        let header = try SizeCheck.product(l.slotCount, scheme.symmetric ? 4 : 5)
        let codes = scheme.bits == 8 ? l.elementCount : l.elementCount / 2 + l.elementCount % 2
        let (total, o) = header.addingReportingOverflow(codes)
        guard !o else { throw .capacityExceeded(limit: .max, requested: .max) }
        return (header, total)
    }

    // MARK: Quantize

    /// Quantizes `x` (converted to f32 first if it has another dtype). Empty tensors give a payload
    /// with no codes (only the slots' steps and zero points).
    /// - Throws: `nonFiniteValue(index:)` with the flat row-major index of the first NaN/Inf;
    ///   `invalidArgument` for a shape the granularity cannot hold; `dimensionMismatch` when
    ///   calibrated ranges do not match the slot count (`expected: [ranges]`, `actual: [slots]`);
    ///   `capacityExceeded` when sizes overflow or allocation fails.
    /// - Complexity: O(n) time (two passes over the input, one without calibration), O(payload)
    ///   memory (plus n bytes for int4).
    public func quantize(_ x: Tensor) throws(KestrelError) -> QuantizedTensor {
        let dims = x.shape.dims
        let layout = try ScaleLayout(shape: dims, granularity: scheme.granularity)
        let (headerBytes, total) = try byteCount(layout)
        let src = x.dtype == .f32 ? x : try x.converted(to: .f32)
        let slots = layout.slotCount
        var lo = [Float](repeating: 0, count: slots)
        var hi = [Float](repeating: 0, count: slots)
        if let calibration {
            guard calibration.ranges.count == slots else {
                throw .dimensionMismatch(expected: [calibration.ranges.count], actual: [slots])
            }
            for (k, r) in calibration.ranges.enumerated() { (lo[k], hi[k]) = (r.lowerBound, r.upperBound) }
        }
        if layout.elementCount > 0 {
            try src.withUnsafeBufferPointer { (buf: UnsafeBufferPointer<Float>) throws(KestrelError) in
                let p = buf.baseAddress!
                if let i = Self.firstNonFinite(p, count: buf.count) { throw .nonFiniteValue(index: i) }
                if calibration == nil { Self.slotRanges(p, layout: layout, lo: &lo, hi: &hi) }
            }
        }
        let params = (0..<slots).map { slotParameters(lo: lo[$0], hi: hi[$0]) }
        let (qmin, qmax) = codeBounds
        var data = [UInt8](repeating: 0, count: total)
        data.withUnsafeMutableBytes { raw in
            for (k, prm) in params.enumerated() {
                raw.storeBytes(of: prm.step.bitPattern.littleEndian, toByteOffset: 4 * k, as: UInt32.self)
                if !scheme.symmetric { raw.storeBytes(of: prm.zero, toByteOffset: 4 * slots + k, as: Int8.self) }
            }
        }
        guard layout.elementCount > 0 else { return QuantizedTensor(shape: dims, format: format, data: data) }
        try src.withUnsafeBufferPointer { (buf: UnsafeBufferPointer<Float>) in
            let p = buf.baseAddress!
            let encodeInto = { (codes: UnsafeMutablePointer<Int8>) in
                if let cols = layout.columnsIfPerLastAxis {
                    let inv = params.map { 1 / $0.step }
                    let zs = params.map(\.zero)
                    inv.withUnsafeBufferPointer { ib in
                        zs.withUnsafeBufferPointer { zb in
                            for r in 0..<(layout.elementCount / cols) {
                                AffineCodes.encodeColumns(p + r * cols, count: cols, inverseSteps: ib.baseAddress!,
                                                          zeroPoints: scheme.symmetric ? nil : zb.baseAddress!,
                                                          lower: qmin, upper: qmax, into: codes + r * cols)
                            }
                        }
                    }
                } else {
                    layout.forEachRun { start, len, slot in
                        let prm = params[slot]
                        AffineCodes.encode(p + start, count: len, offsets: nil, inverseStep: 1 / prm.step,
                                           zeroPoint: Int32(prm.zero), lower: qmin, upper: qmax, into: codes + start)
                    }
                }
            }
            if scheme.bits == 8 {
                data.withUnsafeMutableBytes { raw in
                    encodeInto((raw.baseAddress! + headerBytes).assumingMemoryBound(to: Int8.self))
                }
            } else {
                var codes = [Int8](repeating: 0, count: layout.elementCount)
                codes.withUnsafeMutableBufferPointer { cb in
                    encodeInto(cb.baseAddress!)
                }
                data.withUnsafeMutableBytes { raw in
                    codes.withUnsafeBufferPointer { cb in
                        Self.pack4(cb.baseAddress!, count: cb.count, into: (raw.baseAddress! + headerBytes).assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
        }
        return QuantizedTensor(shape: dims, format: format, data: data)
    }

    /// Step and zero point of a slot whose range is `[lo, hi]` (the rule in the type's comment).
    func slotParameters(lo: Float, hi: Float) -> (step: Float, zero: Int8) {
        let (qmin, qmax) = codeBounds
        // Capped so that every code decodes to a finite value (|q − z| < 2^bits).
        let cap = Float.greatestFiniteMagnitude / Float(1 << scheme.bits)
        if scheme.symmetric {
            let m = Swift.max(abs(lo), abs(hi))
            return (Swift.min(cap, Swift.max(m / Float(qmax), .leastNormalMagnitude)), 0)
        }
        let l = Double(Swift.min(lo, 0)), h = Double(Swift.max(hi, 0))
        let step = Swift.min(cap, Swift.max(Float((h - l) / Double(qmax - qmin)), .leastNormalMagnitude))
        let z = (Double(qmin) - l / Double(step)).rounded(.toNearestOrEven)
        return (step, Int8(Swift.max(Double(qmin), Swift.min(Double(qmax), z))))
    }

    /// Flat index of the first NaN or infinity (exponent bits all ones), if any. Branch-free scan
    /// first, so the common all-finite case stays fast.
    static func firstNonFinite(_ p: UnsafePointer<Float>, count: Int) -> Int? {
        var bad: UInt32 = 0
        p.withMemoryRebound(to: UInt32.self, capacity: count) { u in
            for i in 0..<count { bad |= (u[i] & 0x7F80_0000) &+ 0x0080_0000 }
        }
        // (e & 0x7F800000) + 0x00800000 sets bit 31 only when the exponent is all ones.
        guard bad & 0x8000_0000 != 0 else { return nil }
        return (0..<count).first { !p[$0].isFinite }
    }

    /// Each slot's min and max (starting from 0, so every range contains 0 and empty slots are [0, 0]).
    static func slotRanges(_ p: UnsafePointer<Float>, layout: ScaleLayout, lo: inout [Float], hi: inout [Float]) {
        if let cols = layout.columnsIfPerLastAxis {
            lo.withUnsafeMutableBufferPointer { l in
                hi.withUnsafeMutableBufferPointer { h in
                    for r in 0..<(layout.elementCount / cols) {
                        let row = p + r * cols
                        for c in 0..<cols {
                            l[c] = Swift.min(l[c], row[c])
                            h[c] = Swift.max(h[c], row[c])
                        }
                    }
                }
            }
            return
        }
        layout.forEachRun { start, len, slot in
            let (a, b) = minMax(p + start, count: len)
            lo[slot] = Swift.min(lo[slot], a)
            hi[slot] = Swift.max(hi[slot], b)
        }
    }

    /// Min and max of `count` finite floats, with eight independent accumulators so the loop is
    /// not bound by the latency of one min/max chain.
    static func minMax(_ p: UnsafePointer<Float>, count: Int) -> (Float, Float) {
        var l = SIMD8<Float>(repeating: 0), h = SIMD8<Float>(repeating: 0)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= count {
            let v = raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            l = l.replacing(with: v, where: v .< l)
            h = h.replacing(with: v, where: v .> h)
            i += 8
        }
        var a = l.min(), b = h.max()
        while i < count {
            a = Swift.min(a, p[i])
            b = Swift.max(b, p[i])
            i += 1
        }
        return (a, b)
    }

    /// Packs int4 codes two per byte: element 2j in the low nibble of byte j, 2j+1 in the high
    /// nibble, each as 4-bit two's complement; the high nibble of a last odd byte is 0.
    static func pack4(_ c: UnsafePointer<Int8>, count: Int, into out: UnsafeMutablePointer<UInt8>) {
        for j in 0..<(count / 2) {
            out[j] = UInt8(bitPattern: c[2 * j]) & 0x0F | UInt8(bitPattern: c[2 * j + 1]) << 4
        }
        if count % 2 == 1 { out[count / 2] = UInt8(bitPattern: c[count - 1]) & 0x0F }
    }

    /// Unpacks `count` int4 codes (sign-extending each nibble).
    static func unpack4(_ b: UnsafePointer<UInt8>, count: Int, into c: UnsafeMutablePointer<Int8>) {
        for i in 0..<count {
            let byte = b[i >> 1]
            let nib = i & 1 == 0 ? byte << 4 : byte & 0xF0
            c[i] = Int8(bitPattern: nib) >> 4
        }
    }
}
