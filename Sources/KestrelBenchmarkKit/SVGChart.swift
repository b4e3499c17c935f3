import Foundation
import KestrelProfiling

/// One line of an ``SVGChart``: y against x.
public struct ChartSeries: Codable, Sendable, Equatable {
    /// Legend name.
    public var name: String
    /// X values.
    public var x: [Double]
    /// Y values (same count as ``x``).
    public var y: [Double]

    /// Creates a series.
    public init(name: String, x: [Double], y: [Double]) {
        self.name = name
        self.x = x
        self.y = y
    }
}

/// Self-contained SVG charts for reports (`kestrel benchmark --plot DIR`): a latency histogram
/// and line charts such as speedup against size or recall against QPS. No scripts, no external
/// fonts; the files open in any browser. Pure functions, thread-safe.
public enum SVGChart {
    static let width = 760.0, height = 440.0
    static let left = 80.0, right = 190.0, top = 50.0, bottom = 60.0
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    /// A bar chart of a latency distribution's power-of-two buckets, with p50/p99 in the title.
    ///
    /// - Throws: ``ProfilingError/insufficientData(needed:got:)`` for an empty summary.
    public static func latencyHistogram(_ summary: LatencySummary, title: String) throws(ProfilingError) -> String {
        guard !summary.buckets.isEmpty else { throw .insufficientData(needed: 1, got: 0) }
        let yAxis = Axis(values: summary.buckets.map { Double($0.count) }, log: false, includeZero: true)
        let plotW = width - left - 40, plotH = height - top - bottom
        let barW = plotW / Double(summary.buckets.count)
        let labelEvery = Swift.max(1, Int((64 / barW).rounded(.up)))  // labels at least 64 px apart
        var body = ""
        for t in yAxis.ticks {
            let y = top + plotH - yAxis.fraction(t) * plotH
            body += line(left, y, left + plotW, y, stroke: "#ddd") + text(left - 6, y + 4, format(t), anchor: "end", size: 11)
        }
        for (i, b) in summary.buckets.enumerated() {
            let h = yAxis.fraction(Double(b.count)) * plotH
            let x = left + Double(i) * barW
            body += rect(x + 1, top + plotH - h, Swift.max(barW - 2, 1), h, fill: palette[0])
            body += "<title>[\(escape(Double(b.lowerNanoseconds).formattedNanoseconds)), \(escape(Double(b.upperNanoseconds).formattedNanoseconds))): \(b.count)</title></rect>\n"
            if i % labelEvery == 0 {
                body += line(x, top + plotH, x, top + plotH + 5, stroke: "#333")
                body += text(x, top + plotH + 18, Double(b.lowerNanoseconds).formattedNanoseconds, anchor: "middle", size: 10)
            }
        }
        body += line(left, top + plotH, left + plotW, top + plotH, stroke: "#333") + line(left, top, left, top + plotH, stroke: "#333")
        body += text(left + plotW / 2, height - 18, "latency (power-of-two buckets)", anchor: "middle", size: 12)
        body += text(18, top + plotH / 2, "samples", anchor: "middle", size: 12, rotate: true)
        let subtitle = "n=\(summary.count)  p50=\(Double(summary.p50).formattedNanoseconds)  p99=\(Double(summary.p99).formattedNanoseconds)  p99.9=\(Double(summary.p999).formattedNanoseconds)"
        return document(title: title, subtitle: subtitle, body: body)
    }

