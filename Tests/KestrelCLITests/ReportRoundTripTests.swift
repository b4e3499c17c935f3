import Foundation
import Kestrel
import Testing

@testable import KestrelCLI

/// `--save` writes a report `kestrel report` reads back unchanged; `--baseline` flags
/// regressions computed from injected numbers; the exit status follows `--strict`.
@Suite struct ReportRoundTripTests {
    @Test func savedReportsRoundTripThroughTheReportCommand() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("nested/run.json").path
        let output = OutputCollector()
        let result = try BenchmarkRunner.test(.fake(), output: output).run(BenchmarkRequest(save: path))
        #expect(result.files.map(\.path) == [path])
        #expect(output.out.contains("saved the JSON report to"))

        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let loaded = try BenchmarkReport.decode(data)
        #expect(loaded == result.report)
        #expect(loaded.environment == Fakes.environment)

        // json → the same report again; markdown and detailed name every case.
        let json = try ReportCommand.render(data, format: .json)
        #expect(try BenchmarkReport.decode(Data(json.utf8)) == result.report)
        let markdown = try ReportCommand.render(data, format: .markdown)
        let detailed = try ReportCommand.render(data, format: .detailed)
        for r in result.report.results {
            #expect(markdown.contains(r.name))
            #expect(detailed.contains(r.name))
        }
        #expect(markdown.hasPrefix("# Kestrel benchmark"))
        #expect(detailed.contains("Status  Case"))
    }

    @Test func jsonOutputIsTheReportAndNothingElse() throws {
        let output = OutputCollector()
        let result = try BenchmarkRunner.test(.fakeWithAbsentAdaptation(), output: output).run(BenchmarkRequest(suite: "all", json: true))
        #expect(try BenchmarkReport.decode(Data(output.out.utf8)) == result.report)
        // The absent-suite line goes to standard error in JSON mode.
        #expect(output.err.contains("Not built yet") && output.err.contains("adaptation (KestrelAdaptation)"))
    }

    @Test func reportRefusesWhatIsNotAReport() {
        let e1 = #expect(throws: ProfilingError.self) { try ReportCommand.render(Data("{}".utf8), format: .markdown) }
        #expect({ if case .corruptFile(reason: _)? = e1 { true } else { false } }(), "\(String(describing: e1))")
        let e2 = #expect(throws: ProfilingError.self) {
            try ReportCommand.render(Data(#"{"schemaVersion": 99}"#.utf8), format: .json)
        }
        #expect(e2 == .unsupportedVersion(found: 99, supported: 1...1))
    }

    @Test func baselineRegressionsAreFlagged() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = dir.appendingPathComponent("base.json").path
        _ = try BenchmarkRunner.test(.fake(), output: OutputCollector()).run(BenchmarkRequest(suite: "memory", save: base))

        // Worse: the recorder 20 % slower (lower is better), the triad 20 % lower (higher is better);
        // better: start-up twice as fast. All still pass their targets.
        var worse = FakeMemoryProbe()
        worse.recorderNs = 18 * 1.2
        worse.triad = 12 * 0.8
        worse.startupMs = [20, 10, 11, 9, 11]
        let output = OutputCollector()
        let runner = BenchmarkRunner.test(.fake(memory: worse), output: output)
        let result = try runner.run(BenchmarkRequest(suite: "memory", baseline: base))
        let comparison = try #require(result.baseline)
        let regressions = Set(comparison.regressions.map(\.name))
        #expect(regressions == ["memory.recorder-cost", "memory.stream-triad"])
        #expect(comparison.improvements.map(\.name) == ["memory.cli-startup"])
        #expect(output.out.contains("REGRESSION"))
        #expect(result.exitCode == 0)  // not strict: the main job always completes

        let strict = try runner.run(BenchmarkRequest(suite: "memory", baseline: base, strict: true))
        #expect(strict.exitCode == 3)
        // Within the threshold: no regression.
        let lenient = try runner.run(BenchmarkRequest(suite: "memory", baseline: base, strict: true,
                                                      regressionThreshold: 0.3))
        #expect(lenient.baseline?.regressions.isEmpty == true)
        #expect(lenient.exitCode == 0)
    }

    @Test func strictFailsOnATargetFailure() throws {
        var slow = FakeMemoryProbe()
        slow.startupMs = [900, 800, 700]
        let runner = BenchmarkRunner.test(.fake(memory: slow), output: OutputCollector())
        #expect(try runner.run(BenchmarkRequest(suite: "memory")).exitCode == 0)
        #expect(try runner.run(BenchmarkRequest(suite: "memory", strict: true)).exitCode == 2)
        #expect(try BenchmarkRunner.test(.fake(), output: OutputCollector())
            .run(BenchmarkRequest(suite: "memory", strict: true)).exitCode == 0)
    }

    @Test func anUnreadableBaselineFailsBeforeMeasuring() {
        let e3 = #expect(throws: ProfilingError.self) {
            try BenchmarkRunner.test(.fake(), output: OutputCollector())
                .run(BenchmarkRequest(baseline: "/nonexistent/kestrel-baseline.json"))
        }
        #expect({ if case .io(path: "/nonexistent/kestrel-baseline.json", reason: _)? = e3 { true } else { false } }(), "\(String(describing: e3))")
    }
}
