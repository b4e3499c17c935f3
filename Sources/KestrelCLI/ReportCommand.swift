import ArgumentParser
import Foundation
import Kestrel
import KestrelBenchmarkKit
import KestrelHistory

/// How `kestrel report` renders a saved benchmark report.
enum ReportFormat: String, CaseIterable, ExpressibleByArgument {
    /// A Markdown document: environment, results table, details, findings.
    case markdown
    /// The JSON report, validated and re-encoded (pretty, sorted keys).
    case json
    /// The full terminal report ending with the targets table.
    case detailed
}

/// `kestrel report`: renders a report saved by `kestrel benchmark --save` (or printed by
/// `--json`), from a file or standard input; with `--timeframe`, renders the trends of the
/// performance history instead and flags the latest run's regressions.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Render a saved benchmark report as Markdown, JSON or a detailed terminal report.",
        discussion: """
            Reads the JSON of `kestrel benchmark --save FILE` (or `--json`) from --input, or from \
            standard input without it. Reports of another schema version are refused with a message.

            With --timeframe 24h|7d|all, reads the performance history instead (the SQLite database \
            `kestrel benchmark --save` records every run in; --db, default $KESTREL_HISTORY or \
            ~/.cache/kestrel/history.sqlite): the runs of the timeframe, each case's trend, and the \
            latest run compared with the previous run of its suite (same CPU and ISA when there is \
            one), regressions beyond --threshold flagged.
            """
    )

    @Option(help: "Output format: markdown, json, detailed.")
    var format: ReportFormat = .detailed

    @Option(help: "The saved JSON report (default: standard input).")
    var input: String?

    @Option(help: "Render the performance history over this timeframe (24h, 7d, all) instead of one report.")
    var timeframe: HistoryTimeframe?

    @Option(help: "The history database (with --timeframe; default $KESTREL_HISTORY or ~/.cache/kestrel/history.sqlite).")
    var db: String?

    @Option(help: "Only runs of this suite (with --timeframe).")
    var suite: String?

    @Option(help: "Relative change, in percent, beyond which a worse figure is a regression (with --timeframe).")
    var threshold = 5.0

    func validate() throws {
        if let input, input.isEmpty { throw ValidationError("--input needs a path") }
        if let db, db.isEmpty { throw ValidationError("--db needs a path") }
        if timeframe != nil, input != nil { throw ValidationError("--input and --timeframe exclude each other") }
        if timeframe == nil, db != nil || suite != nil { throw ValidationError("--db and --suite need --timeframe") }
        guard threshold >= 0, threshold <= 1000 else { throw ValidationError("--threshold must be in 0...1000 percent") }
    }

    func run() throws {
        if let timeframe {
            let url = db.map { URL(fileURLWithPath: $0) } ?? PerformanceHistory.defaultURL
            print(try Self.renderHistory(url: url, timeframe: timeframe, suite: suite, threshold: threshold / 100,
                                         format: format, colors: isatty(STDOUT_FILENO) == 1), terminator: "")
            return
        }
        let data: Data
        if let input {
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: input))
            } catch {
                throw ProfilingError.io(path: input, underlying: error)
            }
        } else {
            data = FileHandle.standardInput.readDataToEndOfFile()
        }
        print(try Self.render(data, format: format, colors: isatty(STDOUT_FILENO) == 1), terminator: "")
    }

    /// The report in `data` rendered as `format`.
    /// - Throws: `ProfilingError.corruptFile` / `.unsupportedVersion` when `data` is not a report this build reads.
    static func render(_ data: Data, format: ReportFormat, colors: Bool = false) throws(ProfilingError) -> String {
        let report = try BenchmarkReport.decode(data)
        switch format {
        case .markdown: return report.markdown()
        case .json: return String(decoding: try report.jsonData(), as: UTF8.self) + "\n"
        case .detailed: return report.terminalReport(colors: colors)
        }
    }

    /// The history at `url` over `timeframe` (ending at `now`) rendered as `format`. A missing
    /// database is reported as empty without being created.
    /// - Throws: the errors of ``PerformanceHistory/init(url:busyTimeout:now:)`` (damaged or foreign file) and its queries.
    static func renderHistory(url: URL, timeframe: HistoryTimeframe, suite: String? = nil, threshold: Double = 0.05,
                              format: ReportFormat, colors: Bool = false, now: Date = Date()) throws(KestrelError) -> String {
        let trend: HistoryTrendReport
        if FileManager.default.fileExists(atPath: url.path) {
            trend = try PerformanceHistory(url: url, now: now).trend(timeframe: timeframe, suite: suite, threshold: threshold, now: now)
        } else {
            trend = HistoryTrendReport(timeframe: timeframe, generatedAt: now, suite: suite, runs: [], latest: nil, baseline: nil,
                                       comparison: nil, series: [])
        }
        return try trend.rendered(format, colors: colors)
    }
}

extension HistoryTimeframe: ExpressibleByArgument {}
