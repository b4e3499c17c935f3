import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Metrics
import MetricsTestKit
import Testing
@testable import KestrelProfiling

@Suite("Charts and metrics export")
struct ChartTests {
    /// True when `svg` is well-formed XML.
    func wellFormed(_ svg: String) -> Bool {
        XMLParser(data: Data(svg.utf8)).parse()
    }

    @Test("latency histogram and line charts are well-formed SVG")
    func charts() throws {
        var r = try LatencyRecorder()
        var rng = TestRNG(seed: 2)
        for _ in 0..<5_000 { r.record(rng.latency()) }
        let hist = try SVGChart.latencyHistogram(r.summary(), title: "search <latency> & more")
        #expect(hist.hasPrefix("<svg") && hist.hasSuffix("</svg>\n"))
        #expect(hist.contains("search &lt;latency&gt; &amp; more"))
        #expect(wellFormed(hist))
        #expect(hist.components(separatedBy: "<title>[").count - 1 == r.summary().buckets.count)

        let speedup = try SVGChart.lines(
            title: "Speedup vs size", xLabel: "n", yLabel: "speedup (×)",
            series: [ChartSeries(name: "avx2", x: [64, 256, 1024, 4096], y: [2, 3.5, 5, 6]),
                     ChartSeries(name: "avx512", x: [64, 256, 1024, 4096], y: [3, 6, 9, 11])], logX: true)
        #expect(wellFormed(speedup))
        #expect(speedup.components(separatedBy: "<polyline").count - 1 == 2)
        #expect(speedup.contains(">avx512</text>"))
        let recall = try SVGChart.lines(title: "Recall vs QPS", xLabel: "recall@10", yLabel: "QPS",
                                        series: [ChartSeries(name: "hnsw", x: [0.9, 0.95, 0.99], y: [40_000, 25_000, 8_000])], logY: true)
        #expect(wellFormed(recall))
        let e1 = #expect(throws: ProfilingError.self) { try SVGChart.lines(title: "", xLabel: "", yLabel: "", series: []) }
        #expect({ if case .invalidArgument(name: "series", reason: _)? = e1 { true } else { false } }(), "\(String(describing: e1))")
        let e2 = #expect(throws: ProfilingError.self) {
            try SVGChart.lines(title: "", xLabel: "", yLabel: "", series: [ChartSeries(name: "a", x: [1, 2], y: [1])])
        }
        #expect({ if case .invalidArgument(name: "series", reason: _)? = e2 { true } else { false } }(), "\(String(describing: e2))")
        let e3 = #expect(throws: ProfilingError.self) {
            try SVGChart.lines(title: "", xLabel: "", yLabel: "", series: [ChartSeries(name: "a", x: [0, 2], y: [1, 2])], logX: true)
        }
        #expect({ if case .invalidArgument(name: "series", reason: _)? = e3 { true } else { false } }(), "\(String(describing: e3))")
        let e4 = #expect(throws: ProfilingError.self) { try SVGChart.latencyHistogram(LatencyRecorder().summary(), title: "empty") }
        #expect(e4 == .insufficientData(needed: 1, got: 0))
        let axis = SVGChart.Axis(values: [0.3, 9.7], log: false, includeZero: true)
        #expect(axis.ticks == [0, 2, 4, 6, 8, 10])
        #expect(SVGChart.Axis(values: [3, 4_000], log: true, includeZero: false).ticks == [1, 10, 100, 1_000, 10_000])
    }

    @Test("latency summaries publish as swift-metrics gauges")
    func gauges() throws {
        let metrics = TestMetrics()
        var r = try LatencyRecorder()
        for v: UInt64 in [1_000, 2_000, 3_000, 4_000] { r.record(v) }
        let s = r.summary()
        s.publish(label: "kestrel.search", dimensions: [("index", "hnsw")], factory: metrics)
        #expect(try metrics.expectGauge("kestrel.search.p50", [("index", "hnsw")]).lastValue == Double(s.p50))
        #expect(try metrics.expectGauge("kestrel.search.p99", [("index", "hnsw")]).lastValue == Double(s.p99))
        #expect(try metrics.expectGauge("kestrel.search.count", [("index", "hnsw")]).lastValue == 4)
        #expect(try metrics.expectGauge("kestrel.search.mean", [("index", "hnsw")]).lastValue == 2_500)
    }
}
