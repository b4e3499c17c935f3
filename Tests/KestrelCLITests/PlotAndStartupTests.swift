import Foundation
import Kestrel
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

@testable import KestrelCLI

/// `--plot` writes well-formed SVG (parsed as XML) and an index page; the start-up timer and the
/// commit lookup work with injected runners.
@Suite struct PlotAndStartupTests {
    private func wellFormed(_ url: URL) throws -> Bool {
        let parser = try #require(XMLParser(contentsOf: url))
        return parser.parse()
    }

    @Test func plotsAreWellFormedSVG() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let plots = dir.appendingPathComponent("plots")
        let output = OutputCollector()
        let result = try BenchmarkRunner.test(.fake(), output: output).run(BenchmarkRequest(plot: plots.path))
        let names = Set(result.files.map(\.lastPathComponent))
        #expect(names == ["latency-simd.l2sq-f32-query-latency.svg", "latency-memory.cli-startup.svg",
                          "latency-mcp.kernel-info-p50.svg", "latency-mcp.kernel-info-p95.svg",
                          "speedup-vs-dim.svg", "hnsw-recall-vs-qps.svg", "hnsw-speedup-vs-size.svg", "index.html"])
        for f in result.files where f.pathExtension == "svg" {
            #expect(try wellFormed(f), "\(f.lastPathComponent) is not well-formed XML")
            let text = try String(contentsOf: f, encoding: .utf8)
            #expect(text.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        }
        let sweep = try String(contentsOf: plots.appendingPathComponent("speedup-vs-dim.svg"), encoding: .utf8)
        #expect(sweep.contains("avx2") && sweep.contains("avx512"))
        let index = try String(contentsOf: plots.appendingPathComponent("index.html"), encoding: .utf8)
        for n in names where n.hasSuffix(".svg") { #expect(index.contains("src=\"\(n)\"")) }
        // The HNSW charts: one recall/QPS line with the fake's three ef points (QPS 2x, 1x, 0.5x
        // of the operating point at the largest full-run size), and the measured speedups beside their fit.
        let recall = try String(contentsOf: plots.appendingPathComponent("hnsw-recall-vs-qps.svg"), encoding: .utf8)
        #expect(recall.components(separatedBy: "<polyline").count - 1 == 1)
        #expect(recall.contains("100000 vectors") && recall.contains("recall@10"))
        let growth = try String(contentsOf: plots.appendingPathComponent("hnsw-speedup-vs-size.svg"), encoding: .utf8)
        #expect(growth.components(separatedBy: "<polyline").count - 1 == 2)
        #expect(growth.contains(">measured</text>") && growth.contains(">fit</text>"))
    }

    @Test func plotIntoAFileIsRefused() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("not-a-dir")
        try Data().write(to: file)
        let e1 = #expect(throws: KestrelError.self) {
            try PlotWriter.write(report: BenchmarkReport(environment: Fakes.environment, suite: "all", results: [],
                                                         durationSeconds: 0),
                                 lineCharts: [], to: file)
        }
        #expect({ if case .invalidArgument(name: "plot", reason: _)? = e1 { true } else { false } }(), "\(String(describing: e1))")
    }

    @Test func fileNamesAreSafe() {
        #expect(PlotWriter.fileSafe("simd.dot-f32_x") == "simd.dot-f32_x")
        #expect(PlotWriter.fileSafe("a/b c<d>") == "a_b_c_d_")
    }

    @Test func startupTimerUsesTheRunnerAndReportsMilliseconds() throws {
        let calls = OutputCollector()
        var next: UInt64 = 0
        let timer = StartupTimer(executable: URL(fileURLWithPath: "/opt/kestrel"), arguments: ["--help"], runs: 4) { url, args in
            calls.out += "\(url.path) \(args.joined(separator: " "));"
            next += 1
            return next * 10_000_000  // 10, 20, 30, 40 ms
        }
        #expect(try timer.measure() == [10, 20, 30, 40])
        #expect(calls.out == String(repeating: "/opt/kestrel --help;", count: 4))
        let outcome = try MemorySuite.startupOutcome([10, 20, 30, 40])
        #expect(outcome.value == 25)
        #expect(outcome.metrics["first_launch_ms"] == 10)
        #expect(outcome.latency?.count == 4)
        #expect(throws: (any Error).self) { try MemorySuite.startupOutcome([]) }
    }

    @Test func startupTimerPropagatesFailuresAndRejectsNoRuns() {
        struct LaunchFailed: Error {}
        let failing = StartupTimer(executable: URL(fileURLWithPath: "/x"), runs: 2) { _, _ in throw LaunchFailed() }
        #expect(throws: LaunchFailed.self) { try failing.measure() }
        let none = StartupTimer(executable: URL(fileURLWithPath: "/x"), runs: 0) { _, _ in 1 }
        let e2 = #expect(throws: KestrelError.self) { try none.measure() }
        #expect({ if case .invalidArgument(name: "runs", reason: _)? = e2 { true } else { false } }(), "\(String(describing: e2))")
    }

    @Test func theRealRunnerTimesAChildProcess() throws {
        // /bin/true exists on every Linux and macOS machine the tests run on.
        let ns = try StartupTimer.spawn(URL(fileURLWithPath: "/bin/true"), [])
        #expect(ns > 0)
        let e3 = #expect(throws: KestrelError.self) { try StartupTimer.spawn(URL(fileURLWithPath: "/bin/false"), []) }
        #expect(e3 == .backendFailure(routine: "false ", code: 256))
    }

    @Test func insideTheTestRunnerThereIsNoKestrelToLaunch() {
        if case .failure(let why) = StartupTimer.currentExecutable() {
            #expect(why.reason.contains("not the kestrel executable"))
        } else {
            Issue.record("the test runner was taken for the kestrel executable")
        }
    }

    @Test func gitCommitIsReadOnlyFromAKestrelCheckout() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let head = String(repeating: "ab", count: 20)
        func git(dirty: Bool, manifest: String?) -> GitCommit.Git {
            if let manifest { try? Data(manifest.utf8).write(to: dir.appendingPathComponent("Package.swift")) }
            return { args, _ in
                switch args.first {
                case "rev-parse": return args.contains("--show-toplevel") ? dir.path + "\n" : head + "\n"
                case "status": return dirty ? " M Sources/x.swift\n" : ""
                default: return nil
                }
            }
        }
        let kestrel = "let package = Package(\n    name: \"Kestrel\",\n)"
        #expect(GitCommit.resolve(directory: dir, git: git(dirty: false, manifest: kestrel)) == head)
        #expect(GitCommit.resolve(directory: dir, git: git(dirty: true, manifest: kestrel)) == head + "-dirty")
        #expect(GitCommit.resolve(directory: dir, git: git(dirty: false, manifest: "name: \"Other\"")) == "unknown")
        #expect(GitCommit.resolve(directory: dir) { _, _ in nil } == "unknown")
        #expect(GitCommit.resolve(directory: dir) { _, _ in "not a hash\n" } == "unknown")
    }
}
