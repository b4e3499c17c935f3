import Testing
@testable import KestrelProfiling

@Suite("Statistics, outliers, bootstrap, Mann–Whitney")
struct StatisticsTests {
    @Test("descriptive statistics match hand-computed values")
    func descriptive() throws {
        let s = try SampleStatistics([4, 1, 3, 2, 5, 6, 7, 8, 9, 100])
        #expect(s.count == 10 && s.min == 1 && s.max == 100)
        #expect(s.mean == 14.5)
        #expect(s.median == 5.5)
        #expect(s.q1 == 3.25 && s.q3 == 7.75)  // type-7: h = 0.25·9 = 2.25 → 3 + 0.25
        // MAD: |x − 5.5| = 4.5 3.5 2.5 1.5 .5 .5 1.5 2.5 3.5 94.5 → median 2.5
        #expect(s.medianAbsoluteDeviation == 2.5)
        let ss = [4, 1, 3, 2, 5, 6, 7, 8, 9, 100].reduce(0.0) { $0 + ($1 - 14.5) * ($1 - 14.5) }
        #expect(abs(s.standardDeviation - (ss / 9).squareRoot()) < 1e-12)
        #expect(throws: ProfilingError.insufficientData(needed: 1, got: 0)) { try SampleStatistics([]) }
        let e1 = #expect(throws: ProfilingError.self) { try SampleStatistics([1, .nan]) }
        #expect({ if case .invalidArgument(name: "values", reason: _)? = e1 { true } else { false } }(), "\(String(describing: e1))")
        #expect(try SampleStatistics([3]).standardDeviation == 0)
    }

    @Test("quickselect median equals the sorted median")
    func quickselect() {
        var rng = TestRNG(seed: 21)
        for n in [1, 2, 3, 4, 5, 10, 11, 100, 101] {
            for pattern in 0..<3 {
                var v: [Double] = (0..<n).map { i in
                    switch pattern {
                    case 0: return Double.random(in: 0...1, using: &rng)
                    case 1: return Double(i)  // sorted
                    default: return Double(i % 3)  // many ties
                    }
                }
                let expected = Descriptive.quantile(sorted: v.sorted(), 0.5)
                #expect(Descriptive.medianInPlace(&v) == expected, "n=\(n) pattern=\(pattern)")
            }
        }
    }

    @Test("normal quantile inverts the normal tail")
    func normalQuantile() {
        for p in [1e-6, 0.001, 0.025, 0.1, 0.5, 0.9, 0.975, 0.999] {
            let z = Descriptive.normalQuantile(p)
            #expect(abs((1 - Descriptive.normalUpperTail(z)) - p) < 1e-12)
        }
        #expect(abs(Descriptive.normalQuantile(0.975) - 1.959963984540054) < 1e-9)
    }

    @Test("Tukey and MAD rules count planted outliers and stay silent on clean data")
    func outliers() {
        let clean = (0..<100).map { 1000 + Double($0 % 10) }
        let none = OutlierReport(clean)
        #expect(none.tukeyOutliers == 0 && none.madOutliers == 0)
        var dirty = clean
        dirty[5] = 1_300  // Q3 + IQR·(30 / ≈5) → far beyond the severe fence
        dirty[6] = 1_018  // IQR ≈ 5 (Q1 ≈ 1002, Q3 ≈ 1007): above Q3 + 1.5·IQR, below Q3 + 3·IQR
        dirty[7] = 700
        let r = OutlierReport(dirty)
        #expect(r.highSevere == 1)
        #expect(r.highMild == 1)
        #expect(r.lowSevere == 1)
        #expect(r.madOutliers >= 2)
        #expect(r.line.contains("3/100"))
        #expect(OutlierReport([1, 2]).tukeyOutliers == 0)  // too few to judge
    }

