import ArgumentParser
import Foundation
import Kestrel

/// `kestrel ann-bench`: builds an HNSW index on a base file and times batch and single-query
/// searches over a grid of ef and thread counts — the contract outside peer harnesses drive
/// beside hnswlib, FAISS and USearch (see Documentation/Benchmarks.md).
struct AnnBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ann-bench",
        abstract: "Benchmark HNSW build and search on vector files (.fvecs/.bvecs/.npy; ids .ivecs/.npy)."
    )

    @Option(help: "Base vectors (.fvecs, .bvecs or .npy). Keys are the 0-based row numbers. Required unless --curve.")
    var base: String?
    @Option(help: "Query vectors (.fvecs, .bvecs or .npy). Required unless --curve.")
    var queries: String?
    @Option(help: "Instead of files: for each comma-separated N, HNSW speedup over exact search on N clustered synthetic vectors.")
    var curve: String?
    @Option(name: .customLong("curve-dim"), help: "With --curve: components per vector.")
    var curveDim: Int = 128
    @Option(name: .customLong("curve-queries"), help: "With --curve: queries (exact ground truth and both timings use the same ones).")
    var curveQueries: Int = 500
    @Option(name: .customLong("ground-truth"), help: "Ground-truth neighbour rows (.ivecs or int32 .npy); else exact search computes it.")
    var groundTruth: String?
    @Option(help: "Neighbours per query.")
    var k: Int = 10
    @Option(help: "Metric: l2, ip or cos (default l2; with --load-index, the index's own, and only that may be given).")
    var metric: String?
    @Option(name: .customLong("M"), help: "HNSW links per node, 2M on layer 0 (default 16; with --load-index only the index's own).")
    var m: Int?
    @Option(name: .customLong("ef-construction"), help: "Beam width while building (default 200; not with --load-index).")
    var efConstruction: Int?
    @Option(help: "Comma-separated search beam widths (default 10,16,32,64,128,256; with --curve a finer grid up to 1024).")
    var ef: String?
    @Option(help: "Comma-separated search thread counts.")
    var threads: String = "1,2"
    @Option(name: .customLong("build-threads"), help: "Threads used to build (default 2).")
    var buildThreadsOption: Int?
    @Option(name: .customLong("latency-queries"), help: "At 1 thread, also time this many queries one call at a time.")
    var latencyQueries: Int = 1000
    @Option(help: "Vector storage: f32, f16, bf16, int8 or binary (default f32; with --load-index only the index's own).")
    var storage: String?
    @Flag(name: .customLong("rerank"), help: "With lossy storage, keep f32 vectors and re-rank candidates exactly.")
    var rerank = false
    @Flag(name: .customLong("keep-pruned"), help: "Refill pruned neighbour lists with discarded candidates.")
    var keepPruned = false
    @Option(name: .customLong("ids-dir"), help: "Write returned ids as DIR/ef{EF}_t{T}.ivecs (k int32 per query, -1 padding).")
    var idsDir: String?
    @Flag(help: "One JSON object per line instead of a table.")
    var json = false
    @Option(name: .customLong("repeat"), help: "Run every batch this many times and report the fastest (noisy machines).")
    var repeats: Int = 1
    @Option(name: .customLong("save-index"), help: "After building, save the index to this file.")
    var saveIndex: String?
    @Option(name: .customLong("load-index"), help: "Load this saved index instead of building (reports a \"load\" event).")
    var loadIndex: String?
    @Flag(name: .customLong("mapped"), help: "With --load-index, memory-map the file read-only instead of copying it.")
    var mapped = false
    @Flag(name: .customLong("reorder"), inversion: .prefixedNo,
          help: "After building, renumber nodes breadth-first (HNSWIndex.optimizeLayout; counted in build_s; default on).")
    var reorderOption: Bool?
    @Flag(name: .customLong("map-full"), help: "With --load-index (not --mapped): leave the kept f32 re-ranking vectors in the file, mapped read-only.")
    var mapFull = false
    @Option(name: .customLong("rerank-depth"), help: "With --rerank: re-score only the best max(k, R) candidates exactly (0 = all ef).")
    var rerankDepth = 0
    @Flag(name: .customLong("memory-report"), help: "After the searches, print a {\"event\":\"memory\"} line: heap vs mapped bytes per part, resident mapped pages.")
    var memoryReport = false

    func run() throws {
        if let curve { return try runCurve(sizes: parseList(curve, "--curve")) }
        guard let base, let queries else { throw ValidationError("--base and --queries are required (or use --curve)") }
        try checkFileModeFlags()
        guard let metricValue = DistanceMetric(name: metric ?? "l2"), metricValue != .hamming else {
            throw ValidationError("--metric must be l2, ip or cos")
        }
        guard let storageValue = VectorStorageKind(rawValue: storage ?? "f32") else {
            throw ValidationError("--storage must be f32, f16, bf16, int8 or binary")
        }
        let efs = try parseList(ef ?? "10,16,32,64,128,256", "--ef")
        let threadCounts = try parseList(threads, "--threads")
        try checkThreadCounts(threadCounts)

        let baseSet = try Dataset.readFloats(URL(fileURLWithPath: base))
        let querySet = try Dataset.readFloats(URL(fileURLWithPath: queries))
        guard baseSet.dimension == querySet.dimension else {
            throw ValidationError("base has dimension \(baseSet.dimension), queries \(querySet.dimension)")
        }
        try checkSetSizes(baseRows: baseSet.rows, queryRows: querySet.rows)
        let truth: DatasetMatrix<Int32>? = try groundTruth.map { try Dataset.readInts(URL(fileURLWithPath: $0)) }
        if let truth { try checkGroundTruth(truth, queryRows: querySet.rows, baseRows: baseSet.rows) }

        let params = HNSWParameters(M: m ?? 16, efConstruction: efConstruction ?? 200, efSearch: efs.first ?? 64,
                                    keepPrunedConnections: keepPruned, keepFullPrecision: rerank)
        let rss0 = AnnBenchClock.residentBytes()
        let t0 = AnnBenchClock.wall()
        let index: HNSWIndex
        if let loadIndex {
            index = try HNSWIndex.load(from: URL(fileURLWithPath: loadIndex), mapped: mapped, mapFullPrecision: mapFull)
            guard index.dimension == baseSet.dimension, index.count == baseSet.rows else {
                throw ValidationError("\(loadIndex) holds \(index.count) × \(index.dimension), base is \(baseSet.rows) × \(baseSet.dimension)")
            }
            try checkLoadedIndex(index, path: loadIndex)
        } else {
            index = try HNSWIndex(dimension: baseSet.dimension, metric: metricValue, storage: storageValue,
                                  parameters: params, capacity: baseSet.rows)
            try index.add(keys: (0..<baseSet.rows).map { UInt64($0) }, vectors: baseSet.values, threads: buildThreads)
            if reorder { try index.optimizeLayout() }
        }
        let buildSeconds = AnnBenchClock.wall() - t0
        let memBytes = AnnBenchClock.residentBytes() - rss0
        index.rerankDepth = rerankDepth
        if let saveIndex { try index.save(to: URL(fileURLWithPath: saveIndex)) }
        let event = loadIndex == nil ? "build" : "load"
        emit([("event", event), ("build_s", buildSeconds), ("index_bytes", index.bytesUsed), ("mem_bytes", memBytes),
              ("build_threads", loadIndex == nil ? buildThreads : 0), ("version", kestrelVersionString),
              ("n", baseSet.rows), ("dim", baseSet.dimension), ("M", index.parameters.M),
              ("ef_construction", index.parameters.efConstruction), ("storage", index.storage.rawValue),
              ("vector_heap_bytes", index.memoryUsage().vectorHeapBytes)],
             table: String(format: "%@: %ld × %ld in %.2f s on %ld threads, index %.1f MB (RSS +%.1f MB)", event,
                           baseSet.rows, baseSet.dimension, buildSeconds, loadIndex == nil ? buildThreads : 0,
                           Double(index.bytesUsed) / 1e6, Double(memBytes) / 1e6))

        // Exact neighbours when no ground truth was given.
        let reference: DatasetMatrix<Int32>
        if let truth {
            reference = truth
        } else {
            // The loaded index's metric, not a default: the truth must rank as the index does.
            let flat = try FlatIndex(dimension: baseSet.dimension, metric: index.metric)
            try flat.add(keys: (0..<baseSet.rows).map { UInt64($0) }, vectors: baseSet.values, threads: max(threadCounts.max() ?? 1, 1))
            let exact = try flat.search(batch: querySet.values, k: k, threads: threadCounts.max() ?? 1)
            reference = try DatasetMatrix(rows: exact.count, dimension: k,
                                          values: exact.flatMap { row in (0..<k).map { $0 < row.count ? Int32(row[$0].key) : -1 } })
        }

        if !json { print("   ef  thr      nq   batch s      QPS   cpu s  p50 µs  p99 µs  recall@\(k)") }
        let nq = querySet.rows
        let d = querySet.dimension
        for t in threadCounts {
            for e in efs {
                var batchSeconds = Double.infinity
                var batchCPU = 0.0
                var found: [[SearchResult]] = []
                for _ in 0..<repeats {
                    let c0 = AnnBenchClock.processCPU()
                    let w0 = AnnBenchClock.wall()
                    found = try querySet.values.withUnsafeBufferPointer { q in
                        try index.search(batch: q, k: k, ef: e, threads: t)
                    }
                    let wall = AnnBenchClock.wall() - w0
                    if wall < batchSeconds {
                        batchSeconds = wall
                        batchCPU = AnnBenchClock.processCPU() - c0
                    }
                }
                var lat: [Double] = []
                if t == 1 && latencyQueries > 0 {
                    let n = min(latencyQueries, nq)
                    lat.reserveCapacity(n)
                    try querySet.values.withUnsafeBufferPointer { q in
                        for i in 0..<n {
                            let s = AnnBenchClock.wall()
                            _ = try index.search(UnsafeBufferPointer(rebasing: q[(i * d)..<((i + 1) * d)]), k: k, ef: e)
                            lat.append((AnnBenchClock.wall() - s) * 1e6)
                        }
                    }
                }
                let recall = annRecall(found, truth: reference, k: k)
                if let idsDir {
                    try FileManager.default.createDirectory(atPath: idsDir, withIntermediateDirectories: true)
                    let ids = found.flatMap { row in (0..<k).map { $0 < row.count ? Int32(truncatingIfNeeded: row[$0].key) : -1 } }
                    try Dataset.write(DatasetMatrix(rows: nq, dimension: k, values: ids),
                                      to: URL(fileURLWithPath: idsDir).appendingPathComponent("ef\(e)_t\(t).ivecs"))
                }
                var fields: [(String, Any)] = [("event", "search"), ("ef", e), ("threads", t), ("nq", nq),
                                               ("batch_s", batchSeconds), ("batch_cpu_s", batchCPU)]
                if !lat.isEmpty {
                    fields += [("lat_us_p50", percentile(lat, 50)), ("lat_us_p99", percentile(lat, 99)), ("lat_n", lat.count)]
                }
                fields += [("recall", recall), ("qps", Double(nq) / batchSeconds)]
                emit(fields, table: String(format: "%5ld %4ld %7ld %9.3f %8.0f %7.2f %7@ %7@  %.4f", e, t, nq, batchSeconds,
                                           Double(nq) / batchSeconds, batchCPU,
                                           lat.isEmpty ? "-" : String(format: "%.0f", percentile(lat, 50)),
                                           lat.isEmpty ? "-" : String(format: "%.0f", percentile(lat, 99)), recall))
            }
        }
        // Where the index's bytes ended up after the searches (mapped parts: resident pages now).
        // Opt-in, so the contract's output (build, then search lines) stays as specified.
        guard memoryReport else { return }
        let usage = index.memoryUsage()
        emit([("event", "memory"), ("heap_bytes", usage.heapBytes), ("code_heap_bytes", usage.codeHeapBytes),
              ("code_mapped_bytes", usage.codeMappedBytes), ("full_heap_bytes", usage.fullPrecisionHeapBytes),
              ("full_mapped_bytes", usage.fullPrecisionMappedBytes), ("full_resident_bytes", usage.fullPrecisionResidentBytes),
              ("graph_heap_bytes", usage.graphHeapBytes), ("f32_vector_bytes", baseSet.rows * baseSet.dimension * 4)],
             table: String(format: "memory: heap %.1f MB (codes %.1f, f32 %.1f, graph %.1f); mapped codes %.1f MB, f32 %.1f MB (%.1f MB resident)",
                           Double(usage.heapBytes) / 1e6, Double(usage.codeHeapBytes) / 1e6, Double(usage.fullPrecisionHeapBytes) / 1e6,
                           Double(usage.graphHeapBytes) / 1e6, Double(usage.codeMappedBytes) / 1e6,
                           Double(usage.fullPrecisionMappedBytes) / 1e6, Double(usage.fullPrecisionResidentBytes) / 1e6))
    }

    func emit(_ fields: [(String, Any)], table: String) {
        print(json ? jsonLine(fields) : table)
        fflush(nil)
    }

    func parseList(_ s: String, _ name: String) throws -> [Int] {
        let v = s.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !v.isEmpty, v.allSatisfy({ ($0 ?? 0) >= 1 }) else { throw ValidationError("\(name) must be a comma-separated list of positive integers") }
        return v.map { $0! }
    }
}

extension AnnBenchCommand {
    /// Threads used to build: `--build-threads`, else 2 (nil tells `--load-index` it was not given).
    var buildThreads: Int { buildThreadsOption ?? 2 }
    /// Whether a built index is renumbered: `--reorder`/`--no-reorder`, else on.
    var reorder: Bool { reorderOption ?? true }
}
