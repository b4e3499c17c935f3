import Foundation
import Kestrel
import KestrelBenchmarkKit

/// Runs the built-in HNSW benchmark at one index size: the suite's seam, so tests inject figures.
protocol HNSWMeasuring {
    /// Figures of one run with `count` base vectors.
    func figures(count: Int) throws -> HNSWBenchmarkFigures
}

/// The real measurement: ``HNSWBenchmark`` on clustered synthetic data.
struct BuiltInHNSWProbe: HNSWMeasuring {
    var configuration: HNSWBenchmarkConfiguration

    func figures(count: Int) throws -> HNSWBenchmarkFigures {
        var c = configuration
        c.count = count
        return try HNSWBenchmark.run(c)
    }
}

/// The `hnsw` suite: the built-in HNSW benchmark (clustered synthetic data, exact ground truth
/// from FlatIndex) at several index sizes. Recall, QPS and build time are reported at the
/// largest size; the speedup over exact search is reported at every size, because it grows
/// with N: its verdict is on the growth measured across the sizes run, and the size at which the
/// original specification's 150× would be reached is extrapolated from a power-law fit (INFO).
struct HNSWSuite {
    var configuration: HNSWBenchmarkConfiguration
    var sizes: [Int]
    var probe: any HNSWMeasuring
    var charts: BenchmarkCharts

    static let name = "hnsw"
    /// The speedup of the original specification, a figure for millions of vectors.
    static let specifiedSpeedup = 150.0
    /// Least growth exponent of the speedup: an O(N) scan against a search whose cost grows
    /// far slower than N gives a speedup growing nearly as N; below √N the index does not scale.
    static let minimumGrowthExponent = 0.5

    /// The configuration of a full or `--quick` run; `probe` defaults to the real benchmark.
    init(settings: SuiteSettings, charts: BenchmarkCharts, probe: (any HNSWMeasuring)? = nil) {
        var c = HNSWBenchmarkConfiguration()
        c.count = settings.hnswCounts.max() ?? c.count
        c.dimension = settings.hnswDim
        c.queries = settings.hnswQueries
        c.buildThreads = SystemProbe.activeProcessorCount
        c.seed = settings.seed
        // A fine grid, so the operating point at each size is close to the smallest ef that
        // holds the recall (a coarse one overshoots by up to 2× and bends the speedup curve).
        c.efValues = [10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256]
        // Best of 3 timed passes for HNSW and the exact scan alike: at 10k vectors one pass
        // takes milliseconds, and a single slow pass moved the growth exponent by 0.2.
        c.searchRepeats = 3
        configuration = c
        sizes = settings.hnswCounts.sorted()
        self.probe = probe ?? BuiltInHNSWProbe(configuration: c)
        self.charts = charts
    }

