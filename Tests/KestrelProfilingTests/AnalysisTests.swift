import Foundation
import Testing
@testable import KestrelProfiling

@Suite("Bottleneck rules")
struct BottleneckTests {
    static func latency(p50 ms50: Double, p95 ms95: Double, p99 ms99: Double) -> LatencySummary {
        func ns(_ ms: Double) -> UInt64 { UInt64(ms * 1e6) }
        return LatencySummary(count: 1000, min: ns(ms50 / 2), max: ns(ms99 * 1.2), mean: ms50 * 1e6, standardDeviation: 1e5,
                              p50: ns(ms50), p90: ns(ms95 * 0.9), p95: ns(ms95), p99: ns(ms99), p999: ns(ms99 * 1.1),
                              significantDigits: 3, buckets: [])
    }

    static func usage(cpuOfMachine: Double = 40, involuntary: UInt64 = 10, major: UInt64 = 0) -> ProcessUsage {
        ProcessUsage(wallSeconds: 1, cpuSeconds: cpuOfMachine / 50, cpuPercent: cpuOfMachine * 2, cpuPercentOfMachine: cpuOfMachine,
                     residentBytes: 1 << 30, peakResidentBytes: 1 << 31, minorFaults: 100, majorFaults: major,
                     voluntaryContextSwitches: 50, involuntaryContextSwitches: involuntary)
    }

    static let model = RooflineModel(peaks: RooflineTests.peaks())  // 100 GFLOP/s, 10 GB/s, ridge 10

    static func roofline(memoryPercent: Double? = nil, computePercent: Double? = nil) -> RooflinePoint {
        if let c = computePercent {  // AI 100 → attainable 100 GFLOP/s
            return try! model.classify(flops: 1e9, bytes: 1e7, seconds: 1e9 / (c / 100 * 100e9))
        }
        let p = memoryPercent ?? 50  // AI 0.25
        return try! model.classify(flops: 2.5e8, bytes: 1e9, seconds: 1e9 / (p / 100 * 10e9))
    }

    static func counters(ipc: Double = 1.5, missRate: Double = 0.05) -> CounterReport {
        let cycles: UInt64 = 1_000_000_000
        return CounterReport(readings: [
            CounterReading(counter: .cycles, value: cycles, scaled: false, unavailableReason: nil),
            CounterReading(counter: .instructions, value: UInt64(Double(cycles) * ipc), scaled: false, unavailableReason: nil),
            CounterReading(counter: .cacheReferences, value: 1_000_000, scaled: false, unavailableReason: nil),
            CounterReading(counter: .cacheMisses, value: UInt64(1_000_000 * missRate), scaled: false, unavailableReason: nil),
        ])
    }

    static func benign(_ name: String = "search") -> ComponentObservation {
        ComponentObservation(component: name, latency: latency(p50: 1, p95: 2, p99: 3), usage: usage(),
                             memory: MemoryStatus(totalBytes: 16 << 30, availableBytes: 8 << 30), roofline: roofline(),
                             counters: counters(), outliers: OutlierReport((0..<30).map { 100 + Double($0) }))
    }

    @Test("a benign observation produces no finding")
    func silent() {
        #expect(BottleneckDetector().analyze([Self.benign()]).isEmpty)
        #expect(BottleneckDetector().analyze([ComponentObservation(component: "empty")]).isEmpty)
    }

