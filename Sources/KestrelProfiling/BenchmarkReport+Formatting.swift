import Foundation

// Shared by the progress printer here and the report rendering in the CLI's support target.
extension BenchmarkReport {
    /// The measured value with its unit and interval, or why there is none.
    package static func measured(_ r: BenchmarkCaseResult) -> String {
        guard let v = r.value else {
            return r.status == .skipped ? "skipped" + (r.notes.first.map { ": \($0)" } ?? "") : (r.error != nil ? "error" : "—")
        }
        var s = formatValue(v, r.unit)
        if let ci = r.interval { s += " [\(formatNumber(ci.lower)), \(formatNumber(ci.upper))]" }
        return s
    }

    /// Four significant digits, scientific notation outside [1e-3, 1e5).
    package static func formatNumber(_ v: Double) -> String {
        abs(v) >= 1e5 || (abs(v) < 1e-3 && v != 0) ? String(format: "%.3e", v) : String(format: "%.4g", v)
    }

    /// A value in its unit (`ns` as a duration, `×` and `%` attached).
    package static func formatValue(_ v: Double, _ unit: String) -> String {
        switch unit {
        case "ns": return v.formattedNanoseconds
        case "×", "x": return formatNumber(v) + "×"
        case "%": return formatNumber(v) + "%"
        case "": return formatNumber(v)
        default: return formatNumber(v) + " " + unit
        }
    }

    /// The status word, ANSI-coloured when `colors`.
    package static func statusText(_ s: BenchmarkStatus, colors: Bool) -> String {
        guard colors else { return s.rawValue }
        let code: String
        switch s {
        case .pass: code = "32"
        case .warn: code = "33"
        case .fail: code = "31"
        case .skipped, .info: code = "2"
        }
        return "\u{1B}[\(code)m\(s.rawValue)\u{1B}[0m"
    }
}
