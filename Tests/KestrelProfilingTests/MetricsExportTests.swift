import Metrics
import MetricsTestKit
import Testing
@testable import KestrelProfiling

@Suite("Metrics export")
struct MetricsExportTests {
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