    @Test("every rule fires on a case built to trigger it, and only that rule")
    func eachRuleFires() throws {
        typealias Rule = BottleneckFinding.Rule
        var cases = [Rule: ComponentObservation]()
        var o = Self.benign()
        o.usage = Self.usage(cpuOfMachine: 90); cases[.cpuSaturation] = o
        o = Self.benign(); o.memory = MemoryStatus(totalBytes: 16 << 30, availableBytes: 1 << 30); cases[.memoryPressure] = o
        o = Self.benign(); o.latency = Self.latency(p50: 50, p95: 150, p99: 180); cases[.latencyP95] = o
        o = Self.benign(); o.latency = Self.latency(p50: 30, p95: 90, p99: 250); cases[.latencyP99] = o
        o = Self.benign(); o.latency = Self.latency(p50: 1, p95: 5, p99: 20); cases[.tailLatency] = o
        o = Self.benign(); o.roofline = Self.roofline(memoryPercent: 85); cases[.bandwidthBound] = o
        o = Self.benign(); o.roofline = Self.roofline(computePercent: 10); cases[.computeUnderused] = o
        o = Self.benign(); o.counters = Self.counters(ipc: 0.5); cases[.lowIPC] = o
        o = Self.benign(); o.counters = Self.counters(missRate: 0.4); cases[.cacheMisses] = o
        o = Self.benign(); o.usage = Self.usage(involuntary: 1_000); cases[.oversubscription] = o
        o = Self.benign(); o.usage = Self.usage(major: 50); cases[.majorPageFaults] = o
        o = Self.benign(); o.outliers = OutlierReport(Array(repeating: 100, count: 24) + Array(repeating: 1000, count: 6))
        cases[.noisyMeasurement] = o
        #expect(Set(cases.keys) == Set(Rule.allCases))

        let detector = BottleneckDetector()
        for (rule, observation) in cases {
            let findings = detector.analyze([observation])
            #expect(findings.map(\.rule) == [rule], "\(rule): \(findings.map(\.rule))")
            let f = try #require(findings.first)
            #expect(f.component == "search")
            #expect(!f.summary.isEmpty && !f.recommendation.isEmpty)
            // Measured value beyond the threshold in the rule's direction.
            if rule == .lowIPC || rule == .computeUnderused { #expect(f.measured < f.threshold) } else { #expect(f.measured > f.threshold) }
        }
    }

    @Test("recommendations follow the measurement; severities scale; per-component thresholds apply")
    func details() throws {
        let detector = BottleneckDetector()
        var o = Self.benign()
        o.roofline = Self.roofline(memoryPercent: 95)
        let bw = try #require(detector.analyze([o]).first)
        #expect(bw.severity == .critical && bw.recommendation.contains("quantize"))
        o = Self.benign()
        o.latency = Self.latency(p50: 1, p95: 5, p99: 20)
        let tail = try #require(detector.analyze([o]).first)
        #expect(tail.recommendation.contains("allocation") && tail.recommendation.contains("contention"))
        #expect(abs(tail.measured - 20) < 0.01)
        o.latency = Self.latency(p50: 1, p95: 5, p99: 40)
        #expect(detector.analyze([o]).first?.severity == .critical)

        // p95 rule: all-slow vs tail-slow advice.
        o = Self.benign()
        o.latency = Self.latency(p50: 60, p95: 150, p99: 180)
        #expect(detector.analyze([o]).first?.recommendation.contains("every request is slow") == true)

        var relaxed = BottleneckThresholds()
        relaxed.latencyP95Milliseconds = 1_000
        relaxed.latencyP99Milliseconds = 2_000
        let configured = BottleneckDetector(configuration: BottleneckConfiguration(perComponent: ["batch": relaxed]))
        var batch = Self.benign("batch")
        batch.latency = Self.latency(p50: 50, p95: 150, p99: 180)
        var search = Self.benign("search")
        search.latency = batch.latency
        let findings = configured.analyze([batch, search])
        #expect(findings.map(\.component) == ["search"])

        // Most severe first across components.
        var critical = Self.benign("a"); critical.usage = Self.usage(cpuOfMachine: 99)
        var warning = Self.benign("b"); warning.usage = Self.usage(cpuOfMachine: 85)
        #expect(detector.analyze([warning, critical]).map(\.component) == ["a", "b"])
        let data = try JSONEncoder().encode(findings)
        #expect(try JSONDecoder().decode([BottleneckFinding].self, from: data) == findings)
    }
}

@Suite("Scaling and Amdahl fits on synthetic timings")
struct FitTests {
    @Test("power law recovers known exponents and fixed costs")
    func powerLaw() throws {
        let sizes = (0..<11).map { Double(1_000 << $0) }  // 1e3 … 1e6
        for (a, b, c) in [(3e-3, 1.5, 20.0), (0.5, 1.0, 0.0), (1e-6, 2.0, 1_000.0), (2.0, 0.5, 50.0)] {
            let costs = sizes.map { a * pow($0, b) + c }
            let fit = try PowerLawFit.fit(sizes: sizes, costs: costs)
            #expect(abs(fit.b - b) < 1e-3, "b=\(b) got \(fit.b)")
            #expect(abs(fit.a - a) / a < 1e-2, "a=\(a) got \(fit.a)")
            #expect(abs(fit.c - c) <= 1e-2 * max(c, 1), "c=\(c) got \(fit.c)")
            #expect(fit.rSquared > 0.999999)
            let big = 1e8
            #expect(abs(fit.predict(big) - (a * pow(big, b) + c)) / (a * pow(big, b) + c) < 0.02)
        }
        // ±3 % multiplicative noise (seeded): the exponent is still recovered to ±0.05.
        var rng = TestRNG(seed: 17)
        let noisy = sizes.map { 2e-2 * pow($0, 1.3) * (1 + Double.random(in: -0.03...0.03, using: &rng)) }
        let fit = try PowerLawFit.fit(sizes: sizes, costs: noisy)
        #expect(abs(fit.b - 1.3) < 0.05)
        #expect(fit.rmsRelativeError < 0.03)
        // n log n reads as slightly super-linear.
        let nlogn = try PowerLawFit.fit(sizes: sizes, costs: sizes.map { $0 * log2($0) })
        #expect(nlogn.b > 1.0 && nlogn.b < 1.2)
        #expect(try PowerLawFit.fit(sizes: sizes, costs: sizes.map { 5 * $0 }).complexity.hasSuffix("linear"))
        let e1 = #expect(throws: ProfilingError.self) { try PowerLawFit.fit(sizes: [1, 2], costs: [1, 2]) }
        #expect(e1 == .insufficientData(needed: 3, got: 2))
        let e2 = #expect(throws: ProfilingError.self) { try PowerLawFit.fit(sizes: [1, 2, 3], costs: [1, -2, 3]) }
        #expect({ if case .invalidArgument(name: "costs", reason: _)? = e2 { true } else { false } }(), "\(String(describing: e2))")
        let e3 = #expect(throws: ProfilingError.self) { try PowerLawFit.fit(sizes: [1, 2, 3], costs: [1, 2]) }
        #expect({ if case .invalidArgument(name: "costs", reason: _)? = e3 { true } else { false } }(), "\(String(describing: e3))")
    }

