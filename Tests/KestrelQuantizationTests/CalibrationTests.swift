import Testing
import _KestrelTestSupport
@testable import KestrelQuantization

@Suite struct CalibrationTests {
    static func samples(_ count: Int, shape: [Int], seed: UInt64) throws -> [Tensor] {
        var rng = SeededRNG(seed: seed)
        let n = shape.reduce(1, *)
        return try (0..<count).map { _ in try Tensor((0..<n).map { _ in rng.gaussian() }, shape: shape) }
    }

    @Test func minMaxPerChannelIsEachColumnsExtremes() throws {
        let s = try Self.samples(3, shape: [4, 10], seed: 1)
        let scheme = IntegerScheme(bits: 8, symmetric: false, granularity: .perChannel(axis: 1))
        let c = try Calibrator(scheme: scheme, method: .minMax).calibrate(s)
        let all = s.map { $0.scalars() }
        for col in 0..<10 {
            let v = all.flatMap { x in (0..<4).map { x[$0 * 10 + col] } }
            #expect(c.ranges[col] == v.min()!...v.max()!)
        }
        #expect(c.sampleCounts == [Int](repeating: 12, count: 10))
        #expect(c.clipRatios == [Float](repeating: 1, count: 10))
        #expect(c.method == .minMax && c.granularity == scheme.granularity)
    }

    @Test func percentileUsesNearestRank() throws {
        // 1…1000 in a scrambled order, split over two samples.
        var values = (1...1000).map(Float.init)
        var rng = SeededRNG(seed: 5)
        values.shuffle(using: &rng)
        let s = [try Tensor(Array(values[..<500]), shape: [500]), try Tensor(Array(values[500...]), shape: [500])]
        let scheme = IntegerScheme(bits: 8, symmetric: false, granularity: .perTensor)
        // 99th: rank ⌈0.99 · 1000⌉ = 990; 1st: rank 10. 99.9th: rank 999; 0.1th: rank 1.
        #expect(try Calibrator(scheme: scheme, method: .percentile(99)).calibrate(s).ranges == [10...990])
        #expect(try Calibrator(scheme: scheme, method: .percentile(99.9)).calibrate(s).ranges == [1...999])
        #expect(try Calibrator(scheme: scheme, method: .percentile(100)).calibrate(s).ranges == [1...1000])
        #expect(try Calibrator(scheme: scheme, method: .percentile(50)).calibrate(s).ranges == [500...500])
    }

