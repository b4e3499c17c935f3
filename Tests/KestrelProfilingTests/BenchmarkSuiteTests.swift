import Foundation
import Testing
@testable import KestrelProfiling

/// A thrown error that is not a ProfilingError (as other modules' cases throw KestrelError).
struct CaseFailure: Error, CustomStringConvertible {
    var description: String { "index file missing" }
}

@Suite("Benchmark suite, targets, reports and baselines")
struct BenchmarkSuiteTests {
    static let environment = BenchmarkEnvironment(
        cpuModel: "Test CPU", architecture: "x86_64", logicalCores: 2, activeCores: 2, isaLevel: "avx2",
        operatingSystem: "Linux 6.1", toolchain: "Swift compiler 6.3", buildConfiguration: "release", libraryVersion: "0.1.0",
        gitCommit: "abc1234", physicalMemoryBytes: 24 << 30,
        clock: ClockCalibration(source: "clock_gettime(CLOCK_MONOTONIC)", overheadNanoseconds: 18.5, resolutionNanoseconds: 1, batches: 312))

    /// The seed targets of the field, with made-up measured values (no real module is measured here).
    static func suite(speedup: Double = 3.1, hnsw: Double = 180, latencyMs: Double = 0.03) throws -> BenchmarkSuite {
        var s = BenchmarkSuite()
        try s.register(BenchmarkCase(name: "flash-attention.speedup", suite: "flash-attention", summary: "flash vs naive, L=2048",
                                     target: .atLeast(2.49, "×", metric: "speedup")) { ctx in
            ctx.report("L=2048")
            return BenchmarkOutcome(value: speedup, unit: "×",
                                    interval: ConfidenceInterval(estimate: speedup, lower: speedup * 0.97, upper: speedup * 1.03, level: 0.95))
        })
        try s.register(BenchmarkCase(name: "hnsw.speedup-vs-brute-force", suite: "hnsw", summary: "HNSW vs flat at recall ≥ 0.95",
                                     target: .atLeast(150, "×", metric: "speedup")) { _ in
            BenchmarkOutcome(value: hnsw, metrics: ["recall@10": 0.962, "qps": 41_000])
        })
        try s.register(BenchmarkCase(name: "quantization.memory-reduction", suite: "quantization", summary: "int8 vs f32 storage",
                                     target: .between(50, 75, "%", metric: "memory reduction")) { _ in
            // CI crosses the upper bound: meets the target but not surely → WARN.
            BenchmarkOutcome(value: 74, interval: ConfidenceInterval(estimate: 74, lower: 72, upper: 76, level: 0.95))
        })
        try s.register(BenchmarkCase(name: "adaptation.latency", suite: "adaptation", summary: "Micro-LoRA update",
                                     target: .below(0.05, "ms", metric: "latency")) { _ in BenchmarkOutcome(value: latencyMs) })
        try s.register(BenchmarkCase(name: "cli.startup", suite: "memory", summary: "kestrel --help",
                                     target: .below(500, "ms", metric: "start-up"),
                                     skipReason: { "no kestrel binary in this test" }) { _ in BenchmarkOutcome(value: 1) })
        try s.register(BenchmarkCase(name: "hnsw.build", suite: "hnsw", summary: "throws", target: .atLeast(1, "×", metric: "x")) { _ in
            throw CaseFailure()
        })
        try s.register(BenchmarkCase(name: "simd.dot-latency", suite: "simd", summary: "no target: informational") { _ in
            var r = try LatencyRecorder()
            for v: UInt64 in [100, 120, 130, 5_000] { r.record(v) }
            return BenchmarkOutcome(value: Double(r.percentile(50)), unit: "ns", latency: r.summary(), notes: ["tiny sample"])
        })
        return s
    }

    @Test("targets judge values, intervals and margins")
    func targets() {
        let min = BenchmarkTarget.atLeast(2.49, "×", metric: "speedup")
        #expect(min.evaluate(2.49) == .pass && min.evaluate(2.48) == .fail && min.evaluate(.nan) == .fail)
        #expect(min.evaluate(2.6, interval: ConfidenceInterval(estimate: 2.6, lower: 2.4, upper: 2.8, level: 0.95)) == .warn)
        #expect(min.description == "≥ 2.49 ×" && min.higherIsBetter == true)
        let max = BenchmarkTarget.below(500, "ms", metric: "start-up")
        #expect(max.evaluate(499) == .pass && max.evaluate(500) == .fail)
        #expect(max.description == "< 500 ms" && max.higherIsBetter == false)
        let range = BenchmarkTarget.between(50, 75, "%", metric: "reduction")
        #expect(range.evaluate(50) == .pass && range.evaluate(75) == .pass && range.evaluate(75.1) == .fail && range.evaluate(49) == .fail)
        #expect(range.description == "50–75 %" && range.higherIsBetter == nil)
        var margin = BenchmarkTarget.below(0.05, "ms", metric: "latency")
        margin.warnMargin = 0.1
        #expect(margin.evaluate(0.046) == .warn && margin.evaluate(0.03) == .pass)
    }