    @Test("power law without offset: least squares on logs")
    func powerLawWithoutOffset() throws {
        let sizes = [1e4, 3e4, 1e5, 3e5]
        // Exact data: a and b recovered, c is 0, R² 1.
        let exact = try PowerLawFit.fitWithoutOffset(sizes: sizes, costs: sizes.map { 0.03 * pow($0, 0.7) })
        #expect(abs(exact.b - 0.7) < 1e-12 && abs(exact.a - 0.03) / 0.03 < 1e-9 && exact.c == 0)
        #expect(exact.rSquared > 1 - 1e-12 && exact.points == 4)
        // Two sizes: b is the end-to-end growth.
        let two = try PowerLawFit.fitWithoutOffset(sizes: [1e4, 1e5], costs: [8, 32])
        #expect(abs(two.b - log(4) / log(10)) < 1e-12)
        // Noisy data: b against the textbook slope formula, written out independently.
        let ys = [12.3, 16.4, 33.8, 61.0]
        let lx = sizes.map { log10($0) }, ly = ys.map { log10($0) }
        let mx = lx.reduce(0, +) / 4, my = ly.reduce(0, +) / 4
        var sxy = 0.0, sxx = 0.0
        for (x, y) in zip(lx, ly) {
            sxy += (x - mx) * (y - my)
            sxx += (x - mx) * (x - mx)
        }
        let slope = sxy / sxx
        let noisy = try PowerLawFit.fitWithoutOffset(sizes: sizes, costs: ys)
        #expect(abs(noisy.b - slope) < 1e-12)
        #expect(abs(noisy.predict(1e5) - pow(10, my + slope * (5 - mx))) < 1e-9)
        #expect(noisy.rSquared < 1 && noisy.rSquared > 0.9)
        let e1 = #expect(throws: ProfilingError.self) { try PowerLawFit.fitWithoutOffset(sizes: [5, 5], costs: [1, 2]) }
        #expect(e1 == .insufficientData(needed: 2, got: 1))
        #expect(throws: ProfilingError.self) { try PowerLawFit.fitWithoutOffset(sizes: [1, 2], costs: [1, 0]) }
        #expect(throws: ProfilingError.self) { try PowerLawFit.fitWithoutOffset(sizes: [1, 2], costs: [1]) }
    }

