import Kestrel
import Testing

@testable import KestrelCLI

/// Which cases `--suite` selects: `all` runs every built suite, a single name only its own
/// cases, and a suite whose module does not exist has no cases at all (never fake ones).
@Suite struct SuiteSelectionTests {
    private func context() -> SuiteContext { SuiteContext(settings: .quick, charts: BenchmarkCharts()) }

    @Test func standardCatalogKnowsTheIssueSuitesAndOnlyBuildsExistingModules() throws {
        let catalog = SuiteCatalog.standard()
        #expect(catalog.entries.map(\.name) == SuiteCatalog.names)
        #expect(catalog.acceptedNames == ["all"] + SuiteCatalog.names)
        let (built, absent) = try catalog.select("all")
        #expect(built.map(\.name) == ["simd", "flash-attention", "hnsw", "quantization", "adaptation", "memory", "mcp", "wasm-simd"])
        #expect(absent.isEmpty)
        #expect(built.allSatisfy { $0.absentLine == nil })
    }

    @Test func allRegistersEveryBuiltSuiteInOrder() throws {
        let suite = try SuiteCatalog.fake().makeSuite("all", context: context())
        #expect(suite.suites == ["simd", "flash-attention", "hnsw", "quantization", "adaptation", "memory", "mcp", "wasm-simd"])
        #expect(suite.cases.allSatisfy { $0.name.hasPrefix($0.suite + ".") })
        #expect(Set(suite.cases.map(\.name)).count == suite.cases.count)
        let names = suite.cases.map(\.name)
        for expected in ["simd.dot-f32-768.avx2-vs-scalar", "simd.dot-f32-768.avx512-vs-scalar",
                         "simd.l2sq-f32-scan.stream-fraction", "simd.i8-vs-f32-scan", "simd.matmul-256.tensor-vs-sgemm",
                         "memory.stream-triad", "memory.roofline.peak-flops", "memory.f16-storage-reduction",
                         "memory.int8-storage-reduction", "memory.buffer-pool-hit-rate", "memory.recorder-cost",
                         "memory.cli-startup", "hnsw.recall-at-10", "hnsw.speedup-growth", "hnsw.size-for-150x",
                         "quantization.fixture-bytes", "quantization.int8-memory", "quantization.q4_0-memory",
                         "quantization.q4_0-snr", "quantization.q8_0-quantize-throughput", "quantization.q4_0-gemv-vs-sgemv",
                         "flash-attention.speedup.n4096.causal", "flash-attention.workspace-share.n4096",
                         "flash-attention.backward-over-forward.n2048",
                         "adaptation.autotuner.regret.patient", "adaptation.autotuner.hnsw-ef.qps-vs-sweep",
                         "mcp.initialize", "mcp.kernel-info-p50", "mcp.kernel-info-p95"] {
            #expect(names.contains(expected), "missing \(expected)")
        }
    }

