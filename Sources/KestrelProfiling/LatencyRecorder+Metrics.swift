import Metrics

extension LatencyRecorder {
    /// Records one latency here and in a swift-metrics `Timer` (for exporting to Prometheus,
    /// StatsD, OpenTelemetry … through whatever backend the application bootstrapped).
    ///
    /// - Parameters:
    ///   - nanoseconds: the latency.
    ///   - timer: the timer that also receives it.
    public mutating func record(_ nanoseconds: UInt64, to timer: Timer) {
        record(nanoseconds)
        timer.recordNanoseconds(Int64(clamping: nanoseconds))
    }
}

extension LatencySummary {
    /// Publishes the percentiles and mean as swift-metrics gauges named `<label>.p50`, `.p90`,
    /// `.p95`, `.p99`, `.p999`, `.mean` (nanoseconds) and `.count`.
    ///
    /// - Parameters:
    ///   - label: metric name prefix.
    ///   - dimensions: dimensions attached to every gauge.
    ///   - factory: the metrics backend (default: the globally bootstrapped one).
    public func publish(label: String, dimensions: [(String, String)] = [],
                        factory: MetricsFactory = MetricsSystem.factory) {
        let values: [(String, Double)] = [
            ("p50", Double(p50)), ("p90", Double(p90)), ("p95", Double(p95)), ("p99", Double(p99)),
            ("p999", Double(p999)), ("mean", mean), ("count", Double(count)),
        ]
        for (suffix, v) in values {
            Gauge(label: "\(label).\(suffix)", dimensions: dimensions, factory: factory).record(v)
        }
    }
}
