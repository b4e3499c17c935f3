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
        #expect(built.map(\.name) == ["simd", "hnsw", "memory"])
        #expect(absent.map(\.name) == ["flash-attention", "quantization", "adaptation"])
        #expect(absent.allSatisfy { $0.absentLine?.contains("module not built yet") == true })
        #expect(built.allSatisfy { $0.absentLine == nil })
    }

    @Test func allRegistersEveryBuiltSuiteInOrder() throws {
        let suite = try SuiteCatalog.fake().makeSuite("all", context: context())
        #expect(suite.suites == ["simd", "memory"])
        #expect(suite.cases.allSatisfy { $0.name.hasPrefix($0.suite + ".") })
        #expect(Set(suite.cases.map(\.name)).count == suite.cases.count)
        let names = suite.cases.map(\.name)
        for expected in ["simd.dot-f32-768.avx2-vs-scalar", "simd.dot-f32-768.avx512-vs-scalar",
                         "simd.l2sq-f32-scan.stream-fraction", "simd.i8-vs-f32-scan", "simd.matmul-256.tensor-vs-sgemm",
                         "memory.stream-triad", "memory.roofline.peak-flops", "memory.f16-storage-reduction",
                         "memory.int8-storage-reduction", "memory.buffer-pool-hit-rate", "memory.recorder-cost",
                         "memory.cli-startup"] {
            #expect(names.contains(expected), "missing \(expected)")
        }
    }

    @Test func hnswSuiteRegistersItsCasesWithoutRunningThem() throws {
        let suite = try SuiteCatalog.standard().makeSuite("hnsw", context: context())
        #expect(suite.suites == ["hnsw"])
        #expect(suite.cases.map(\.name) == ["hnsw.recall-at-10", "hnsw.speedup-vs-flat-scan", "hnsw.qps", "hnsw.build"])
        #expect(suite.cases[0].target?.minimum == 0.95)
        #expect(suite.cases[1].target?.minimum == 150)
    }

    @Test func aSingleSuiteRegistersOnlyItsCases() throws {
        let simd = try SuiteCatalog.fake().makeSuite("simd", context: context())
        #expect(simd.suites == ["simd"])
        let memory = try SuiteCatalog.fake().makeSuite("memory", context: context())
        #expect(memory.suites == ["memory"])
        #expect(!memory.cases.isEmpty)
    }

    @Test(arguments: ["flash-attention", "hnsw", "quantization", "adaptation"])
    func anAbsentModuleHasNoCases(_ name: String) throws {
        let catalog = SuiteCatalog.fake()
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
        let result = try BenchmarkRunner.test(.fake(), output: output).run(BenchmarkRequest(suite: "all"))
        #expect(Set(result.report.results.map(\.suite)) == ["simd", "memory"])
        for name in ["flash-attention", "hnsw", "quantization", "adaptation"] {
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
        var catalog = SuiteCatalog.fake()
        let index = try #require(catalog.entries.firstIndex { $0.name == "hnsw" })
        catalog.entries[index] = .built("hnsw") { suite, _ in
            try suite.register(BenchmarkCase(name: "hnsw.speedup-vs-flat", suite: "hnsw", summary: "fake",
                                             target: .atLeast(150, "×", metric: "HNSW vs brute force")) { _ in
                BenchmarkOutcome(value: 200, unit: "×")
            })
        }
        let result = try BenchmarkRunner.test(catalog, output: OutputCollector()).run(BenchmarkRequest(suite: "hnsw"))
        #expect(result.report.results.map(\.name) == ["hnsw.speedup-vs-flat"])
        #expect(result.report.results.first?.status == .pass)
    }
}
