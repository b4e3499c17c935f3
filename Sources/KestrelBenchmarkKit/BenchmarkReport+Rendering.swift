import Foundation
import KestrelProfiling

extension BenchmarkReport {
    /// The targets table a CLI prints at the end of a run: one row per case with a target
    /// (case, target, measured value with its interval, status), then a status count line.
    ///
    /// - Parameter colors: ANSI colours for the status column (use only on a terminal).
    public func targetsTable(colors: Bool = false) -> String {
        let rows = results.filter { $0.target != nil }.map { r in
            [Self.statusText(r.status, colors: colors), r.name, r.target?.description ?? "", Self.measured(r)]
        }
        var out = TextTable(header: ["Status", "Case", "Target", "Measured"], rows: rows).render()
        out += summaryLine + "\n"
        return out
    }

    /// `8 PASS, 1 WARN, 1 FAIL, 2 SKIP in 93.4 s`.
    public var summaryLine: String {
        let counts = statusCounts
        let parts = BenchmarkStatus.allCases.compactMap { s in counts[s].map { "\($0) \(s.rawValue)" } }
        return (parts.isEmpty ? "no cases" : parts.joined(separator: ", ")) + String(format: " in %.1f s", durationSeconds)
    }

    /// The full terminal report: environment, every case with its figure, secondary metrics,
    /// latency percentiles, comparison verdicts, notes, then findings and the targets table.
    public func terminalReport(colors: Bool = false) -> String {
        var out = "Kestrel benchmark — suite \(suite)\n"
        for l in environment.lines { out += "  \(l)\n" }
        out += "\n"
        let rows = results.map { r in
            [Self.statusText(r.status, colors: colors), r.suite, r.name, Self.measured(r), r.target?.description ?? "—"]
        }
        out += TextTable(header: ["Status", "Suite", "Case", "Measured", "Target"], rows: rows).render()
        for r in results {
            var details = [String]()
            if let l = r.latency { details.append("latency: " + l.line) }
            if let c = r.comparison { details += c.lines }
            if !r.metrics.isEmpty {
                details.append(r.metrics.sorted { $0.key < $1.key }.map { "\($0.key)=\(String(format: "%.4g", $0.value))" }.joined(separator: " "))
            }
            details += r.notes.map { "note: \($0)" }
            if let e = r.error { details.append("error: \(e)") }
            if details.isEmpty { continue }
            out += "\n\(r.name):\n" + details.map { "  \($0)\n" }.joined()
        }
        if !findings.isEmpty {
            out += "\nFindings:\n"
            for f in findings {
                out += "  [\(f.severity.rawValue)] \(f.component): \(f.summary)\n    → \(f.recommendation)\n"
            }
        }
        out += "\n" + targetsTable(colors: colors)
        return out
    }

    /// The report as Markdown: environment list, results table, details, findings.
    public func markdown() -> String {
        var out = "# Kestrel benchmark — suite `\(suite)`\n\n"
        out += environment.lines.map { "- \(Self.escape($0))\n" }.joined()
        out += "\n" + summaryLine + "\n\n"
        out += "| Status | Suite | Case | Measured | Target |\n|---|---|---|---|---|\n"
        for r in results {
            out += "| \(r.status.rawValue) | \(Self.escape(r.suite)) | \(Self.escape(r.name)) | \(Self.escape(Self.measured(r))) | "
                + "\(Self.escape(r.target?.description ?? "—")) |\n"
        }
        let detailed = results.filter { $0.latency != nil || $0.comparison != nil || !$0.notes.isEmpty || $0.error != nil }
        if !detailed.isEmpty {
            out += "\n## Details\n"
            for r in detailed {
                out += "\n### \(Self.escape(r.name))\n\n\(Self.escape(r.summary))\n\n"
                if let l = r.latency { out += "- latency: \(l.line)\n" }
                if let c = r.comparison { out += c.lines.map { "- \(Self.escape($0))\n" }.joined() }
                out += r.notes.map { "- note: \(Self.escape($0))\n" }.joined()
                if let e = r.error { out += "- error: `\(e)`\n" }
            }
        }
        if !findings.isEmpty {
            out += "\n## Findings\n\n| Severity | Component | Finding | Measured | Threshold | Recommendation |\n|---|---|---|---|---|---|\n"
            for f in findings {
                out += "| \(f.severity.rawValue) | \(Self.escape(f.component)) | \(Self.escape(f.summary)) | "
                    + String(format: "%.3g", f.measured) + " \(f.unit) | " + String(format: "%.3g", f.threshold)
                    + " \(f.unit) | \(Self.escape(f.recommendation)) |\n"
            }
        }
        return out
    }

    static func escape(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|") }
}

extension BaselineComparison {
    /// A table of changes (regressions and improvements marked) with the environment warnings.
    public func terminalReport() -> String {
        var out = ""
        if !environmentDifferences.isEmpty {
            out += "WARNING: the baseline ran in another environment (\(environmentDifferences.joined(separator: "; ")))\n"
        }
        let rows = deltas.map { d in
            [d.regression ? "REGRESSION" : (d.improvement ? "improved" : ""), d.name,
             BenchmarkReport.formatValue(d.baseline, d.unit), BenchmarkReport.formatValue(d.current, d.unit),
             String(format: "%+.1f%%", d.changePercent), d.statusChange ?? ""]
        }
        out += TextTable(header: ["", "Case", "Baseline", "Current", "Change", "Status"], rows: rows).render()
        if !missing.isEmpty { out += "missing now: \(missing.joined(separator: ", "))\n" }
        if !added.isEmpty { out += "new: \(added.joined(separator: ", "))\n" }
        out += "\(regressions.count) regression(s), \(improvements.count) improvement(s) beyond "
            + String(format: "%.0f%%", threshold * 100) + "\n"
        return out
    }

    /// The same as a Markdown table.
    public func markdown() -> String {
        var out = ""
        if !environmentDifferences.isEmpty {
            out += "> **Warning:** the baseline ran in another environment (\(environmentDifferences.joined(separator: "; ")))\n\n"
        }
        out += "| | Case | Baseline | Current | Change | Status |\n|---|---|---|---|---|---|\n"
        for d in deltas {
            out += "| \(d.regression ? "**REGRESSION**" : (d.improvement ? "improved" : "")) | \(d.name) | "
                + "\(BenchmarkReport.formatValue(d.baseline, d.unit)) | \(BenchmarkReport.formatValue(d.current, d.unit)) | "
                + String(format: "%+.1f%%", d.changePercent) + " | \(d.statusChange ?? "") |\n"
        }
        return out
    }
}

/// Aligned plain-text columns (every character is taken as one column wide, ANSI escapes as zero).
/// Package-visible: the CLI's history and status views use it too.
package struct TextTable {
    package var header: [String]
    package var rows: [[String]]

    package init(header: [String], rows: [[String]]) {
        self.header = header
        self.rows = rows
    }

    package func render() -> String {
        let all = [header] + rows
        var widths = [Int](repeating: 0, count: header.count)
        for row in all {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = Swift.max(widths[i], Self.width(cell)) }
        }
        func line(_ row: [String]) -> String {
            row.enumerated().map { i, cell in
                cell + String(repeating: " ", count: Swift.max(0, widths[i] - Self.width(cell)))
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) + "\n"
        }
        return line(header) + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
            + rows.map(line).joined()
    }

    static func width(_ s: String) -> Int {
        var n = 0
        var inEscape = false
        for ch in s {
            if inEscape { if ch == "m" { inEscape = false }; continue }
            if ch == "\u{1B}" { inEscape = true; continue }
            n += 1
        }
        return n
    }
}
