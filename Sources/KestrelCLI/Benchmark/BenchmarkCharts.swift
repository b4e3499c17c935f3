import Kestrel
import KestrelBenchmarkKit

/// A line chart a benchmark case asks for (e.g. speedup against vector length); written by
/// `--plot DIR` as `<fileName>.svg`.
struct LineChartSpec: Sendable, Equatable {
    /// File name without extension, unique within a run (e.g. `speedup-vs-dim`).
    var fileName: String
    var title: String
    var xLabel: String
    var yLabel: String
    var series: [ChartSeries]
    var logX = false
    var logY = false
}

/// Collects the line charts cases produce during one run. Cases add to it from the suite's
/// thread (a suite runs its cases one after another), so it needs no lock.
final class BenchmarkCharts {
    private(set) var lineCharts: [LineChartSpec] = []

    /// Adds a chart, replacing an earlier one with the same file name.
    func add(_ chart: LineChartSpec) {
        lineCharts.removeAll { $0.fileName == chart.fileName }
        lineCharts.append(chart)
    }
}