    @Test("bootstrap intervals are seeded, contain the estimate, and shrink with more data")
    func bootstrap() throws {
        var rng = TestRNG(seed: 3)
        let small = (0..<20).map { _ in Double.random(in: 90...110, using: &rng) }
        let large = (0..<400).map { _ in Double.random(in: 90...110, using: &rng) }
        let a = try Bootstrap.median(small, seed: 1)
        let b = try Bootstrap.median(small, seed: 1)
        #expect(a == b)
        #expect(a.contains(a.estimate))
        let c = try Bootstrap.median(large, seed: 1)
        #expect(c.upper - c.lower < a.upper - a.lower)
        #expect(c.contains(100))
        let ratio = try Bootstrap.ratioOfMedians(numerator: large.map { $0 * 2 }, denominator: large)
        #expect(abs(ratio.estimate - 2) < 1e-12)
        #expect(ratio.lower <= 2 && ratio.upper >= 2 && ratio.upper - ratio.lower < 0.2)
        let e2 = #expect(throws: ProfilingError.self) { try Bootstrap.median([1]) }
        #expect(e2 == .insufficientData(needed: 2, got: 1))
        let e3 = #expect(throws: ProfilingError.self) { try Bootstrap.median([1, 2], level: 1.5) }
        #expect({ if case .invalidArgument(name: "level", reason: _)? = e3 { true } else { false } }(), "\(String(describing: e3))")
        let e4 = #expect(throws: ProfilingError.self) { try Bootstrap.ratioOfMedians(numerator: [1, 2], denominator: [0, 0]) }
        #expect({ if case .invalidArgument(name: "denominator", reason: _)? = e4 { true } else { false } }(), "\(String(describing: e4))")
    }

    @Test("Mann–Whitney U: exact and approximate p-values")
    func mannWhitney() throws {
        // Complete separation of 3 vs 3: P(U = 0) = 1 / C(6, 3) = 1/20, two-sided 0.1.
        let sep = try MannWhitneyU([1, 2, 3], [4, 5, 6])
        #expect(sep.u == 0 && sep.exact)
        #expect(abs(sep.pValue - 0.1) < 1e-12)
        #expect(try MannWhitneyU([4, 5, 6], [1, 2, 3]).u == 9)
        // Exact and normal approximation agree closely at 40 vs 40 (no ties).
        var rng = TestRNG(seed: 5)
        let a = (0..<40).map { _ in Double.random(in: 0...1, using: &rng) }
        let b = (0..<40).map { _ in Double.random(in: 0.1...1.1, using: &rng) }
        let exact = try MannWhitneyU(a, b)
        #expect(exact.exact)
        let approx = try MannWhitneyU(a + [0.5, 0.5], b + [0.5, 0.5])  // ties force the approximation
        #expect(!approx.exact)
        #expect(abs(exact.pValue - approx.pValue) < 0.05)
        // Identical samples: no evidence at all.
        let same = try MannWhitneyU(a, a)
        #expect(same.pValue > 0.9 && abs(same.probabilityOfSuperiority - 0.5) < 1e-12)
        // Large shift: overwhelming evidence.
        let shifted = try MannWhitneyU(a.map { $0 + 10 } + a.map { $0 + 10 }, a + a)
        #expect(shifted.pValue < 1e-10 && shifted.probabilityOfSuperiority == 1)
        let e5 = #expect(throws: ProfilingError.self) { try MannWhitneyU([], [1]) }
        #expect(e5 == .insufficientData(needed: 1, got: 0))
    }
}

@Suite("Measurement method and comparisons")
struct MeasurementTests {
    @Test("measurer warms up, sizes the inner loop and reports intervals and outliers")
    func measurer() throws {
        var options = MeasurementOptions.quick
        options.samples = 10
        options.minimumSamples = 5
        let r = try Measurer.measure("spin", options: options) { blackHole(spin(200)) }
        #expect(r.samplesNanoseconds.count >= 5 && r.samplesNanoseconds.count <= 10)
        #expect(r.innerIterations > 1)  // sub-millisecond work is looped
        #expect(r.warmUpIterations >= 1)
        #expect(r.statistics.median > 0)
        #expect(r.medianInterval.lower <= r.statistics.median && r.statistics.median <= r.medianInterval.upper)
        #expect(r.timerOverheadPerCallNanoseconds <= r.clock.overheadNanoseconds / Double(r.innerIterations) + 1e-9)
        #expect(r.outliers.count == r.samplesNanoseconds.count)
        #expect(r.line.contains("spin"))

        var fixed = options
        fixed.innerIterations = 3
        #expect(try Measurer.measure("fixed", options: fixed) { blackHole(spin(10)) }.innerIterations == 3)
        var bad = options
        bad.samples = 1
        let e6 = #expect(throws: ProfilingError.self) { try Measurer.measure("bad", options: bad) {} }
        #expect({ if case .invalidArgument(name: "samples", reason: _)? = e6 { true } else { false } }(), "\(String(describing: e6))")
    }