    @Test(arguments: [(8, true), (4, true), (4, false)])
    func mseSearchPicksTheBestRatio(bits: Int, symmetric: Bool) throws {
        // Gaussian data with an outlier per group: clipping the outlier lowers the error.
        var rng = SeededRNG(seed: 9)
        var x = (0..<140).map { _ in rng.gaussian() }
        x[3] = 12
        x[100] = -15
        let shape = [2, 70]
        let scheme = IntegerScheme(bits: bits, symmetric: symmetric, granularity: .perGroup(size: 32))
        let ratios: [Float] = (0..<40).map { 1 - Float($0) / 50 }
        let c = try Calibrator(scheme: scheme, method: .mseSearch(ratios: ratios)).calibrate([try Tensor(x, shape: shape)])
        let ref = ReferenceIntegerScheme(bits: bits, symmetric: symmetric, granularity: scheme.granularity)
        #expect(c.ranges.count == ref.slotCount(shape))
        for k in 0..<c.ranges.count {
            let v = x.indices.filter { ref.slot($0, shape: shape) == k }.map { x[$0] }
            let lo = min(v.min()!, 0), hi = max(v.max()!, 0)
            func sse(_ r: Float) -> Double {
                let p = ref.parameters(lo: r * lo, hi: r * hi)
                return v.reduce(0.0) { acc, xv in
                    let y = Double(ref.code(xv, step: p.step, zero: p.zero) - p.zero) * Double(p.step)
                    return acc + (Double(xv) - y) * (Double(xv) - y)
                }
            }
            let errors = ratios.map(sse)
            let best = errors.min()!
            let chosen = ratios.indices.filter { errors[$0] == best }.map { ratios[$0] }.max()!
            #expect(c.clipRatios[k] == chosen, "slot \(k)")
            #expect(c.ranges[k] == (chosen * lo)...(chosen * hi))
            #expect(best <= errors[0])
        }
        // At 4 bits the outliers' groups are clipped (at 8 bits, over 32 values, the outlier's own
        // error outweighs the finer step).
        if bits == 4 { #expect(c.clipRatios[0] < 1 && c.clipRatios[4] < 1) }
    }

    @Test func quantizerUsesCalibratedRangesAndClamps() throws {
        let shape = [3, 40]
        let scheme = IntegerScheme(bits: 8, symmetric: false, granularity: .perChannel(axis: 0))
        let cal = try Calibrator(scheme: scheme, method: .percentile(90)).calibrate(try Self.samples(4, shape: shape, seed: 2))
        let x = try Self.samples(1, shape: shape, seed: 3)[0]
        let q = try IntegerQuantizer(scheme: scheme, calibration: cal)
        let ref = ReferenceIntegerScheme(bits: 8, symmetric: false, granularity: scheme.granularity)
            .run(x.scalars(), shape: shape, ranges: cal.ranges)
        let p = try q.quantize(x)
        #expect(try q.dequantize(p).scalars() == ref.recon)
        #expect(parsePayload(p.data, slots: 3, n: 120, bits: 8, symmetric: false).codes == ref.codes)
        // A tensor with another slot count is refused.
        #expect(throws: KestrelError.dimensionMismatch(expected: [3], actual: [4])) { try q.quantize(Tensor.zeros([4, 40])) }
        // Stored ranges can be wrapped again.
        let again = try CalibratedRanges(granularity: cal.granularity, method: cal.method, ranges: cal.ranges)
        #expect(try IntegerQuantizer(scheme: scheme, calibration: again).quantize(x) == p)
    }

    @Test func badCalibrationInput() throws {
        let scheme = IntegerScheme(bits: 8, symmetric: true, granularity: .perTensor)
        let c = try Calibrator(scheme: scheme, method: .minMax)
        #expect(throws: KestrelError.invalidArgument(name: "samples", reason: "need at least one sample")) { try c.calibrate([]) }
        #expect(throws: KestrelError.dimensionMismatch(expected: [2, 3], actual: [3, 2])) {
            try c.calibrate([Tensor.zeros([2, 3]), Tensor.zeros([3, 2])])
        }
        var x = [Float](repeating: 0, count: 6)
        x[4] = .nan
        #expect(throws: KestrelError.nonFiniteValue(index: 6 + 4)) {
            try c.calibrate([Tensor.zeros([2, 3]), Tensor(x, shape: [2, 3])])
        }
        #expect(throws: KestrelError.invalidArgument(name: "percent", reason: "must be in 50...100, got 40.0")) {
            try Calibrator(scheme: scheme, method: .percentile(40))
        }
        for bad: [Float] in [[], [0], [1.5]] {
            #expect(throws: KestrelError.invalidArgument(name: "ratios", reason: "need at least one ratio, each in (0, 1]")) {
                try Calibrator(scheme: scheme, method: .mseSearch(ratios: bad))
            }
        }
        let perChannel = try Calibrator(scheme: IntegerScheme(bits: 8, symmetric: true, granularity: .perChannel(axis: 0)), method: .minMax)
            .calibrate([Tensor.zeros([2, 3])])
        #expect(throws: KestrelError.self) { try IntegerQuantizer(scheme: scheme, calibration: perChannel) }
        #expect(throws: KestrelError.self) {
            try CalibratedRanges(granularity: .perTensor, method: .minMax, ranges: [-Float.infinity...0])
        }
        // Empty samples: every slot gets [0, 0] and a count of 0.
        let e = try Calibrator(scheme: IntegerScheme(bits: 8, symmetric: true, granularity: .perChannel(axis: 1)), method: .mseSearch)
            .calibrate([Tensor.zeros([0, 3])])
        #expect(e.ranges == [0...0, 0...0, 0...0] && e.sampleCounts == [0, 0, 0])
    }
}
