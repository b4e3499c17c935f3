import Kestrel
import Testing

@testable import KestrelCLI

/// Command-line validation of `benchmark`, `profile`, `analyze` and `report`: bad requests are
/// refused before anything is measured.
@Suite struct BenchmarkArgumentTests {
    @Test func benchmarkAcceptsEverySuiteName() throws {
        for name in ["all"] + SuiteCatalog.names {
            let c = try BenchmarkCommand.parse(["--suite", name])
            #expect(c.request.suite == name)
        }
        let c = try BenchmarkCommand.parse([])
        #expect(c.request == BenchmarkRequest())
    }

    @Test func benchmarkOptionsReachTheRequest() throws {
        let c = try BenchmarkCommand.parse([
            "--suite", "memory", "--json", "--save", "a.json", "--baseline", "b.json", "--plot", "dir", "--quick",
            "--strict", "--threshold", "12.5",
        ])
        #expect(c.request == BenchmarkRequest(suite: "memory", json: true, save: "a.json", baseline: "b.json", plot: "dir",
                                              strict: true, regressionThreshold: 0.125, quick: true))
    }

    @Test(arguments: [
        ["--suite", "gpu"],
        ["--suite", "SIMD"],
        ["--suite", ""],
        ["--threshold", "-1"],
        ["--threshold", "nan"],
        ["--save", ""],
        ["--baseline", ""],
        ["--plot", ""],
        ["--op", "dot"],
        ["extra"],
    ])
    func benchmarkRejects(_ args: [String]) {
        #expect(throws: (any Error).self) { try BenchmarkCommand.parse(args) }
    }

    @Test func analyzeTargets() throws {
        for t in AnalyzeTarget.allCases {
            #expect(try AnalyzeCommand.parse(["--target", t.rawValue]).target == t)
        }
        _ = try AnalyzeCommand.parse(["--target", "scaling", "--threads", "4", "--quick"])
        _ = try AnalyzeCommand.parse(["--target", "roofline", "--remeasure"])
    }

    @Test(arguments: [
        [String](),
        ["--target", "cpu"],
        ["--target", "scaling", "--threads", "0"],
        ["--target", "latency", "--threads", "2"],
        ["--target", "memory", "--remeasure"],
    ])
    func analyzeRejects(_ args: [String]) {
        #expect(throws: (any Error).self) { try AnalyzeCommand.parse(args) }
    }

    @Test func reportFormats() throws {
        #expect(try ReportCommand.parse([]).format == .detailed)
        for f in ReportFormat.allCases {
            #expect(try ReportCommand.parse(["--format", f.rawValue, "--input", "r.json"]).format == f)
        }
        #expect(throws: (any Error).self) { try ReportCommand.parse(["--format", "html"]) }
        #expect(throws: (any Error).self) { try ReportCommand.parse(["--input", ""]) }
    }

    @Test func profileValidatesTheScanLikeKernelBench() throws {
        _ = try ProfileCommand.parse([])
        _ = try ProfileCommand.parse(["--workload", "matmul", "--size", "256", "--calls", "5", "--json"])
        _ = try ProfileCommand.parse(["--op", "hamming", "--dtype", "b1", "--dim", "1024", "--count", "10"])
        for bad in [["--op", "hamming"], ["--dtype", "f64"], ["--count", "0"], ["--calls", "0"],
                    ["--workload", "matmul", "--size", "0"], ["--workload", "attention"]] {
            #expect(throws: (any Error).self) { try ProfileCommand.parse(bad) }
        }
    }
}
