import Foundation
import KestrelTensor
import KestrelVectorIndex
import Testing
import _KestrelTestSupport

/// `kestrel ann-bench` is a peer-benchmark contract: outside harnesses parse its JSON lines and
/// read its ids files. These tests run the built executable on small files and check the output
/// field by field against the contract and an exact search.
// FlatIndex batch search pins BLAS to one thread while it runs: see .changesBLASThreadCount.
@Suite(.changesBLASThreadCount) struct AnnBenchContractTests {
    /// The `kestrel` executable SwiftPM built beside the test bundle.
    func kestrel() throws -> URL {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [dir, dir.deletingLastPathComponent(), dir.deletingLastPathComponent().deletingLastPathComponent()]
            .map { $0.appendingPathComponent("kestrel") }
        return try #require(candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) },
                            "no kestrel executable near \(dir.path)")
    }

    func run(_ args: [String]) throws -> (status: Int32, lines: [String]) {
        let p = Process()
        p.executableURL = try kestrel()
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = Pipe()
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init))
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
}
