import Foundation
import Kestrel
import KestrelBenchmarkKit
import KestrelHistory

/// What `kestrel benchmark` was asked to do (the validated command line).
struct BenchmarkRequest: Sendable, Equatable {
    var suite = "all"
    /// Print the JSON report instead of the terminal report.
    var json = false
    /// Write the JSON report here.
    var save: String?
    /// Compare with the JSON report saved here.
    var baseline: String?
    /// Write SVG charts into this directory.
    var plot: String?
    /// Non-zero exit on a FAIL (2) or a regression against the baseline (3).
    var strict = false
    /// Relative change beyond which a worse figure is a regression (0.05 = 5 %).
    var regressionThreshold = 0.05
    /// Smaller sizes and fewer samples (smoke run).
    var quick = false
    /// Record the run in the performance history database at this path (nil: not recorded).
    var history: String?
}

/// The result of one `kestrel benchmark` run.
struct BenchmarkRunResult {
    var report: BenchmarkReport
    var baseline: BaselineComparison?
    /// Files written by `--save` and `--plot`.
    var files: [URL]
    /// The run as recorded in the history (nil when not recorded).
    var recorded: HistoryRun? = nil
    /// 0, or with `--strict`: 2 when a target FAILed, 3 when only regressions were found.
    var exitCode: Int32
}

/// Runs the selected suites and produces every output of `kestrel benchmark`. The catalog,
/// environment and output streams are injected, so tests run it on fake measurements.
struct BenchmarkRunner {
    var catalog = SuiteCatalog.standard()
    /// The environment embedded in the report (tests inject a fixed one: no git, no clock calibration).
    var environment: () -> BenchmarkEnvironment = { .kestrel() }
    /// Progress events (stderr on a terminal by default; quiet otherwise).
    var progress = BenchmarkProgressPrinter()
    /// Standard output.
    var out: (String) -> Void = { FileHandle.standardOutput.write(Data($0.utf8)) }
    /// Standard error.
    var err: (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }
    /// ANSI colours in the terminal report.
    var colors = isatty(STDOUT_FILENO) == 1
    /// The 1-minute load average (nil where unknown).
    var loadAverage: () -> Double? = MachineLoad.oneMinute

    /// Runs `request`.
    /// - Throws: `KestrelError.invalidArgument` for an unknown suite; `ProfilingError` when the
    ///   baseline cannot be read or the report cannot be saved; errors of the plot writer;
    ///   `KestrelError` when the history cannot record the run (after the report file is saved).
    ///   A case that fails to measure does not throw: it is a FAIL in the report.
    func run(_ request: BenchmarkRequest) throws -> BenchmarkRunResult {
        let settings = request.quick ? SuiteSettings.quick : SuiteSettings.full
        let (built, absent) = try catalog.select(request.suite)
        // Read the baseline before measuring for a minute: a bad path fails at once.
        let baseline = try request.baseline.map { (path) throws(ProfilingError) in
            try BenchmarkReport.load(from: URL(fileURLWithPath: path))
        }
        let info: (String) -> Void = request.json ? err : out
        if !absent.isEmpty {
            if request.suite == "all" {
                info("Not built yet, so no cases (none are faked): "
                    + absent.map { "\($0.name) (\(Self.module(of: $0)))" }.joined(separator: ", ") + "\n")
            } else {
                for a in absent { info((a.absentLine ?? a.name) + "\n") }
            }
        }
        let loadBefore = loadAverage()
        let charts = BenchmarkCharts()
        let environment = self.environment()
        var report: BenchmarkReport
        if built.isEmpty {
            report = BenchmarkReport(environment: environment, suite: request.suite, results: [], durationSeconds: 0)
        } else {
            if !request.json {
                info("kestrel benchmark --suite \(request.suite)\(request.quick ? " --quick (smoke run: smaller data, fewer samples)" : "")"
                    + (loadBefore.map { "; load average before the run: \(Format.fixed($0, 2))" } ?? "") + "\n")
            }
            let suite = try catalog.makeSuite(request.suite, context: SuiteContext(settings: settings, charts: charts))
            let usageStart = try? SystemProbe.processSample()
            report = try suite.run(suite: request.suite == "all" ? nil : request.suite, environment: environment,
                                   context: BenchmarkContext(seed: settings.seed), progress: progress.callAsFunction)
            if let s = usageStart, let e = try? SystemProbe.processSample() {
                report.findings = BottleneckDetector().analyze([
                    ComponentObservation(component: "benchmark run", usage: SystemProbe.usage(from: s, to: e)),
                ])
            }
        }

        var comparison: BaselineComparison?
        if let baseline {
            comparison = try BaselineComparison.compare(current: report, baseline: baseline,
                                                        threshold: request.regressionThreshold)
        }
        if request.json {
            out(String(decoding: try report.jsonData(), as: UTF8.self) + "\n")
        } else if !built.isEmpty {
            out(report.terminalReport(colors: colors))
            if let l = loadAverage() {
                out("load average (1 min): " + (loadBefore.map { "\(Format.fixed($0, 2)) before, " } ?? "")
                    + "\(Format.fixed(l, 2)) after the run, on \(SystemProbe.activeProcessorCount) active processors\n")
            }
            if let comparison, let path = request.baseline {
                out("\nAgainst the baseline \(path):\n" + comparison.terminalReport())
            }
        }

        var files: [URL] = []
        if let path = request.save {
            let url = URL(fileURLWithPath: path)
            try report.save(to: url)
            files.append(url)
            info("saved the JSON report to \(url.path)\n")
        }
        if let dir = request.plot {
            let written = try PlotWriter.write(report: report, lineCharts: charts.lineCharts,
                                               to: URL(fileURLWithPath: dir, isDirectory: true))
            files += written
            info("wrote \(written.count) chart file(s) to \(dir): \(written.map(\.lastPathComponent).joined(separator: ", "))\n")
        }
        var recorded: HistoryRun?
        if let path = request.history {
            let run = try PerformanceHistory(url: URL(fileURLWithPath: path)).record(report)
            recorded = run
            info("recorded run #\(run.id) in the history \(path) (trends: kestrel report --timeframe 7d)\n")
        }
        return BenchmarkRunResult(report: report, baseline: comparison, files: files, recorded: recorded,
                                  exitCode: Self.exitCode(report: report, comparison: comparison, strict: request.strict))
    }

    /// 0 unless `strict`: then 2 when any case FAILed, else 3 when the baseline comparison found regressions.
    static func exitCode(report: BenchmarkReport, comparison: BaselineComparison?, strict: Bool) -> Int32 {
        guard strict else { return 0 }
        if !report.passed { return 2 }
        if let c = comparison, !c.regressions.isEmpty { return 3 }
        return 0
    }

    static func module(of entry: SuiteEntry) -> String {
        if case .absent(let module) = entry.availability { return module }
        return entry.name
    }
}