    @Test("Amdahl fit recovers a known serial fraction")
    func amdahl() throws {
        let threads = Array(1...8)
        for s in [0.0, 0.05, 0.1, 0.5, 1.0] {
            let costs = threads.map { 100 * (s + (1 - s) / Double($0)) }
            let fit = try AmdahlFit.fit(threads: threads, costs: costs)
            #expect(abs(fit.serialFraction - s) < 1e-9, "s=\(s) got \(fit.serialFraction)")
            #expect(abs(fit.singleThreadCost - 100) < 1e-6)
        }
        let fit = try AmdahlFit.fit(threads: threads, costs: threads.map { 100 * (0.1 + 0.9 / Double($0)) })
        #expect(abs(fit.speedup(threads: 16) - 1 / (0.1 + 0.9 / 16)) < 1e-9)
        #expect(abs(fit.maximumSpeedup - 10) < 1e-6)
        #expect(abs(fit.predictedCost(threads: 4) - 100 * (0.1 + 0.9 / 4)) < 1e-6)
        var rng = TestRNG(seed: 23)
        let noisy = threads.map { 100 * (0.2 + 0.8 / Double($0)) * (1 + Double.random(in: -0.02...0.02, using: &rng)) }
        #expect(abs(try AmdahlFit.fit(threads: threads, costs: noisy).serialFraction - 0.2) < 0.03)
        let e4 = #expect(throws: ProfilingError.self) { try AmdahlFit.fit(threads: [2, 2], costs: [1, 1]) }
        #expect(e4 == .insufficientData(needed: 2, got: 1))
        let e5 = #expect(throws: ProfilingError.self) { try AmdahlFit.fit(threads: [0, 1], costs: [1, 1]) }
        #expect({ if case .invalidArgument(name: "threads", reason: _)? = e5 { true } else { false } }(), "\(String(describing: e5))")
    }

    @Test("scaling analysis measures and fits a real operation (shape only, no timing asserted)")
    func measuredScaling() throws {
        var options = MeasurementOptions.quick
        options.samples = 5
        options.minimumSamples = 3
        options.targetSampleNanoseconds = 200_000
        options.warmUpNanoseconds = 1_000_000
        let report = try ScalingAnalysis.sizes([1_000, 2_000, 4_000, 8_000], options: options) { blackHole(spin($0)) }
        #expect(report.sizes.count == 4 && report.medianNanoseconds.allSatisfy { $0 > 0 })
        // Real timings on a shared machine: only the shape of the result is checked, never a time.
        #expect(report.fit.b >= 0 && report.fit.b <= 4 && report.fit.points == 4)
        #expect(report.predict(16_000) > 0)
        let threads = try ScalingAnalysis.threads([1, 2], options: options) { _ in blackHole(spin(1_000)) }
        #expect(threads.fit.serialFraction >= 0 && threads.fit.serialFraction <= 1)
    }
}

@Suite("Component profiler")
struct ComponentProfilerTests {
    @Test("profiles an operation into an observation the detector can judge")
    func profile() throws {
        var profiler = ComponentProfiler(roofline: BottleneckTests.model)
        profiler.calls = 50
        let o = try profiler.profile("spin", flopsPerCall: 2_000, bytesPerCall: 8_000) { blackHole(spin(2_000)) }
        #expect(o.component == "spin")
        let latency = try #require(o.latency)
        #expect(latency.count == 50 && latency.p50 > 0 && latency.p99 >= latency.p50)
        #expect(o.usage.map { $0.cpuSeconds >= 0 && $0.residentBytes > 0 } == true)
        #expect(o.memory.map { $0.totalBytes > 0 } == true)
        #expect(o.roofline?.bound == .memory)  // 0.25 FLOP/B against a ridge of 10
        #expect(o.counters?.readings.count == PerfCounter.allCases.count)
        // Which rules fire on the real figures depends on this machine's load, so a planted
        // symptom (major faults) must be found on the profiled observation, named after it.
        #expect(BottleneckDetector().analyze([o]).allSatisfy { $0.component == "spin" })
        var planted = o
        planted.usage = BottleneckTests.usage(major: 50)
        let findings = BottleneckDetector().analyze([planted])
        #expect(findings.contains { $0.rule == .majorPageFaults })
        #expect(!findings.isEmpty && findings.allSatisfy { $0.component == "spin" })
        var none = ComponentProfiler()
        none.calls = 0
        let e6 = #expect(throws: ProfilingError.self) { try none.profile("x") {} }
        #expect({ if case .invalidArgument(name: "calls", reason: _)? = e6 { true } else { false } }(), "\(String(describing: e6))")
    }
}