    /// Registers the cases; the benchmark runs once per size, when the first case needs it.
    /// - Throws: `ProfilingError` for a duplicate case name.
    func register(into suite: inout BenchmarkSuite) throws {
        let run = SharedRun(probe)
        let c = configuration
        let largest = sizes.last ?? c.count
        let sizes = self.sizes
        let charts = self.charts
        let data = "\(largest) × \(c.dimension) clustered f32, \(c.queries) queries, k \(c.k), M \(c.M), "
            + "efConstruction \(c.efConstruction)"
        let sizeList = sizes.map(String.init).joined(separator: ", ")
        try suite.register(BenchmarkCase(
            name: "hnsw.recall-at-10", suite: Self.name,
            summary: "Recall@\(c.k) against exact FlatIndex results at the smallest ef reaching \(c.targetRecall) (\(data)).",
            target: .atLeast(c.targetRecall, "", metric: "recall@10 (issue 3)"),
            run: { _ in
                let f = try run.figures(largest)
                Self.chartRecall(f, into: charts)
                let point = f.operatingPoint ?? f.points.max { $0.recall < $1.recall }
                return BenchmarkOutcome(value: point?.recall ?? .nan, higherIsBetter: true,
                                        metrics: ["ef": Double(point?.ef ?? 0)])
            }))
        try suite.register(BenchmarkCase(
            name: "hnsw.speedup-vs-flat-scan", suite: Self.name,
            summary: "Queries per second of HNSW at recall@\(c.k) ≥ \(c.targetRecall) over exact one-query-at-a-time "
                + "FlatIndex search (SIMD scan), 1 search thread, at the largest size (\(data)); every size's "
                + "speedup is a metric. No target: the ratio grows with N (see hnsw.speedup-growth).",
            run: { _ in
                let all = try sizes.map { try run.figures($0) }
                let f = all[all.count - 1]
                var metrics = ["flat_scan_qps": f.flatScanQPS, "flat_batch_qps": f.flatBatchQPS,
                               "speedup_over_flat_batch": f.speedupOverFlatBatch ?? .nan]
                for g in all { metrics["speedup@\(g.configuration.count)"] = g.speedupOverFlatScan ?? .nan }
                return BenchmarkOutcome(value: f.speedupOverFlatScan ?? .nan, unit: "×", higherIsBetter: true,
                                        metrics: metrics)
            }))
        try suite.register(BenchmarkCase(
            name: "hnsw.speedup-growth", suite: Self.name,
            summary: "Exponent b of speedup ∝ N^b, least squares on logs over every size run (\(sizeList) vectors; "
                + "speedup over the exact scan at recall@\(c.k) ≥ \(c.targetRecall), each QPS the best of "
                + "\(c.searchRepeats) passes).",
            target: .atLeast(Self.minimumGrowthExponent, "", metric: "speedup grows at least as √N"),
            run: { _ in
                let growth = try SpeedupGrowth(points: sizes.map { n in (n, try run.figures(n).speedupOverFlatScan) },
                                               target: Self.specifiedSpeedup)
                Self.chartSpeedup(growth, into: charts)
                var metrics = ["fit_b": growth.fit?.b ?? .nan, "fit_r2": growth.fit?.rSquared ?? .nan]
                metrics["size_for_150x"] = growth.sizeForTarget ?? .nan
                return BenchmarkOutcome(value: growth.exponent, higherIsBetter: true, metrics: metrics,
                                        notes: [growth.pointsLine])
            }))
        try suite.register(BenchmarkCase(
            name: "hnsw.size-for-150x", suite: Self.name,
            summary: "Index size at which the specification's \(Int(Self.specifiedSpeedup))× speedup over the exact scan "
                + "would be reached, extrapolated by a power-law fit of the speedups measured at \(sizeList) vectors "
                + "(INFO: a prediction, not a measurement).",
            run: { _ in
                let growth = try SpeedupGrowth(points: sizes.map { n in (n, try run.figures(n).speedupOverFlatScan) },
                                               target: Self.specifiedSpeedup)
                var notes = [growth.pointsLine]
                if let fit = growth.fit {
                    notes.append(String(format: "fit: speedup ≈ %.3g·N^%.3f (least squares on logs, R² %.3f)", fit.a, fit.b, fit.rSquared))
                }
                if growth.sizeForTarget == nil { notes.append("the fit does not reach \(Int(Self.specifiedSpeedup))×") }
                return BenchmarkOutcome(value: growth.sizeForTarget ?? .nan, unit: "vectors", higherIsBetter: false,
                                        notes: notes)
            }))
        try suite.register(BenchmarkCase(
            name: "hnsw.qps", suite: Self.name,
            summary: "Queries per second at the operating point, 1 search thread (\(data)).",
            run: { _ in
                let f = try run.figures(largest)
                return BenchmarkOutcome(value: f.operatingPoint?.qps ?? .nan, unit: "q/s", higherIsBetter: true)
            }))
        try suite.register(BenchmarkCase(
            name: "hnsw.build", suite: Self.name,
            summary: "Build time with \(c.buildThreads) threads, and the index's bytes (\(data)).",
            run: { _ in
                let f = try run.figures(largest)
                return BenchmarkOutcome(value: f.buildSeconds, unit: "s", higherIsBetter: false,
                                        metrics: ["index_bytes": Double(f.indexBytes)])
            }))
    }

