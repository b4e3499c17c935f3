import Foundation
import Kestrel
import KestrelBenchmarkKit

/// Writes the SVG charts of `kestrel benchmark --plot DIR`: a latency histogram for every case
/// with a latency distribution, every line chart the cases produced (speedup against size; a
/// suite adds its own, e.g. recall against QPS once the HNSW suite exists), and an `index.html`
/// showing them all. Self-contained files: open `index.html` or any SVG in a browser.
enum PlotWriter {
    /// Writes the charts into `directory` (created if needed) and returns the files written.
    /// - Throws: `KestrelError.invalidArgument` when the path exists and is not a directory or
    ///   cannot be written; `ProfilingError` when a chart cannot be drawn.
    static func write(report: BenchmarkReport, lineCharts: [LineChartSpec], to directory: URL) throws -> [URL] {
        try makeDirectory(directory)
        var files: [(url: URL, caption: String)] = []
        for r in report.results {
            guard let latency = r.latency, latency.count > 0 else { continue }
            let svg = try SVGChart.latencyHistogram(latency, title: "\(r.name): latency")
            let url = directory.appendingPathComponent("latency-\(fileSafe(r.name)).svg")
            try write(svg, to: url)
            files.append((url, r.summary))
        }
        for chart in lineCharts {
            let svg = try SVGChart.lines(title: chart.title, xLabel: chart.xLabel, yLabel: chart.yLabel,
                                         series: chart.series, logX: chart.logX, logY: chart.logY)
            let url = directory.appendingPathComponent("\(fileSafe(chart.fileName)).svg")
            try write(svg, to: url)
            files.append((url, chart.title))
        }
        let index = directory.appendingPathComponent("index.html")
        try write(indexPage(report: report, files: files), to: index)
        return files.map(\.url) + [index]
    }

    /// `simd.dot-f32` → `simd.dot-f32`; anything but letters, digits, `.`, `-` and `_` → `_`.
    static func fileSafe(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || "._-".contains($0) ? $0 : "_" })
    }

    static func indexPage(report: BenchmarkReport, files: [(url: URL, caption: String)]) -> String {
        var html = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Kestrel benchmark — \(escape(report.suite))</title>"
            + "<style>body{font-family:Helvetica,Arial,sans-serif;margin:2em}figure{margin:2em 0}</style></head><body>\n"
        html += "<h1>Kestrel benchmark — suite \(escape(report.suite))</h1>\n<ul>\n"
        html += report.environment.lines.map { "<li>\(escape($0))</li>\n" }.joined()
        html += "</ul>\n<p>\(escape(report.summaryLine))</p>\n"
        for f in files {
            html += "<figure><img src=\"\(escape(f.url.lastPathComponent))\" alt=\"\(escape(f.caption))\">"
                + "<figcaption>\(escape(f.caption))</figcaption></figure>\n"
        }
        if files.isEmpty { html += "<p>No case of this run produced a chart.</p>\n" }
        return html + "</body></html>\n"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func makeDirectory(_ url: URL) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw KestrelError.invalidArgument(name: "plot", reason: "\(url.path) exists and is not a directory")
            }
            return
        }
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw KestrelError.invalidArgument(name: "plot", reason: "cannot create \(url.path): \(error)")
        }
    }

    static func write(_ text: String, to url: URL) throws {
        do {
            try Data(text.utf8).write(to: url, options: .atomic)
        } catch {
            throw KestrelError.invalidArgument(name: "plot", reason: "cannot write \(url.path): \(error)")
        }
    }
}
