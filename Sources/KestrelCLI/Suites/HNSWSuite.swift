import Kestrel

/// The `hnsw` suite: one built-in HNSW benchmark (clustered synthetic data, exact ground truth
/// from FlatIndex) whose figures feed several cases: recall at the operating point, the speedup
/// over exact search at equal recall, queries per second and build time.
struct HNSWSuite {
    var configuration: HNSWBenchmarkConfiguration

    static let name = "hnsw"

    /// The configuration of a full or `--quick` run.
    init(settings: SuiteSettings) {
        var c = HNSWBenchmarkConfiguration()
        c.count = settings.hnswCount
        c.dimension = settings.hnswDim
        c.queries = settings.hnswQueries
        c.buildThreads = SystemProbe.activeProcessorCount
        c.seed = settings.seed
        configuration = c
    }

    /// Registers the cases; the benchmark itself runs once, when the first case runs.
    /// - Throws: `ProfilingError` for a duplicate case name.
    func register(into suite: inout BenchmarkSuite) throws {
        let run = SharedRun(configuration)
        let c = configuration
        let data = "\(c.count) × \(c.dimension) clustered f32, \(c.queries) queries, k \(c.k), M \(c.M), "
            + "efConstruction \(c.efConstruction)"
        try suite.register(BenchmarkCase(
            name: "hnsw.recall-at-10", suite: Self.name,
            summary: "Recall@\(c.k) against exact FlatIndex results at the smallest ef reaching \(c.targetRecall) (\(data)).",
            target: .atLeast(c.targetRecall, "", metric: "recall@10 (issue 3)"),
            run: { _ in
                let f = try run.figures()
                let point = f.operatingPoint ?? f.points.max { $0.recall < $1.recall }
                return BenchmarkOutcome(value: point?.recall ?? .nan, higherIsBetter: true,
                                        metrics: ["ef": Double(point?.ef ?? 0)])
            }))
        try suite.register(BenchmarkCase(
            name: "hnsw.speedup-vs-flat-scan", suite: Self.name,
            summary: "Queries per second of HNSW at the operating point over exact one-query-at-a-time FlatIndex "
                + "search (SIMD scan), 1 search thread (\(data)). The speedup grows with N: ~27× was measured "
                + "at 100k × 128; the issue's ≥ 150× is a figure for millions of vectors.",
            target: .atLeast(150, "×", metric: "HNSW vs brute force (issue 7 seed target)"),
            run: { _ in
                let f = try run.figures()
                return BenchmarkOutcome(value: f.speedupOverFlatScan ?? .nan, unit: "×", higherIsBetter: true,
                                        metrics: ["flat_scan_qps": f.flatScanQPS, "flat_batch_qps": f.flatBatchQPS,
                                                  "speedup_over_flat_batch": f.speedupOverFlatBatch ?? .nan])
            }))
        try suite.register(BenchmarkCase(
            name: "hnsw.qps", suite: Self.name,
            summary: "Queries per second at the operating point, 1 search thread (\(data)).",
            run: { _ in
                let f = try run.figures()
                return BenchmarkOutcome(value: f.operatingPoint?.qps ?? .nan, unit: "q/s", higherIsBetter: true)
            }))
        try suite.register(BenchmarkCase(
            name: "hnsw.build", suite: Self.name,
            summary: "Build time with \(c.buildThreads) threads, and the index's bytes (\(data)).",
            run: { _ in
                let f = try run.figures()
                return BenchmarkOutcome(value: f.buildSeconds, unit: "s", higherIsBetter: false,
                                        metrics: ["index_bytes": Double(f.indexBytes)])
            }))
    }

    /// Runs the benchmark once and hands the same figures to every case (cases run in order
    /// on one thread).
    final class SharedRun {
        let configuration: HNSWBenchmarkConfiguration
        private var cached: HNSWBenchmarkFigures?

        init(_ configuration: HNSWBenchmarkConfiguration) { self.configuration = configuration }

        func figures() throws -> HNSWBenchmarkFigures {
            if let cached { return cached }
            let f = try HNSWBenchmark.run(configuration)
            cached = f
            return f
        }
    }
}
