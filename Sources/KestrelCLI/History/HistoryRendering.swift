import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Kestrel
import KestrelBenchmarkKit
import KestrelHistory

/// Renderings of a history trend report, shared by `kestrel report --timeframe` and the MCP
/// `performance_report` tool.
extension HistoryTrendReport {
    /// `last 24h`, `last 7d`, `all time`.
    var timeframeText: String { timeframe == .all ? "all time" : "last \(timeframe.rawValue)" }

    /// The trend report in `format`.
    func rendered(_ format: ReportFormat, colors: Bool = false) throws(KestrelError) -> String {
        switch format {
        case .markdown: return markdown()
        case .json: return String(decoding: try jsonData(), as: UTF8.self) + "\n"
        case .detailed: return terminalReport(colors: colors)
        }
    }

    /// Pretty JSON with sorted keys and ISO-8601 dates.
    func jsonData() throws(KestrelError) -> Data {
        do {
            return try JSONEncoder.iso8601.encode(self)
        } catch {
            throw .invalidArgument(name: "report", reason: "cannot encode: \(error)")
        }
    }

    /// Rows of the runs table: time, suite, CPU, ISA, commit, cases, failures.
    private var runRows: [[String]] {
        runs.map { r in
            ["#\(r.id)", Self.time(r.recordedAt), r.suite, r.cpuModel, r.isaLevel ?? "-", String((r.gitCommit ?? "-").prefix(12)),
             String(r.caseCount), String(r.failures)]
        }
    }

    private static let runHeader = ["Run", "Recorded (UTC)", "Suite", "CPU", "ISA", "Commit", "Cases", "FAIL"]

    /// Rows of the trends table: case, points, first, last, min, max, change, latest status (and a sparkline when asked).
    private func trendRows(sparklines: Bool) -> [[String]] {
        series.map { s in
            let v = s.values
            var row = [s.name, String(v.count),
                       v.first.map { BenchmarkReport.formatValue($0, s.unit) } ?? "—",
                       v.last.map { BenchmarkReport.formatValue($0, s.unit) } ?? "—",
                       v.min().map { BenchmarkReport.formatValue($0, s.unit) } ?? "—",
                       v.max().map { BenchmarkReport.formatValue($0, s.unit) } ?? "—",
                       s.changePercent.map { String(format: "%+.1f%%", $0) } ?? "—",
                       s.points.last?.status ?? "—"]
            if sparklines { row.append(Self.sparkline(v)) }
            return row
        }
    }

    private static let trendHeader = ["Case", "Points", "First", "Last", "Min", "Max", "Change", "Latest"]

    /// The detailed terminal report: runs, trends with sparklines, latest against its baseline.
    func terminalReport(colors: Bool = false) -> String {
        var out = "Kestrel performance history — \(timeframeText)" + (suite.map { ", suite \($0)" } ?? "")
            + " (\(runs.count) run\(runs.count == 1 ? "" : "s"))\n"
        guard !runs.isEmpty else {
            return out + "No runs recorded in this timeframe. Record one with `kestrel benchmark --save FILE`.\n"
        }
        out += "\n" + TextTable(header: Self.runHeader, rows: runRows).render()
        out += "\nTrends (oldest → newest):\n" + TextTable(header: Self.trendHeader + ["Series"], rows: trendRows(sparklines: true)).render()
        out += "\n" + verdict(colors: colors)
        if let comparison {
            out += comparison.terminalReport()
        }
        return out
    }

    /// The report as Markdown: runs table, trends table, latest against its baseline.
    func markdown() -> String {
        var out = "# Kestrel performance history — \(timeframeText)" + (suite.map { ", suite `\($0)`" } ?? "") + "\n\n"
        guard !runs.isEmpty else {
            return out + "No runs recorded in this timeframe. Record one with `kestrel benchmark --save FILE`.\n"
        }
        func table(_ header: [String], _ rows: [[String]]) -> String {
            let esc = { (s: String) in s.replacingOccurrences(of: "|", with: "\\|") }
            return "| " + header.map(esc).joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: header.count) + "\n"
                + rows.map { "| " + $0.map(esc).joined(separator: " | ") + " |\n" }.joined()
        }
        out += "## Runs\n\n" + table(Self.runHeader, runRows)
        out += "\n## Trends\n\n" + table(Self.trendHeader, trendRows(sparklines: false))
        out += "\n## Latest run\n\n" + verdict(colors: false) + "\n"
        if let comparison { out += comparison.markdown() }
        return out
    }

    /// `Latest run #5 (…) against #3 (…): 1 regression(s): a, b` or why nothing was compared.
    private func verdict(colors: Bool) -> String {
        guard let latest else { return "" }
        guard let baseline, let comparison else {
            return "Latest run #\(latest.id) (\(Self.time(latest.recordedAt))): no earlier run of suite \(latest.suite) "
                + "in this timeframe to compare with.\n"
        }
        var out = "Latest run #\(latest.id) (\(Self.time(latest.recordedAt))) against #\(baseline.id) (\(Self.time(baseline.recordedAt))): "
        let names = comparison.regressions.map(\.name)
        if names.isEmpty {
            out += "no regression beyond " + String(format: "%.0f%%", comparison.threshold * 100) + ".\n"
        } else {
            let word = colors ? "\u{1B}[31mREGRESSION\u{1B}[0m" : "REGRESSION"
            out += "\(word) in \(names.count) case(s): \(names.joined(separator: ", ")).\n"
        }
        return out
    }

    /// `2026-12-03 15:04:05` (UTC, seconds truncated as a `DateFormatter` with
    /// `yyyy-MM-dd HH:mm:ss` does). Computed with `gmtime_r`: a `DateFormatter` per row (ICU
    /// set-up each time) was half the CPU time of a 1,000-run report.
    static func time(_ d: Date) -> String {
        let seconds = d.timeIntervalSince1970.rounded(.down)
        guard seconds.isFinite, abs(seconds) < 1e15 else { return "-" }
        var t = time_t(seconds)
        var parts = tm()
        guard gmtime_r(&t, &parts) != nil else { return "-" }
        func two(_ x: Int32) -> String { x < 10 ? "0\(x)" : "\(x)" }
        let year = Int(parts.tm_year) + 1900
        let y = year >= 0 && year < 1000 ? String(repeating: "0", count: 4 - String(year).count) + String(year) : String(year)
        return "\(y)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }

    /// One block character per value, scaled between the series' minimum and maximum.
    static func sparkline(_ values: [Double]) -> String {
        let blocks = Array("▁▂▃▄▅▆▇█")
        guard let lo = values.min(), let hi = values.max() else { return "" }
        guard hi > lo else { return String(repeating: blocks[3], count: values.count) }
        return String(values.map { blocks[min(7, Int(($0 - lo) / (hi - lo) * 7 + 0.5))] })
    }
}