    /// Recall against QPS at every ef of one run.
    static func chartRecall(_ f: HNSWBenchmarkFigures, into charts: BenchmarkCharts) {
        let points = f.points.filter { $0.qps > 0 && $0.qps.isFinite && $0.recall.isFinite }
        guard !points.isEmpty else { return }
        charts.add(LineChartSpec(
            fileName: "hnsw-recall-vs-qps",
            title: "HNSW: recall@\(f.configuration.k) against queries per second (\(f.configuration.count) vectors)",
            xLabel: "recall@\(f.configuration.k)", yLabel: "queries per second",
            series: [ChartSeries(name: "M \(f.configuration.M)", x: points.map(\.recall), y: points.map(\.qps))],
            logY: true))
    }

    /// The measured speedups against N, and the fitted curve over the same sizes.
    static func chartSpeedup(_ g: SpeedupGrowth, into charts: BenchmarkCharts) {
        var series = [ChartSeries(name: "measured", x: g.sizes.map(Double.init), y: g.speedups)]
        if let fit = g.fit { series.append(ChartSeries(name: "fit", x: g.sizes.map(Double.init), y: g.sizes.map { fit.predict(Double($0)) })) }
        charts.add(LineChartSpec(
            fileName: "hnsw-speedup-vs-size", title: "HNSW: speedup over the exact scan against index size",
            xLabel: "vectors", yLabel: "speedup (×)", series: series, logX: true, logY: true))
    }

    /// Runs the benchmark once per size and hands the same figures to every case (cases run in
    /// order on one thread).
    final class SharedRun {
        let probe: any HNSWMeasuring
        private var cached: [Int: HNSWBenchmarkFigures] = [:]

        init(_ probe: any HNSWMeasuring) { self.probe = probe }

        func figures(_ count: Int) throws -> HNSWBenchmarkFigures {
            if let f = cached[count] { return f }
            let f = try probe.figures(count: count)
            cached[count] = f
            return f
        }
    }
}

/// How the HNSW speedup over the exact scan grows with the index size.
struct SpeedupGrowth {
    /// Sizes, ascending.
    var sizes: [Int]
    /// Speedup at each size.
    var speedups: [Double]
    /// Slope b of log(speedup) against log(N), least squares over every size (with two sizes,
    /// the growth measured end to end). Every size counts, so one noisy size moves it less than
    /// an end-to-end ratio or a fit with a free offset would.
    var exponent: Double
    /// speedup(N) = a·N^b over the points (nil with fewer than 3 sizes: two points fix it exactly).
    var fit: PowerLawFit?
    /// N at which the fit reaches the target speedup (nil when it never does).
    var sizeForTarget: Double?

    /// - Throws: `KestrelError.invalidArgument` with fewer than 2 sizes or a size without an
    ///   operating point (no ef reached the recall target there).
    init(points: [(size: Int, speedup: Double?)], target: Double) throws {
        let sorted = points.sorted { $0.size < $1.size }
        guard sorted.count >= 2, let first = sorted.first, let last = sorted.last, last.size > first.size else {
            throw KestrelError.invalidArgument(name: "sizes", reason: "need at least 2 distinct index sizes")
        }
        var speedups: [Double] = []
        for p in sorted {
            guard let s = p.speedup, s > 0, s.isFinite else {
                throw KestrelError.invalidArgument(name: "speedup", reason: "no ef reached the recall target at \(p.size) vectors")
            }
            speedups.append(s)
        }
        sizes = sorted.map(\.size)
        self.speedups = speedups
        let loglog: PowerLawFit
        do {
            loglog = try PowerLawFit.fitWithoutOffset(sizes: sizes.map(Double.init), costs: speedups)
        } catch {
            throw KestrelError.invalidArgument(name: "sizes", reason: "\(error)")
        }
        exponent = loglog.b
        fit = Set(sizes).count >= 3 ? loglog : nil
        if let f = fit, f.a > 0, f.b > 0 {
            let n = pow(target / f.a, 1 / f.b)
            sizeForTarget = n.isFinite ? n : nil
        } else {
            sizeForTarget = nil
        }
    }

    /// `speedup 12.1× at 10000, 20.3× at 30000, 35.2× at 100000 vectors`.
    var pointsLine: String {
        "speedup " + zip(sizes, speedups).map { String(format: "%.1f× at %d", $1, $0) }.joined(separator: ", ") + " vectors"
    }
}
