import Foundation
import Kestrel
import KestrelTensor
import Testing
import _KestrelTestSupport

@testable import KestrelCLI

/// `kestrel index build|search|info|compact` and the ``IndexOperations`` / ``IndexRegistry``
/// behind them, against a float64 brute-force reference.
@Suite struct IndexCommandTests {
    static let n = 300, d = 12

    static func data(seed: UInt64 = 11, rows: Int = n) throws -> DatasetMatrix<Float> {
        var rng = SeededRNG(seed: seed)
        return try DatasetMatrix(rows: rows, dimension: d, values: rng.floats(rows * d))
    }

    /// The `k` nearest rows by squared L2 in Double, as keys (`keys[row]`, default the row).
    static func bruteForce(_ base: DatasetMatrix<Float>, _ q: ArraySlice<Float>, k: Int, keys: [UInt64]? = nil,
                           skip: Set<UInt64> = []) -> [UInt64] {
        var scored: [(UInt64, Double)] = []
        for r in 0..<base.rows {
            let key = keys?[r] ?? UInt64(r)
            if skip.contains(key) { continue }
            var s = 0.0
            for (a, b) in zip(base[row: r], q) { s += (Double(a) - Double(b)) * (Double(a) - Double(b)) }
            scored.append((key, s))
        }
        return scored.sorted { $0.1 < $1.1 }.prefix(k).map(\.0)
    }

    @Test(arguments: ["fvecs", "npy"])
    func flatBuildAndSearchMatchBruteForce(_ ext: String) throws {
        let dir = TempDir(prefix: "index")
        let base = try Self.data(), queries = try Self.data(seed: 99, rows: 17)
        let vectors = dir.file("base.\(ext)"), qfile = dir.file("q.\(ext)"), out = dir.file("flat.kidx")
        try Dataset.write(base, to: vectors)
        try Dataset.write(queries, to: qfile)
        try IndexBuildCommand.parse(["--vectors", vectors.path, "--output", out.path, "--kind", "flat"]).run()
        let loaded = try IndexOperations.load(out)
        #expect(loaded.kind == .flat && loaded.index.count == Self.n && loaded.index.dimension == Self.d)
        let hits = try IndexOperations.search(loaded, queries: queries, k: 5, threads: 2)
        #expect(hits.count == 17)
        for h in hits {
            #expect(h.keys == Self.bruteForce(base, queries[row: h.query], k: 5))
            #expect(h.distances == h.distances.sorted())
        }
        // The command itself runs on the saved file (text and JSON output).
        try IndexSearchCommand.parse(["--index", out.path, "--queries", qfile.path, "--k", "3", "--json"]).run()
        try IndexInfoCommand.parse([out.path]).run()
    }

    @Test func hnswBuildWithKeysFindsTheNeighbours() throws {
        let dir = TempDir(prefix: "index")
        let base = try Self.data(), queries = try Self.data(seed: 5, rows: 20)
        let keys = (0..<Self.n).map { UInt64(10_000 + 3 * $0) }
        try Dataset.write(base, to: dir.file("base.npy"))
        try Dataset.write(try DatasetMatrix(rows: Self.n, dimension: 1, values: keys.map { Int32($0) }), to: dir.file("keys.npy"))
        try IndexBuildCommand.parse([
            "--vectors", dir.file("base.npy").path, "--keys", dir.file("keys.npy").path, "--output", dir.file("h.kidx").path,
            "--m", "8", "--ef-construction", "100", "--ef-search", "100", "--threads", "2",
        ]).run()
        let loaded = try IndexOperations.load(dir.file("h.kidx"), mapped: true)
        let info = IndexOperations.info(loaded, path: dir.file("h.kidx").path)
        #expect(info.kind == .hnsw && info.M == 8 && info.efSearch == 100 && info.count == Self.n && (info.fileBytes ?? 0) > 0)
        var found = 0
        for h in try IndexOperations.search(loaded, queries: queries, k: 10, ef: 150) {
            found += Set(h.keys).intersection(Self.bruteForce(base, queries[row: h.query], k: 10, keys: keys)).count
        }
        // 300 points, ef 150: the beam covers half the graph; recall is ~1 (measured 200/200).
        #expect(Double(found) / 200 >= 0.95)
    }

