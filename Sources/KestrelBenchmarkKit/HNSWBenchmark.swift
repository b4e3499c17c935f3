import Foundation
import KestrelProfiling
import KestrelTensor
import KestrelVectorIndex

/// Settings of the built-in HNSW benchmark (``HNSWBenchmark/run(_:)``).
public struct HNSWBenchmarkConfiguration: Sendable {
    /// Base vectors.
    public var count = 20_000
    /// Components per vector.
    public var dimension = 64
    /// Queries (timed as one batch per ef).
    public var queries = 1_000
    /// Clusters of the synthetic mixture.
    public var clusters = 64
    /// Neighbours per query.
    public var k = 10
    /// HNSW M.
    public var M = 16
    /// HNSW efConstruction.
    public var efConstruction = 200
    /// Beam widths to measure, ascending.
    public var efValues = [10, 16, 32, 64, 128, 256]
    /// Threads for building.
    public var buildThreads = 1
    /// Threads for the search batches (HNSW and flat alike).
    public var searchThreads = 1
    /// Vector codec.
    public var storage: VectorStorageKind = .f32
    /// Recall@k the operating point must reach.
    public var targetRecall = 0.95
    /// Seed of the data.
    public var seed: UInt64 = 7
    /// Times each HNSW batch and the exact one-query scan run; the fastest pass counts (steadier
    /// QPS and speedups on a shared machine).
    public var searchRepeats = 1
    /// Queries (the first ones of the set) timed through ``FlatIndex``'s one-query scan; capped at `queries`.
    public var flatScanQueries = 200
    /// Renumber the graph breadth-first after the build (``HNSWIndex/optimizeLayout()``; its
    /// time counts in the build time).
    public var optimizeLayout = true

    /// Creates the default configuration (20k × 64, 1000 queries, M 16, efConstruction 200).
    public init() {}
}

/// One measured beam width.
public struct HNSWBenchmarkPoint: Sendable {
    /// Beam width.
    public var ef: Int
    /// Queries per second of the batch (wall clock).
    public var qps: Double
    /// Mean recall@k against exact search.
    public var recall: Double

    /// A measured point (tests build figures by hand).
    package init(ef: Int, qps: Double, recall: Double) {
        self.ef = ef
        self.qps = qps
        self.recall = recall
    }
}

/// Figures of one run of the built-in HNSW benchmark.
public struct HNSWBenchmarkFigures: Sendable {
    /// The configuration that produced them.
    public var configuration: HNSWBenchmarkConfiguration
    /// Wall-clock seconds to build the index (including ``HNSWBenchmarkConfiguration/optimizeLayout``).
    public var buildSeconds: Double
    /// ``HNSWIndex/bytesUsed`` after the build.
    public var indexBytes: Int
    /// Exact search, one ``FlatIndex`` scan per query (one-to-many kernels), queries per second.
    public var flatScanQPS: Double
    /// Exact search, the whole batch through ``FlatIndex``'s GEMM path, queries per second.
    public var flatBatchQPS: Double
    /// Every ef measured.
    public var points: [HNSWBenchmarkPoint]
    /// The fastest point whose recall reaches the target (nil when none does).
    public var operatingPoint: HNSWBenchmarkPoint?
    /// `operatingPoint.qps / flatScanQPS`.
    public var speedupOverFlatScan: Double? { operatingPoint.map { $0.qps / flatScanQPS } }
    /// Figures as measured (tests build them by hand).
    package init(configuration: HNSWBenchmarkConfiguration, buildSeconds: Double, indexBytes: Int, flatScanQPS: Double,
                 flatBatchQPS: Double, points: [HNSWBenchmarkPoint], operatingPoint: HNSWBenchmarkPoint?) {
        self.configuration = configuration
        self.buildSeconds = buildSeconds
        self.indexBytes = indexBytes
        self.flatScanQPS = flatScanQPS
        self.flatBatchQPS = flatBatchQPS
        self.points = points
        self.operatingPoint = operatingPoint
    }

    /// `operatingPoint.qps / flatBatchQPS`.
    public var speedupOverFlatBatch: Double? { operatingPoint.map { $0.qps / flatBatchQPS } }
}