    static var comparisonOptions: ComparisonOptions {
        var o = ComparisonOptions()
        o.rounds = 40
        o.maxRounds = 200
        o.warmUpNanoseconds = 5_000_000
        o.targetSampleNanoseconds = 250_000
        o.noiseBand = 0.10  // a shared 2-core test machine: keep A/A robust
        return o
    }

    @Test("A/A comparison reports no significant difference")
    func aa() throws {
        let n = 20_000
        let r = try Comparison.run(baseline: ComparisonSubject("A") { blackHole(spin(n)) },
                                   candidates: [ComparisonSubject("A'") { blackHole(spin(n)) }],
                                   options: Self.comparisonOptions)
        #expect(r.candidates[0].verdict.kind == .noSignificantDifference, "\(r.lines)")
        #expect(r.candidates[0].speedup.contains(1) || abs(r.candidates[0].speedup.estimate - 1) < 0.1)
    }

    @Test("a closure doing twice the work is detected as slower, half the work as faster")
    func doubleWork() throws {
        let n = 20_000
        let r = try Comparison.run(baseline: ComparisonSubject("n") { blackHole(spin(n)) },
                                   candidates: [ComparisonSubject("2n") { blackHole(spin(2 * n)) },
                                                ComparisonSubject("n/2") { blackHole(spin(n / 2)) }],
                                   options: Self.comparisonOptions)
        let slow = r.candidates[0], fast = r.candidates[1]
        #expect(slow.verdict.kind == .slower, "\(r.lines)")
        #expect(slow.verdict.factor > 1.4 && slow.verdict.factor < 3, "\(r.lines)")
        #expect(fast.verdict.kind == .faster, "\(r.lines)")
        #expect(r.lines.count == 2 && r.lines[0].contains("slower"))
    }

    @Test("verdicts on synthetic samples respect the noise band")
    func syntheticVerdicts() throws {
        var rng = TestRNG(seed: 9)
        let base = (0..<40).map { _ in 100 + Double.random(in: -2...2, using: &rng) }
        let slightlyFaster = base.map { $0 / 1.03 }  // significant but inside a 5 % band
        let clearlyFaster = base.map { $0 / 2 }
        var o = ComparisonOptions()
        o.noiseBand = 0.05
        let r = try Comparison.analyze(baselineName: "base", baseline: base,
                                       candidates: [("3%", slightlyFaster), ("2x", clearlyFaster)], options: o)
        #expect(r.candidates[0].verdict.kind == .noSignificantDifference)
        #expect(r.candidates[1].verdict.kind == .faster)
        #expect(abs(r.candidates[1].verdict.factor - 2) < 1e-9)
        #expect(r.candidates[1].verdict.description == "2.00× faster")
        let e7 = #expect(throws: ProfilingError.self) {
            try Comparison.run(baseline: ComparisonSubject("a") {}, candidates: [])
        }
        #expect({ if case .invalidArgument(name: "candidates", reason: _)? = e7 { true } else { false } }(), "\(String(describing: e7))")
        var fewer = ComparisonOptions()
        fewer.maxRounds = fewer.rounds - 1
        let e8 = #expect(throws: ProfilingError.self) {
            try Comparison.run(baseline: ComparisonSubject("a") {}, candidates: [ComparisonSubject("b") {}], options: fewer)
        }
        #expect({ if case .invalidArgument(name: "maxRounds", reason: _)? = e8 { true } else { false } }(), "\(String(describing: e8))")
        // Settled: a difference, or an interval inside the band; unsettled: a wide interval around 1.
        let identical = try Comparison.analyze(baselineName: "base", baseline: base, candidates: [("same", base)], options: o)
        #expect(Comparison.decided(identical.candidates[0], o))
        #expect(Comparison.decided(r.candidates[1], o))
        let wide = (0..<40).map { _ in 100 * Double.random(in: 0.5...1.5, using: &rng) }
        let unsure = try Comparison.analyze(baselineName: "base", baseline: base, candidates: [("wide", wide)], options: o)
        #expect(unsure.candidates[0].verdict.kind == .noSignificantDifference)
        #expect(!Comparison.decided(unsure.candidates[0], o))
    }
}