    @Test("registration rejects duplicates and unknown suites")
    func registration() throws {
        var s = try Self.suite()
        #expect(s.suites == ["flash-attention", "hnsw", "quantization", "adaptation", "memory", "simd"])
        #expect(try s.cases(inSuite: "hnsw").map(\.name) == ["hnsw.speedup-vs-brute-force", "hnsw.build"])
        #expect(try s.cases(inSuite: "all").count == 7 && s.cases(inSuite: nil).count == 7)
        let e1 = #expect(throws: ProfilingError.self) { try s.cases(inSuite: "nope") }
        #expect({ if case .invalidArgument(name: "suite", reason: _)? = e1 { true } else { false } }(), "\(String(describing: e1))")
        let e2 = #expect(throws: ProfilingError.self) {
            try s.register(BenchmarkCase(name: "hnsw.build", suite: "hnsw", summary: "") { _ in BenchmarkOutcome(value: 1) })
        }
        #expect({ if case .invalidArgument(name: "name", reason: _)? = e2 { true } else { false } }(), "\(String(describing: e2))")
        let e3 = #expect(throws: ProfilingError.self) {
            try s.register(BenchmarkCase(name: "x", suite: "all", summary: "") { _ in BenchmarkOutcome(value: 1) })
        }
        #expect({ if case .invalidArgument(name: "suite", reason: _)? = e3 { true } else { false } }(), "\(String(describing: e3))")
    }

    @Test("running reports PASS/WARN/FAIL/SKIP/INFO with progress events")
    func run() throws {
        var events = [String]()
        let report = try Self.suite().run(environment: Self.environment) { event in
            switch event {
            case .started(let name, let i, let n): events.append("start \(name) \(i)/\(n)")
            case .message(let name, let text): events.append("msg \(name) \(text)")
            case .finished(let r, _, _): events.append("done \(r.name) \(r.status.rawValue)")
            }
        }
        let status = Dictionary(uniqueKeysWithValues: report.results.map { ($0.name, $0.status) })
        #expect(status["flash-attention.speedup"] == .pass)
        #expect(status["hnsw.speedup-vs-brute-force"] == .pass)
        #expect(status["quantization.memory-reduction"] == .warn)
        #expect(status["adaptation.latency"] == .pass)
        #expect(status["cli.startup"] == .skipped)
        #expect(status["hnsw.build"] == .fail)
        #expect(status["simd.dot-latency"] == .info)
        #expect(report.results.first { $0.name == "hnsw.build" }?.error == "index file missing")
        #expect(report.results.first { $0.name == "cli.startup" }?.value == nil)
        #expect(events.first == "start flash-attention.speedup 0/7")
        #expect(events.contains("msg flash-attention.speedup L=2048"))
        #expect(events.filter { $0.hasPrefix("done") }.count == 7)
        #expect(!report.passed)
        #expect(report.statusCounts[.pass] == 3)
        #expect(report.summaryLine.hasPrefix("3 PASS, 1 WARN, 1 FAIL, 1 SKIP, 1 INFO"))

        var printed = ""
        let printer = BenchmarkProgressPrinter(enabled: true) { printed += $0 }
        let onlyHNSW = try Self.suite().run(suite: "hnsw", environment: Self.environment) { printer($0) }
        #expect(printed.contains("[1/2] hnsw.speedup-vs-brute-force …"))
        #expect(printed.contains("[2/2] FAIL hnsw.build error"))
        var quiet = ""
        let off = BenchmarkProgressPrinter(enabled: false) { quiet += $0 }
        _ = try Self.suite().run(suite: "hnsw", environment: Self.environment) { off($0) }
        #expect(quiet.isEmpty)
        #expect(onlyHNSW.results.count == 2 && onlyHNSW.suite == "hnsw")
    }

    @Test("reports render as terminal table, targets table and Markdown")
    func rendering() throws {
        var report = try Self.suite().run(environment: Self.environment)
        report.findings = BottleneckDetector().analyze([{
            var o = BottleneckTests.benign("hnsw.search")
            o.latency = BottleneckTests.latency(p50: 1, p95: 5, p99: 20)
            return o
        }()])
        let targets = report.targetsTable()
        #expect(targets.contains("flash-attention.speedup") && targets.contains("≥ 2.49 ×") && targets.contains("3.1×"))
        #expect(!targets.contains("simd.dot-latency"))  // no target
        #expect(targets.contains("skipped: no kestrel binary"))
        let lines = targets.split(separator: "\n")
        #expect(lines[0].hasPrefix("Status") && lines[1].hasPrefix("------"))
        let terminal = report.terminalReport()
        #expect(terminal.contains("Test CPU") && terminal.contains("ISA level: avx2") && terminal.contains("abc1234"))
        #expect(terminal.contains("recall@10=0.962") && terminal.contains("error: index file missing"))
        #expect(terminal.contains("tail latency"))
        #expect(report.targetsTable(colors: true).contains("\u{1B}[32mPASS"))
        let md = report.markdown()
        #expect(md.contains("| Status | Suite | Case | Measured | Target |"))
        #expect(md.contains("| PASS | flash-attention | flash-attention.speedup |"))
        #expect(md.contains("## Findings"))
        #expect(TextTable(header: ["a", "b"], rows: [["\u{1B}[31mFAIL\u{1B}[0m", "x"]]).render().contains("FAIL\u{1B}[0m  x"))
    }

    @Test("reports round-trip through JSON, files and schema checks")
    func json() throws {
        var report = try Self.suite().run(environment: Self.environment)
        let comparison = try Comparison.analyze(baselineName: "naive", baseline: [10, 11, 12, 10, 11], candidates: [("flash", [4, 5, 4, 5, 4])])
        report.results[0].comparison = comparison
        report.results[1].metrics["nan-metric"] = .nan  // non-finite figures must not break the file
        let data = try report.jsonData()
        var decoded = try BenchmarkReport.decode(data)
        #expect(decoded.results[1].metrics["nan-metric"]!.isNaN)
        decoded.results[1].metrics["nan-metric"] = nil
        report.results[1].metrics["nan-metric"] = nil
        #expect(decoded == report)
        #expect(String(decoding: data, as: UTF8.self).contains("\"schemaVersion\" : 1"))

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kestrel-report-\(UInt64.random(in: 0...UInt64.max))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("runs/baseline.json")
        try report.save(to: file)
        #expect(try BenchmarkReport.load(from: file) == report)

        var json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        json["schemaVersion"] = 99
        let future = try JSONSerialization.data(withJSONObject: json)
        #expect(throws: ProfilingError.unsupportedVersion(found: 99, supported: 1...1)) { try BenchmarkReport.decode(future) }
        let e4 = #expect(throws: ProfilingError.self) { try BenchmarkReport.decode(Data("[1,2]".utf8)) }
        #expect({ if case .corruptFile(reason: _)? = e4 { true } else { false } }(), "\(String(describing: e4))")
        json["schemaVersion"] = 1
        json["results"] = "not an array"
        let broken = try JSONSerialization.data(withJSONObject: json)
        #expect {
            try BenchmarkReport.decode(broken)
        } throws: { error in
            if case ProfilingError.corruptFile = error { return true }
            return false
        }
        // Unreadable files say why in the system's words, not as an NSError dump.
        let missing = dir.appendingPathComponent("missing.json")
        let e5 = #expect(throws: ProfilingError.self) { try BenchmarkReport.load(from: missing) }
        #expect(e5 == .io(path: missing.path, reason: "\(String(cString: strerror(ENOENT))) (errno \(ENOENT))"))
        let e6 = #expect(throws: ProfilingError.self) { try BenchmarkReport.load(from: dir) }
        #expect(e6 == .io(path: dir.path, reason: "\(String(cString: strerror(EISDIR))) (errno \(EISDIR))"))
    }

    @Test("baseline comparison flags regressions beyond the threshold only")
    func baseline() throws {
        let base = try Self.suite(speedup: 3.1, hnsw: 180, latencyMs: 0.030).run(environment: Self.environment)
        var env = Self.environment
        env.isaLevel = "avx512"
        // speedup −20 % (CIs ±3 % do not overlap): regression; hnsw +2 %: within threshold;
        // latency 0.030 → 0.020 ms: improvement (lower is better for a `below` target).
        var current = try Self.suite(speedup: 2.48, hnsw: 183.6, latencyMs: 0.020).run(environment: env)
        current.results.removeAll { $0.name == "simd.dot-latency" }
        let cmp = try BaselineComparison.compare(current: current, baseline: base, threshold: 0.05)
        #expect(cmp.regressions.map(\.name) == ["flash-attention.speedup"])
        #expect(cmp.improvements.map(\.name) == ["adaptation.latency"])
        let flash = try #require(cmp.deltas.first { $0.name == "flash-attention.speedup" })
        #expect(abs(flash.changePercent - (2.48 - 3.1) / 3.1 * 100) < 1e-9)
        #expect(flash.statusChange == "PASS → FAIL")
        #expect(cmp.missing == ["simd.dot-latency"])
        #expect(cmp.environmentDifferences == ["isaLevel: avx2 → avx512"])
        #expect(cmp.terminalReport().contains("REGRESSION") && cmp.terminalReport().contains("1 regression(s)"))
        #expect(cmp.markdown().contains("**REGRESSION**"))

        // Overlapping intervals: a 5.2 % drop with ±3 % intervals is not flagged.
        let noisy = try Self.suite(speedup: 3.1 * 0.948).run(environment: Self.environment)
        #expect(try BaselineComparison.compare(current: noisy, baseline: base).regressions.isEmpty)
        let e6 = #expect(throws: ProfilingError.self) { try BaselineComparison.compare(current: noisy, baseline: base, threshold: -1) }
        #expect({ if case .invalidArgument(name: "threshold", reason: _)? = e6 { true } else { false } }(), "\(String(describing: e6))")
    }
}