    @Test func compactDropsRemovedVectorsAndKeepsResults() throws {
        let dir = TempDir(prefix: "index")
        let base = try Self.data()
        let built = try IndexOperations.build(vectors: base, options: IndexBuildOptions(kind: .hnsw, M: 8, efConstruction: 64))
        let removed = Set((0..<Self.n).filter { $0 % 3 == 0 }.map { UInt64($0) })
        for k in removed { #expect(try built.index.remove(key: k)) }
        let file = dir.file("h.kidx"), compacted = dir.file("c.kidx")
        try built.index.save(to: file)
        let original = try Data(contentsOf: file)
        let (before, after) = try IndexOperations.compact(file, output: compacted)
        #expect(before.tombstones == removed.count && after.tombstones == 0)
        #expect(before.count == Self.n - removed.count && after.count == before.count)
        #expect(try Data(contentsOf: file) == original)  // --output leaves the input alone
        #expect((after.fileBytes ?? .max) < (before.fileBytes ?? 0))
        let reloaded = try IndexOperations.load(compacted)
        let q = try Self.data(seed: 3, rows: 10)
        for h in try IndexOperations.search(reloaded, queries: q, k: 5, ef: 200) {
            #expect(removed.isDisjoint(with: h.keys))
            let truth = Self.bruteForce(base, q[row: h.query], k: 5, skip: removed)
            #expect(Set(h.keys).intersection(truth).count >= 4)
        }
        // In place, through the command.
        try IndexCompactCommand.parse([file.path]).run()
        #expect(IndexOperations.info(try IndexOperations.load(file)).tombstones == 0)
    }

    @Test func badInputGivesTypedErrors() throws {
        let dir = TempDir(prefix: "index")
        let base = try Self.data(rows: 10)
        let loaded = try IndexOperations.build(vectors: base, options: IndexBuildOptions(kind: .flat))
        let wrongDim = try DatasetMatrix(rows: 1, dimension: Self.d + 1, values: [Float](repeating: 0, count: Self.d + 1))
        #expect(throws: KestrelError.dimensionMismatch(expected: [-1, Self.d], actual: [1, Self.d + 1])) {
            _ = try IndexOperations.search(loaded, queries: wrongDim, k: 1)
        }
        #expect(throws: KestrelError.self) { _ = try IndexOperations.search(loaded, queries: base, k: 0) }
        #expect(throws: KestrelError.self) { _ = try IndexOperations.search(loaded, queries: base, k: 1, ef: 0) }
        let empty = try DatasetMatrix<Float>(rows: 0, dimension: Self.d, values: [])
        #expect(try IndexOperations.search(loaded, queries: empty, k: 3).isEmpty)
        #expect(throws: KestrelError.self) { _ = try IndexOperations.build(vectors: empty, options: IndexBuildOptions()) }
        #expect(throws: KestrelError.dimensionMismatch(expected: [10], actual: [2])) {
            _ = try IndexOperations.build(vectors: base, keys: [1, 2], options: IndexBuildOptions())
        }
        #expect(throws: KestrelError.self) {  // duplicate keys
            _ = try IndexOperations.build(vectors: base, keys: [UInt64](repeating: 1, count: 10), options: IndexBuildOptions())
        }
        #expect(throws: KestrelError.self) { _ = try IndexOperations.build(vectors: base, options: IndexBuildOptions(threads: 0)) }
        var nan = base
        nan.values[7] = .nan
        #expect(throws: KestrelError.nonFiniteValue(index: 7)) {
            _ = try IndexOperations.build(vectors: nan, options: IndexBuildOptions(kind: .flat))
        }
        // Files: a damaged index, an unknown extension, keys with two columns or a negative key.
        let file = dir.file("f.kidx")
        try loaded.index.save(to: file)
        var bytes = try Data(contentsOf: file)
        bytes[bytes.count - 70] ^= 0xFF
        try bytes.write(to: file)
        #expect { _ = try IndexOperations.load(file) } throws: { e in
            if case .corruptFile = e as? KestrelError { return true }
            return false
        }
        try Data().write(to: dir.file("v.txt"))
        #expect(throws: KestrelError.self) { _ = try IndexOperations.readVectors(dir.file("v.txt")) }
        try Dataset.write(try DatasetMatrix(rows: 2, dimension: 2, values: [Int32](repeating: 1, count: 4)), to: dir.file("k2.npy"))
        #expect(throws: KestrelError.dimensionMismatch(expected: [-1, 1], actual: [2, 2])) {
            _ = try IndexOperations.readKeys(dir.file("k2.npy"))
        }
        try Dataset.write(try DatasetMatrix(rows: 2, dimension: 1, values: [Int32(4), -1]), to: dir.file("neg.ivecs"))
        #expect(throws: KestrelError.self) { _ = try IndexOperations.readKeys(dir.file("neg.ivecs")) }
        for args in [["--index", "i", "--queries", "q", "--vector", "1"], ["--index", "i"], ["--index", "i", "--vector", "1,x"],
                     ["--index", "i", "--vector", "1", "--k", "0"]] {
            #expect(throws: (any Error).self, "\(args)") { try IndexSearchCommand.parse(args) }
        }
        #expect(throws: (any Error).self) { try IndexBuildCommand.parse(["--vectors", "v", "--output", "o", "--metric", "manhattan"]) }
    }

    @Test func registryNamesIndexesForTheServer() throws {
        let dir = TempDir(prefix: "index")
        let base = try Self.data()
        try Dataset.write(base, to: dir.file("base.fvecs"))
        let registry = IndexRegistry()
        let info = try registry.build(name: "docs", vectors: dir.file("base.fvecs"), options: IndexBuildOptions(kind: .flat),
                                      saveTo: dir.file("docs.kidx"))
        #expect(info.name == "docs" && info.count == Self.n && info.path == dir.file("docs.kidx").path)
        try registry.open(name: "copy", path: dir.file("docs.kidx"), mapped: true)
        #expect(registry.names == ["copy", "docs"])
        let q = Array(base[row: 42])
        #expect(try registry.search(name: "docs", query: q, k: 3).keys == Self.bruteForce(base, base[row: 42], k: 3))
        #expect(try registry.search(name: "copy", query: q, k: 3).keys.first == 42)
        #expect(throws: KestrelError.self) { _ = try registry.search(name: "nope", query: q, k: 1) }
        #expect(throws: KestrelError.self) { _ = try registry.search(name: "docs", query: [1, 2], k: 1) }
        #expect(throws: KestrelError.self) { try registry.open(name: "", path: dir.file("docs.kidx")) }
        #expect(registry.remove(name: "copy") && !registry.remove(name: "copy"))
        #expect(try registry.info(name: "docs").kind == .flat)
    }

    @Test func registryServesConcurrentSearchesAndRegistrations() throws {
        let dir = TempDir(prefix: "index")
        let base = try Self.data(rows: 100)
        try Dataset.write(base, to: dir.file("base.npy"))
        let registry = IndexRegistry()
        try registry.build(name: "main", vectors: dir.file("base.npy"), options: IndexBuildOptions(kind: .flat))
        let expected = Self.bruteForce(base, base[row: 7], k: 4)
        let failures = IndexTestFailures()
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            for i in 0..<20 {
                do {
                    if t == 0 {
                        try registry.build(name: "tmp\(i % 3)", vectors: dir.file("base.npy"), options: IndexBuildOptions(kind: .flat))
                        _ = registry.remove(name: "tmp\((i + 1) % 3)")
                    } else {
                        let hits = try registry.search(name: "main", query: Array(base[row: 7]), k: 4)
                        if hits.keys != expected { failures.add("wrong hits \(hits.keys)") }
                        _ = registry.names
                    }
                } catch {
                    failures.add("\(error)")
                }
            }
        }
        #expect(failures.all.isEmpty)
    }
}

/// Errors collected from concurrent workers.
final class IndexTestFailures: @unchecked Sendable {
    private let lock = PlainLock()
    private var items: [String] = []
    func add(_ s: String) { lock.withLock { items.append(s) } }
    var all: [String] { lock.withLock { items } }
}
