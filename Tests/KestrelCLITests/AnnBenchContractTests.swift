import Foundation
import KestrelTensor
import KestrelVectorIndex
import Testing
import _KestrelTestSupport

/// `kestrel ann-bench` is a peer-benchmark contract: outside harnesses parse its JSON lines and
/// read its ids files. These tests run the built executable on small files and check the output
/// field by field against the contract and an exact search.
@Suite struct AnnBenchContractTests {

    func run(_ args: [String]) throws -> (status: Int32, lines: [String]) {
        let r = try KestrelProcess.run(args)
        return (r.status, r.lines)
    }

    @Test func jsonLinesAndIdsFilesFollowTheContract() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("annbench-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SplitMix64(seed: 5)
        let n = 400, nq = 30, dim = 8, k = 5
        let base = (0..<(n * dim)).map { _ in rng.nextSignedUnit() }
        let queries = (0..<(nq * dim)).map { _ in rng.nextSignedUnit() }
        let baseURL = dir.appendingPathComponent("base.fvecs"), queryURL = dir.appendingPathComponent("q.npy")
        try Dataset.write(DatasetMatrix(rows: n, dimension: dim, values: base), to: baseURL)
        try Dataset.write(DatasetMatrix(rows: nq, dimension: dim, values: queries), to: queryURL)
        let ids = dir.appendingPathComponent("ids")

        let (status, lines) = try run([
            "ann-bench", "--base", baseURL.path, "--queries", queryURL.path, "--k", "\(k)", "--metric", "l2",
            "--M", "8", "--ef-construction", "40", "--ef", "4,64", "--threads", "1,2", "--build-threads", "2",
            "--latency-queries", "10", "--ids-dir", ids.path, "--json", "--memory-report",
        ])
        #expect(status == 0)
        let objects = try lines.map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        try #require(objects.count == 1 + 4 + 1)
        let build = objects[0]
        #expect(build["event"] as? String == "build")
        for key in ["build_s", "index_bytes", "mem_bytes", "build_threads", "version"] { #expect(build[key] != nil, "build lacks \(key)") }
        #expect(build["build_threads"] as? Int == 2)

        // Exact neighbours (row numbers) for the recall and ids checks.
        let flat = try FlatIndex(dimension: dim)
        try flat.add(keys: (0..<n).map { UInt64($0) }, vectors: base)
        let exact = try flat.search(batch: queries, k: k, threads: 1).map { Set($0.map { Int32($0.key) }) }

        var seen: [(ef: Int, threads: Int)] = []
        for s in objects[1...4] {
            #expect(s["event"] as? String == "search")
            for key in ["ef", "threads", "nq", "batch_s", "batch_cpu_s", "recall"] { #expect(s[key] != nil, "search lacks \(key)") }
            let ef = try #require(s["ef"] as? Int), t = try #require(s["threads"] as? Int)
            seen.append((ef, t))
            #expect(s["nq"] as? Int == nq)
            // Latency only at one thread.
            #expect((s["lat_us_p50"] != nil) == (t == 1) && (s["lat_n"] as? Int).map { $0 == 10 } != false)
            // The ids file: nq rows of k 0-based base rows; recall recomputed from it matches.
            let m = try Dataset.readInts(ids.appendingPathComponent("ef\(ef)_t\(t).ivecs"))
            #expect(m.rows == nq && m.dimension == k)
            #expect(m.values.allSatisfy { $0 >= 0 && $0 < Int32(n) })
            let hits = (0..<nq).reduce(0) { acc, q in acc + m.values[(q * k)..<((q + 1) * k)].filter { exact[q].contains($0) }.count }
            let recall = try #require(s["recall"] as? Double)
            #expect(abs(recall - Double(hits) / Double(nq * k)) < 1e-9)
            if ef == 64 { #expect(recall >= 0.95) }
        }
        #expect(seen.map { "\($0.ef)/\($0.threads)" } == ["4/1", "64/1", "4/2", "64/2"])
        #expect(objects[5]["event"] as? String == "memory")
        #expect(objects[5]["code_heap_bytes"] as? Int ?? 0 >= n * dim * 4)
    }

    @Test(arguments: [
        ["--k", "0"],
        ["--metric", "hamming"],
        ["--storage", "f64"],
        ["--ef", "16,x"],
        ["--rerank-depth", "-1"],
    ])
    func badRequestsExitNonZero(_ extra: [String]) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("annbench-bad-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("v.fvecs")
        try Dataset.write(DatasetMatrix(rows: 20, dimension: 4, values: (0..<80).map { Float($0) }), to: url)
        #expect(try run(["ann-bench", "--base", url.path, "--queries", url.path] + extra).status != 0)
        #expect(try run(["ann-bench", "--base", dir.appendingPathComponent("missing.fvecs").path, "--queries", url.path]).status != 0)
    }

    // MARK: Inputs that would make the numbers wrong (issue 15 §2–3)

    /// Runs and returns the exit status, stdout lines and stderr text.
    func runCapturing(_ args: [String]) throws -> (status: Int32, lines: [String], stderr: String) {
        let r = try KestrelProcess.run(args)
        return (r.status, r.lines, r.stderr)
    }

    /// A temporary directory with 200 random 6-d base vectors (varying norms, so l2 and cosine
    /// neighbours differ) and 12 queries.
    struct Files {
        let dir: URL, base: URL, queries: URL
        let n = 200, nq = 12, dim = 6
        let baseValues: [Float], queryValues: [Float]
        init() throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("annbench-flags-\(UUID())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            var rng = SplitMix64(seed: 15)
            baseValues = (0..<(n * dim)).map { i in rng.nextSignedUnit() * Float(1 + (i / 6) % 7) }
            queryValues = (0..<(nq * dim)).map { _ in rng.nextSignedUnit() }
            base = dir.appendingPathComponent("base.fvecs")
            queries = dir.appendingPathComponent("q.fvecs")
            try Dataset.write(DatasetMatrix(rows: n, dimension: dim, values: baseValues), to: base)
            try Dataset.write(DatasetMatrix(rows: nq, dimension: dim, values: queryValues), to: queries)
        }
        func remove() { try? FileManager.default.removeItem(at: dir) }
        var args: [String] { ["ann-bench", "--base", base.path, "--queries", queries.path, "--threads", "1",
                              "--latency-queries", "0", "--M", "8", "--ef-construction", "40"] }
    }

    /// Each refused request exits non-zero and names the flag at fault on stderr.
    @Test(arguments: [
        (["--repeat", "0"], "--repeat"),
        (["--mapped"], "--mapped"),
        (["--map-full"], "--map-full"),
        (["--latency-queries", "-1"], "--latency-queries"),
        (["--k", "100000000"], "--k"),
        (["--k", "201"], "--k"),
        (["--threads", "100000000"], "--threads"),
        (["--build-threads", "100000000"], "--build-threads"),
    ])
    func meaninglessFlagsAreErrorsNamingTheFlag(_ extra: [String], _ flag: String) throws {
        let f = try Files()
        defer { f.remove() }
        let r = try runCapturing(f.args + extra)
        #expect(r.status != 0)
        #expect(r.stderr.contains(flag), "stderr: \(r.stderr)")
        #expect(!r.lines.contains { $0.contains("search") || $0.contains("recall") })
    }

    @Test(arguments: [
        (["--curve", "1000000000000"], "--curve"),
        (["--curve", "1000", "--curve-dim", "1000000000000000"], "--curve-dim"),
        (["--curve", "1000", "--curve-queries", "4611686018427387904"], "--curve-queries"),
        (["--curve", "100", "--k", "101"], "--k"),
        (["--curve", "1000", "--repeat", "0"], "--repeat"),
        (["--curve", "1000", "--mapped"], "--mapped"),
    ])
    func curveSizesPastMemoryAreRefusedUpFront(_ args: [String], _ flag: String) throws {
        let r = try runCapturing(["ann-bench"] + args)
        #expect(r.status != 0)
        #expect(r.stderr.contains(flag), "stderr: \(r.stderr)")
        #expect(r.lines.count <= 2)  // at most the table header, no curve line
    }

    @Test func emptyBaseOrQueriesAreErrors() throws {
        let f = try Files()
        defer { f.remove() }
        let empty = f.dir.appendingPathComponent("empty.npy")
        try Dataset.write(DatasetMatrix<Float>(rows: 0, dimension: f.dim, values: []), to: empty)
        let b = try runCapturing(["ann-bench", "--base", empty.path, "--queries", f.queries.path])
        #expect(b.status != 0 && b.stderr.contains("--base"), "stderr: \(b.stderr)")
        let q = try runCapturing(["ann-bench", "--base", f.base.path, "--queries", empty.path])
        #expect(q.status != 0 && q.stderr.contains("--queries"), "stderr: \(q.stderr)")
    }

    @Test func groundTruthIsRangeAndWidthChecked() throws {
        let f = try Files()
        defer { f.remove() }
        let gt = f.dir.appendingPathComponent("gt.ivecs")
        func write(_ k: Int, _ value: (Int, Int) -> Int32) throws {
            try Dataset.write(DatasetMatrix(rows: f.nq, dimension: k, values: (0..<(f.nq * k)).map { value($0 / k, $0 % k) }), to: gt)
        }
        // A valid one is accepted (and recall is computed against it).
        try write(10, { q, j in Int32((q * 7 + j) % f.n) })
        #expect(try runCapturing(f.args + ["--ground-truth", gt.path, "--ef", "16", "--json"]).status == 0)
        for bad: Int32 in [Int32(f.n), -1, Int32.max] {
            try write(10, { q, j in q == 3 && j == 9 ? bad : Int32(j) })
            let r = try runCapturing(f.args + ["--ground-truth", gt.path])
            #expect(r.status != 0 && r.stderr.contains("--ground-truth") && r.stderr.contains("\(bad)"), "stderr: \(r.stderr)")
        }
        // Fewer columns than k.
        try write(5, { _, j in Int32(j) })
        let r = try runCapturing(f.args + ["--ground-truth", gt.path, "--k", "10"])
        #expect(r.status != 0 && r.stderr.contains("--ground-truth") && r.stderr.contains("--k"), "stderr: \(r.stderr)")
    }

    /// ef values past 2³¹ print whole (they used to be truncated to 32 bits in the table).
    @Test func hugeEfPrintsWhole() throws {
        let f = try Files()
        defer { f.remove() }
        let r = try runCapturing(f.args + ["--ef", "3000000000"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.lines.contains { $0.hasPrefix("3000000000 ") })
        let j = try runCapturing(f.args + ["--ef", "3000000000", "--json"])
        #expect(j.lines.contains { $0.contains("\"ef\":3000000000") })
    }

    /// A loaded index keeps its metric: the exact truth uses it (recall at a large ef is near 1,
    /// not the about 0.19 of cosine results against l2 truth), and a contradicting --metric/--storage/--M,
    /// or a build-only flag, is refused naming the flag.
    @Test func loadIndexTakesTheIndexMetricAndRefusesContradictions() throws {
        let f = try Files()
        defer { f.remove() }
        let saved = f.dir.appendingPathComponent("cos.hnsw")
        let build = try runCapturing(f.args + ["--metric", "cos", "--save-index", saved.path, "--ef", "200", "--json"])
        #expect(build.status == 0, "stderr: \(build.stderr)")
        let load = try runCapturing(["ann-bench", "--base", f.base.path, "--queries", f.queries.path, "--threads", "1",
                                     "--latency-queries", "0", "--load-index", saved.path, "--ef", "200", "--json"])
        #expect(load.status == 0, "stderr: \(load.stderr)")
        let search = try #require(load.lines.first { $0.contains("\"event\":\"search\"") })
        // HNSW is approximate, so not exactly 1, but the wrong (l2) truth gives about 0.19.
        let recall = try #require(search.split(separator: ",").first { $0.hasPrefix("\"recall\":") }
            .flatMap { Double($0.dropFirst("\"recall\":".count)) })
        #expect(recall >= 0.95, "\(search)")
        for (extra, flag) in [(["--metric", "l2"], "--metric"), (["--storage", "f16"], "--storage"), (["--M", "12"], "--M"),
                              (["--ef-construction", "40"], "--ef-construction"), (["--keep-pruned"], "--keep-pruned"),
                              (["--rerank"], "--rerank"), (["--mapped", "--map-full"], "--map-full"),
                              (["--build-threads", "1"], "--build-threads"), (["--no-reorder"], "--no-reorder"),
                              (["--reorder"], "--reorder")] {
            let r = try runCapturing(["ann-bench", "--base", f.base.path, "--queries", f.queries.path,
                                      "--load-index", saved.path] + extra)
            #expect(r.status != 0 && r.stderr.contains(flag), "\(extra): \(r.stderr)")
        }
        // Naming the index's own metric (any spelling) is fine.
        #expect(try runCapturing(["ann-bench", "--base", f.base.path, "--queries", f.queries.path, "--threads", "1",
                                  "--load-index", saved.path, "--metric", "cosine", "--M", "8"]).status == 0)
    }
}