    @Test func hnswSuiteRegistersItsCasesWithoutRunningThem() throws {
        let suite = try SuiteCatalog.standard().makeSuite("hnsw", context: context())
        #expect(suite.suites == ["hnsw"])
        #expect(suite.cases.map(\.name) == ["hnsw.recall-at-10", "hnsw.speedup-vs-flat-scan", "hnsw.speedup-growth",
                                            "hnsw.size-for-150x", "hnsw.qps", "hnsw.build"])
        #expect(suite.cases.map(\.target?.minimum) == [0.95, nil, 0.5, nil, nil, nil])
        // No case is judged against a figure that only holds at another index size.
        #expect(!suite.cases.contains { $0.target?.minimum == 150 })
    }

    @Test func aSingleSuiteRegistersOnlyItsCases() throws {
        let simd = try SuiteCatalog.fake().makeSuite("simd", context: context())
        #expect(simd.suites == ["simd"])
        let memory = try SuiteCatalog.fake().makeSuite("memory", context: context())
        #expect(memory.suites == ["memory"])
        #expect(!memory.cases.isEmpty)
    }

    @Test(arguments: ["adaptation"])
    func anAbsentModuleHasNoCases(_ name: String) throws {
        let catalog = SuiteCatalog.fakeWithAbsentAdaptation()
        let (built, absent) = try catalog.select(name)
        #expect(built.isEmpty)
        #expect(absent.map(\.name) == [name])
        #expect(try catalog.makeSuite(name, context: context()).cases.isEmpty)

        let output = OutputCollector()
        let result = try BenchmarkRunner.test(catalog, output: output).run(BenchmarkRequest(suite: name))
        #expect(result.report.results.isEmpty)
        #expect(result.report.suite == name)
        #expect(result.exitCode == 0)
        #expect(output.out.contains("\(name): module not built yet"))
        #expect(output.out.contains("no cases"))
    }

    @Test func allNamesTheAbsentSuitesAndRunsTheRest() throws {
        let output = OutputCollector()
        let result = try BenchmarkRunner.test(.fakeWithAbsentAdaptation(), output: output).run(BenchmarkRequest(suite: "all"))
        #expect(Set(result.report.results.map(\.suite)) == ["simd", "flash-attention", "hnsw", "quantization", "memory", "mcp", "wasm-simd"])
        for name in ["adaptation"] {
            #expect(output.out.contains(name))
            #expect(!result.report.results.contains { $0.suite == name })
        }
        // The run ends with the targets table.
        let tail = output.out.components(separatedBy: "Status  Case").last ?? ""
        #expect(tail.contains("memory.cli-startup"))
        #expect(tail.contains("PASS"))
    }

    @Test func unknownSuitesAreRefused() {
        let e1 = #expect(throws: KestrelError.self) { try SuiteCatalog.standard().select("gpu") }
        #expect({ if case .invalidArgument(name: "suite", reason: _)? = e1 { true } else { false } }(), "\(String(describing: e1))")
        #expect(throws: (any Error).self) { try SuiteCatalog.fake().makeSuite("gpu", context: context()) }
    }

    @Test func addingASuiteIsOneRegistration() throws {
        var catalog = SuiteCatalog.fakeWithAbsentAdaptation()
        let index = try #require(catalog.entries.firstIndex { $0.name == "adaptation" })
        catalog.entries[index] = .built("adaptation") { suite, _ in
            try suite.register(BenchmarkCase(name: "adaptation.update-latency", suite: "adaptation", summary: "fake",
                                             target: .atLeast(3.5, "×", metric: "fake target")) { _ in
                BenchmarkOutcome(value: 3.9, unit: "×")
            })
        }
        let result = try BenchmarkRunner.test(catalog, output: OutputCollector()).run(BenchmarkRequest(suite: "adaptation"))
        #expect(result.report.results.map(\.name) == ["adaptation.update-latency"])
        #expect(result.report.results.first?.status == .pass)
    }

    /// The quantization suite's cases with fixed GEMV timings and the real fixtures: every verdict
    /// follows from the figures (memory by formula, SNR and bytes from the library on seeded data).
    @Test func quantizationSuiteJudgesItsFigures() throws {
        let fixtures = try #require(QuantizationSuite.checkoutFixtures())
        let q = QuantizationSuite(settings: .quick, fixtures: fixtures, probe: FakeQuantBench())
        var suite = BenchmarkSuite()
        try q.register(into: &suite)
        let report = try suite.run()
        func result(_ name: String) throws -> BenchmarkCaseResult { try #require(report.results.first { $0.name == name }, "\(name)") }
        #expect(try result("quantization.fixture-bytes").value == 100)
        #expect(try result("quantization.fixture-bytes").status == .pass)
        #expect(try result("quantization.int8-memory").value == Double(4096 * 4096 + 4096 * 4) / Double(4096 * 4096 * 4))
        #expect(try result("quantization.q4_0-memory").value == 18.0 / 128.0)
        #expect(try result("quantization.q8_0-gemv-vs-sgemv").value == 2.5)
        #expect(try result("quantization.q4_0-gemv-vs-sgemv").status == .pass)
        #expect(abs((try result("quantization.int8-quantize-throughput").value ?? 0) - 4) < 1e-9)
        // Gaussian weights: the SNR cases agree with a report computed here.
        let x = try Tensor(QuantizationSuite.gaussian(rows: 64, seed: 16), shape: [64, 256])
        let r = try QuantizationReport(name: "q4_0", tensor: x, quantizer: try QuantizerCatalog.quantizer(named: "q4_0"))
        #expect(try result("quantization.q4_0-snr").value == r.snrDB)
        let fake = QuantizationSuite(settings: .quick, fixtures: nil, probe: FakeQuantBench())
        var none = BenchmarkSuite()
        try fake.register(into: &none)
        #expect(try none.run().results.first { $0.name == "quantization.fixture-bytes" }?.status != .pass)
    }
}
