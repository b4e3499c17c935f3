import ArgumentParser
import Foundation
import Kestrel

extension AnnBenchCommand {
    /// `kestrel ann-bench --curve N1,N2,…`: for every N, one ``HNSWBenchmark`` run on N clustered
    /// synthetic vectors (256 clusters, spread 0.6 — the recipe of Benchmarks/peers/make_clustered.py),
    /// then the smallest ef whose recall@k against exact ground truth (``FlatIndex`` batch/GEMM path,
    /// same queries) reaches 0.95, and its single-thread QPS over ``FlatIndex``'s one-query SIMD scan
    /// on the same queries. Builds use --build-threads, searches one thread.
    func runCurve(sizes: [Int]) throws {
        try checkCommonFlags()
        guard curveDim >= 1, curveQueries >= 1 else {
            throw ValidationError("--curve-dim and --curve-queries must be ≥ 1")
        }
        guard storage ?? "f32" == "f32", DistanceMetric(name: metric ?? "l2") == .l2Squared, base == nil, queries == nil,
              groundTruth == nil, loadIndex == nil, !mapped, !mapFull else {
            throw ValidationError("--curve uses synthetic f32 data under l2; it takes no --base/--queries/--ground-truth/--load-index/--mapped/--map-full/--storage/--metric")
        }
        try checkCurveSizes(sizes)
        let m = self.m ?? 16, efConstruction = self.efConstruction ?? 200
        let efs = try parseList(ef ?? "10,12,16,20,24,32,40,48,64,80,96,128,160,192,256,320,384,512,768,1024", "--ef").sorted()
        if !json {
            print("HNSW vs exact search, \(curveDim)-d clustered f32, \(curveQueries) queries, k \(k), M \(m), "
                  + "efConstruction \(efConstruction), \(buildThreads) build threads, 1 search thread, target recall@\(k) ≥ 0.95")
            print("        N   build_s    ef  recall   hnsw_qps   flat_qps  speedup")
        }
        for n in sizes {
            var c = HNSWBenchmarkConfiguration()
            c.count = n
            c.dimension = curveDim
            c.queries = curveQueries
            c.clusters = 256
            c.k = k
            c.M = m
            c.efConstruction = efConstruction
            c.efValues = efs
            c.buildThreads = buildThreads
            c.searchThreads = 1
            c.optimizeLayout = reorder
            c.searchRepeats = repeats
            c.flatScanQueries = curveQueries
            let f = try HNSWBenchmark.run(c)
            // Smallest ef reaching the target (the grid is ascending), not merely the fastest.
            let op = f.points.first { $0.recall >= c.targetRecall }
            let speedup = op.map { $0.qps / f.flatScanQPS }
            emit([("event", "curve"), ("n", n), ("dim", curveDim), ("nq", curveQueries), ("M", m),
                  ("ef_construction", efConstruction), ("build_threads", buildThreads), ("build_s", f.buildSeconds),
                  ("ef", op?.ef ?? 0), ("recall", op?.recall ?? .nan), ("hnsw_qps", op?.qps ?? .nan),
                  ("flat_qps", f.flatScanQPS), ("speedup", speedup ?? .nan), ("flat_batch_qps", f.flatBatchQPS),
                  ("index_bytes", f.indexBytes), ("version", kestrelVersionString)],
                 table: op.map { String(format: "%9ld %9.1f %5ld  %.4f %10.0f %10.1f %7.1f×", n, f.buildSeconds, $0.ef,
                                        $0.recall, $0.qps, f.flatScanQPS, $0.qps / f.flatScanQPS) }
                    ?? String(format: "%9ld %9.1f  none reaches recall 0.95 (best %.4f at ef %ld)", n, f.buildSeconds,
                              f.points.last?.recall ?? 0, f.points.last?.ef ?? 0))
        }
    }
}