    /// A line chart of one or more series.
    ///
    /// - Parameters:
    ///   - title: chart title.
    ///   - xLabel: x-axis label (with unit).
    ///   - yLabel: y-axis label (with unit).
    ///   - series: lines to draw (at least one point each).
    ///   - logX: logarithmic x axis (values must be positive).
    ///   - logY: logarithmic y axis (values must be positive).
    /// - Throws: ``ProfilingError/invalidArgument(name:reason:)`` for empty, mismatched,
    ///   non-finite or (on a log axis) non-positive values.
    public static func lines(title: String, xLabel: String, yLabel: String, series: [ChartSeries],
                             logX: Bool = false, logY: Bool = false) throws(ProfilingError) -> String {
        guard !series.isEmpty else { throw .invalidArgument(name: "series", reason: "at least one series is needed") }
        for s in series {
            guard !s.x.isEmpty, s.x.count == s.y.count else {
                throw .invalidArgument(name: "series", reason: "'\(s.name)' needs equally many x and y values, at least one")
            }
            guard (s.x + s.y).allSatisfy(\.isFinite) else { throw .invalidArgument(name: "series", reason: "'\(s.name)' has non-finite values") }
            if logX && s.x.contains(where: { $0 <= 0 }) { throw .invalidArgument(name: "series", reason: "log x axis needs positive x") }
            if logY && s.y.contains(where: { $0 <= 0 }) { throw .invalidArgument(name: "series", reason: "log y axis needs positive y") }
        }
        let xs = series.flatMap(\.x), ys = series.flatMap(\.y)
        let xAxis = Axis(values: xs, log: logX, includeZero: false)
        let yAxis = Axis(values: ys, log: logY, includeZero: !logY)
        let plotW = width - left - right, plotH = height - top - bottom
        func px(_ x: Double) -> Double { left + xAxis.fraction(x) * plotW }
        func py(_ y: Double) -> Double { top + plotH - yAxis.fraction(y) * plotH }
        var body = ""
        for t in yAxis.ticks {
            body += line(left, py(t), left + plotW, py(t), stroke: "#ddd") + text(left - 6, py(t) + 4, format(t), anchor: "end", size: 11)
        }
        for t in xAxis.ticks {
            body += line(px(t), top + plotH, px(t), top + plotH + 5, stroke: "#333") + text(px(t), top + plotH + 18, format(t), anchor: "middle", size: 11)
        }
        body += line(left, top + plotH, left + plotW, top + plotH, stroke: "#333") + line(left, top, left, top + plotH, stroke: "#333")
        for (i, s) in series.enumerated() {
            let color = palette[i % palette.count]
            let pts = zip(s.x, s.y).sorted { $0.0 < $1.0 }
            let path = pts.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
            body += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(path)\"/>\n"
            for (x, y) in pts {
                body += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"", px(x), py(y)) + color + "\">"
                body += "<title>\(escape(s.name)): (\(format(x)), \(format(y)))</title></circle>\n"
            }
            let ly = top + 10 + Double(i) * 20
            body += line(width - right + 20, ly, width - right + 44, ly, stroke: color, widthPx: 3)
            body += text(width - right + 50, ly + 4, s.name, anchor: "start", size: 12)
        }
        body += text(left + plotW / 2, height - 18, xLabel, anchor: "middle", size: 12)
        body += text(18, top + plotH / 2, yLabel, anchor: "middle", size: 12, rotate: true)
        return document(title: title, subtitle: nil, body: body)
    }

    /// Linear or logarithmic axis with "nice" ticks (1, 2, 5 × 10^k, or powers of ten).
    struct Axis {
        var lo: Double, hi: Double, log: Bool, ticks: [Double]

        init(values: [Double], log: Bool, includeZero: Bool) {
            self.log = log
            var a = values.min()!, b = values.max()!
            if log {
                a = pow(10, Foundation.log10(a).rounded(.down))
                b = pow(10, Foundation.log10(b).rounded(.up))
                if a == b { b = a * 10 }
                lo = a; hi = b
                var t = [Double](), v = a
                while v <= b * 1.0001 { t.append(v); v *= 10 }
                ticks = t
            } else {
                if includeZero { a = Swift.min(a, 0); b = Swift.max(b, 0) }
                if a == b { a -= 1; b += 1 }
                let raw = (b - a) / 5
                let mag = pow(10, Foundation.log10(raw).rounded(.down))
                let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
                lo = (a / step).rounded(.down) * step
                hi = (b / step).rounded(.up) * step
                ticks = stride(from: lo, through: hi + step / 2, by: step).map { $0 }
            }
        }

        func fraction(_ v: Double) -> Double {
            log ? (Foundation.log10(v) - Foundation.log10(lo)) / (Foundation.log10(hi) - Foundation.log10(lo)) : (v - lo) / (hi - lo)
        }
    }

    static func document(title: String, subtitle: String?, body: String) -> String {
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
            + "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"Helvetica, Arial, sans-serif\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += text(width / 2, 24, title, anchor: "middle", size: 16, bold: true)
        if let subtitle { s += text(width / 2, 42, subtitle, anchor: "middle", size: 11) }
        return s + body + "</svg>\n"
    }

    static func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String) -> String {
        String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"", x, y, w, h) + fill + "\">"
    }

    static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, widthPx: Double = 1) -> String {
        String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke-width=\"%.0f\" stroke=\"", x1, y1, x2, y2, widthPx)
            + stroke + "\"/>\n"
    }

    static func text(_ x: Double, _ y: Double, _ s: String, anchor: String, size: Int, bold: Bool = false, rotate: Bool = false) -> String {
        let transform = rotate ? String(format: " transform=\"rotate(-90 %.1f %.1f)\"", x, y) : ""
        return String(format: "<text x=\"%.1f\" y=\"%.1f\"", x, y) + " font-size=\"\(size)\" text-anchor=\"\(anchor)\""
            + (bold ? " font-weight=\"bold\"" : "") + transform + ">\(escape(s))</text>\n"
    }

    static func format(_ v: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 1e6 || abs(v) < 1e-3 { return String(format: "%.0e", v) }
        return String(format: "%g", (v * 1000).rounded() / 1000)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