/// The built-in HNSW benchmark on synthetic clustered data (what `kestrel benchmark --suite hnsw`
/// runs): builds an index, measures batch QPS and recall@k for every ef against exact search,
/// and the speedup over ``FlatIndex`` at the target recall.
public enum HNSWBenchmark {
    /// Runs the benchmark. Takes a few seconds at the default size in release builds.
    /// - Throws: `invalidArgument` for an unusable configuration; `capacityExceeded` when its
    ///   data or results would not fit in physical memory.
    public static func run(_ c: HNSWBenchmarkConfiguration = HNSWBenchmarkConfiguration()) throws(KestrelError) -> HNSWBenchmarkFigures {
        guard c.count > 0, c.queries > 0, c.k > 0, !c.efValues.isEmpty else {
            throw .invalidArgument(name: "configuration", reason: "count, queries, k and efValues must be positive / non-empty")
        }
        // The data is held three times (array, flat and HNSW index) and the exact results once.
        _ = try SizeCheck.bytes(c.count, c.dimension, 12)
        _ = try SizeCheck.bytes(c.queries, min(c.k, c.count), MemoryLayout<SearchResult>.stride)
        let mix = try SyntheticClusters(dimension: c.dimension, clusters: c.clusters, seed: c.seed)
        let base = try mix.sample(count: c.count, seed: c.seed &+ 1)
        let queries = try mix.sample(count: c.queries, seed: c.seed &+ 2)
        let keys = (0..<c.count).map { UInt64($0) }

        let flat = try FlatIndex(dimension: c.dimension, capacity: c.count)
        try flat.add(keys: keys, vectors: base)
        var t0 = now()
        let truth = try flat.search(batch: queries, k: c.k, threads: c.searchThreads)
        let flatBatchQPS = Double(c.queries) / (now() - t0)
        let scanQueries = max(1, min(c.queries, c.flatScanQueries))
        // Best of `searchRepeats` passes, as for the HNSW searches below: the speedup is their ratio.
        var bestScan = Double.infinity
        for _ in 0..<max(1, c.searchRepeats) {
            t0 = now()
            for i in 0..<scanQueries {
                _ = try flat.search(Array(queries[(i * c.dimension)..<((i + 1) * c.dimension)]), k: c.k)
            }
            bestScan = min(bestScan, now() - t0)
        }
        let flatScanQPS = Double(scanQueries) / bestScan

        var p = HNSWParameters()
        p.M = c.M
        p.efConstruction = c.efConstruction
        let index = try HNSWIndex(dimension: c.dimension, storage: c.storage, parameters: p, capacity: c.count)
        t0 = now()
        try index.add(keys: keys, vectors: base, threads: c.buildThreads)
        if c.optimizeLayout { try index.optimizeLayout() }
        let buildSeconds = now() - t0

        var points: [HNSWBenchmarkPoint] = []
        for ef in c.efValues {
            var best = Double.infinity
            var found: [[SearchResult]] = []
            for _ in 0..<max(1, c.searchRepeats) {
                t0 = now()
                found = try index.search(batch: queries, k: c.k, ef: ef, threads: c.searchThreads)
                best = min(best, now() - t0)
            }
            let qps = Double(c.queries) / best
            points.append(HNSWBenchmarkPoint(ef: ef, qps: qps, recall: recall(found, truth, k: c.k)))
        }
        let op = points.filter { $0.recall >= c.targetRecall }.max { $0.qps < $1.qps }
        return HNSWBenchmarkFigures(configuration: c, buildSeconds: buildSeconds, indexBytes: index.bytesUsed,
                                    flatScanQPS: flatScanQPS, flatBatchQPS: flatBatchQPS, points: points, operatingPoint: op)
    }

    /// Mean fraction of each exact top-k found.
    public static func recall(_ found: [[SearchResult]], _ truth: [[SearchResult]], k: Int) -> Double {
        var hits = 0
        var total = 0
        for (f, t) in zip(found, truth) {
            let want = Set(t.prefix(k).map(\.key))
            hits += f.prefix(k).filter { want.contains($0.key) }.count
            total += want.count
        }
        return total == 0 ? 1 : Double(hits) / Double(total)
    }

    static func now() -> Double { Double(MonotonicClock.now()) * 1e-9 }
}
