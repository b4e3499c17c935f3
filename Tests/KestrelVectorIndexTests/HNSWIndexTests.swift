import Foundation
@testable import KestrelVectorIndex
import KestrelTensor
import Testing
import _KestrelTestSupport

// FlatIndex batch search pins BLAS to one thread while it runs: see .changesBLASThreadCount.
@Suite(.changesBLASThreadCount) struct HNSWIndexTests {
    /// The recall test: 20k clustered vectors (dim 24 to stay fast in debug builds),
    /// recall@10 ≥ 0.95 against FlatIndex at ef 64.
    @Test func recallAt10On20k() throws {
        let dim = 24, n = 20_000, nq = 200, k = 10
        let base = clustered(n, dim: dim, seed: 1, clusters: 32)
        let queries = clustered(nq, dim: dim, seed: 2, clusters: 32)
        let keys = (0..<n).map { UInt64($0) }
        let flat = try FlatIndex(dimension: dim)
        try flat.add(keys: keys, vectors: base)
        let truth = try flat.search(batch: queries, k: k, threads: 2)
        let index = try HNSWIndex(dimension: dim, parameters: HNSWParameters(M: 12, efConstruction: 100))
        try index.add(keys: keys, vectors: base, threads: 2)
        #expect(index.count == n)
        #expect(index.checkInvariants() == nil)
        let found = try index.search(batch: queries, k: k, ef: 64, threads: 2)
        let r = recallAt(found, truth)
        #expect(r >= 0.95, "recall@10 = \(r)")
        for row in found { #expect(row.map(\.distance) == row.map(\.distance).sorted()) }
    }

    /// Layer-0 degree ≤ 2M, upper ≤ M, levels geometric with mL = 1/ln M.
    @Test func graphShape() throws {
        let dim = 8, n = 3000
        let index = try HNSWIndex(dimension: dim, parameters: HNSWParameters(M: 8, efConstruction: 40))
        try index.add(keys: (0..<n).map { UInt64($0) }, vectors: clustered(n, dim: dim, seed: 3))
        #expect(index.checkInvariants() == nil)
        let above = (0..<n).filter { index.level(for: $0) >= 1 }.count
        // P(level ≥ 1) = 1/M = 0.125: expect 375 ± 5σ (σ ≈ 18).
        #expect(abs(above - 375) < 90, "\(above) nodes above layer 0")
    }

    @Test func filteredSearchKeepsRecallAndSatisfiesFilter() throws {
        let dim = 16, n = 4000, nq = 30, k = 10
        let base = clustered(n, dim: dim, seed: 4)
        let queries = clustered(nq, dim: dim, seed: 5)
        let keys = (0..<n).map { UInt64($0) }
        let index = try HNSWIndex(dimension: dim, parameters: HNSWParameters(M: 12, efConstruction: 80))
        try index.add(keys: keys, vectors: base, threads: 2)
        let flat = try FlatIndex(dimension: dim)
        try flat.add(keys: keys, vectors: base)
        // 50 %, 10 % (graph with a widened beam), 1 % (exact fallback), 0 %.
        for modulus in [2, 10, 100, UInt64.max] {
            let filter: @Sendable (UInt64) -> Bool = { modulus == UInt64.max ? false : $0 % modulus == 3 % modulus }
            var found: [[SearchResult]] = []
            var truth: [[SearchResult]] = []
            for q in 0..<nq {
                let query = Array(queries[(q * dim)..<((q + 1) * dim)])
                let got = try index.search(query, k: k, filter: filter)
                #expect(got.allSatisfy { filter($0.key) })
                found.append(got)
                truth.append(try flat.search(query, k: k, filter: filter))
            }
            if modulus == UInt64.max {
                #expect(found.allSatisfy { $0.isEmpty })
            } else {
                let r = recallAt(found, truth)
                #expect(r >= 0.9, "filter 1/\(modulus): recall \(r)")
            }
            let batch = try index.search(batch: queries, k: k, threads: 2, filter: filter)
            #expect(batch.allSatisfy { $0.allSatisfy { filter($0.key) } })
        }
    }

    @Test func removedKeysNeverReturnedAndCompactionRepairs() throws {
        let dim = 12, n = 3000, k = 10
        let base = clustered(n, dim: dim, seed: 6)
        let keys = (0..<n).map { UInt64($0) * 7 + 1 }
        let index = try HNSWIndex(dimension: dim, parameters: HNSWParameters(M: 10, efConstruction: 60))
        try index.add(keys: keys, vectors: base, threads: 2)
        var removed = Set<UInt64>()
        for i in stride(from: 0, to: n, by: 3) {
            #expect(try index.remove(key: keys[i]))
            removed.insert(keys[i])
        }
        #expect(try !index.remove(key: 2))  // unknown key: documented `false`
        #expect(try !index.remove(key: keys[0]))  // already removed
        #expect(index.count == n - removed.count)
        #expect(!index.contains(key: keys[0]) && index.contains(key: keys[1]))
        let queries = clustered(40, dim: dim, seed: 7)
        let liveBase = (0..<n).filter { !removed.contains(keys[$0]) }
        func check() throws {
            var found: [[SearchResult]] = []
            var truth: [[SearchResult]] = []
            for q in 0..<40 {
                let query = Array(queries[(q * dim)..<((q + 1) * dim)])
                let got = try index.search(query, k: k, ef: 64)
                #expect(got.allSatisfy { !removed.contains($0.key) })
                found.append(got)
                var all = liveBase.map { (keys[$0], Oracle.distance(base[($0 * dim)..<(($0 + 1) * dim)], query[...], .l2Squared)) }
                all.sort { $0.1 < $1.1 }
                truth.append(all.prefix(k).map { SearchResult(key: $0.0, distance: Float($0.1)) })
            }
            #expect(recallAt(found, truth) >= 0.9)
        }
        try check()
        #expect(index.tombstoneCount == removed.count)
        try index.compact()
        #expect(index.tombstoneCount == 0)
        #expect(index.count == n - removed.count)
        #expect(index.checkInvariants() == nil)
        try check()
        // Everything removed: compaction leaves an empty, usable index.
        for i in liveBase { try index.remove(key: keys[i]) }
        try index.compact()
        #expect(index.count == 0 && index.checkInvariants() == nil)
        #expect(try index.search(Array(base[0..<dim]), k: 5).isEmpty)
        try index.add(key: 42, vector: Array(base[0..<dim]))
        #expect(try index.search(Array(base[0..<dim]), k: 5).map(\.key) == [42])
    }

    @Test func optimizeLayoutRenumbersBreadthFirstAndKeepsResults() throws {
        let dim = 16, n = 2500, k = 10
        let base = clustered(n, dim: dim, seed: 21)
        let keys = (0..<n).map { UInt64($0) &* 0x9E37_79B9 &+ 5 }
        let index = try HNSWIndex(dimension: dim, parameters: HNSWParameters(M: 8, efConstruction: 80))
        #expect(throws: Never.self) { try index.optimizeLayout() }  // empty index: no-op
        try index.add(keys: keys, vectors: base, threads: 2)
        let queries = clustered(50, dim: dim, seed: 22)
        let before = try index.search(batch: queries, k: k, ef: 48, threads: 1)
        try index.optimizeLayout()
        #expect(index.checkInvariants() == nil)
        #expect(index.count == n)
        // Same graph under new numbers: identical keys and distances for every query.
        let after = try index.search(batch: queries, k: k, ef: 48, threads: 1)
        #expect(after.map { $0.map(\.key) } == before.map { $0.map(\.key) })
        #expect(after.map { $0.map(\.distance) } == before.map { $0.map(\.distance) })
        // Breadth-first from the entry point: the entry is node 0 and its layer-0 neighbours
        // are numbered 1, 2, … in link order.
        let (entryID, firstRow): (UInt64, [UInt32]) = index.structure.withShared {
            let g = index.view
            let list = g.links(0, 0)
            return (index.entry.load(ordering: .acquiring) & 0xFFFF_FFFF, (0..<Int(list[0])).map { list[1 + $0] })
        }
        #expect(entryID == 0)
        #expect(firstRow == (0..<firstRow.count).map { UInt32($0 + 1) })
        for i in stride(from: 0, to: n, by: 200) { #expect(index.contains(key: keys[i])) }

        // Tombstones are dropped as by compact(), and removed keys stay gone.
        var removed = Set<UInt64>()
        for i in stride(from: 1, to: n, by: 4) {
            _ = try index.remove(key: keys[i])
            removed.insert(keys[i])
        }
        try index.optimizeLayout()
        #expect(index.tombstoneCount == 0 && index.count == n - removed.count)
        #expect(index.checkInvariants() == nil)
        let rest = try index.search(batch: queries, k: k, ef: 64, threads: 2)
        #expect(rest.allSatisfy { $0.count == k && $0.allSatisfy { !removed.contains($0.key) } })
        var truth: [[SearchResult]] = []
        for q in 0..<50 {
            let query = queries[(q * dim)..<((q + 1) * dim)]
            var all: [(UInt64, Double)] = []
            for r in 0..<n where !removed.contains(keys[r]) {
                all.append((keys[r], Oracle.distance(base[(r * dim)..<((r + 1) * dim)], query, .l2Squared)))
            }
            all.sort { $0.1 < $1.1 }
            truth.append(all.prefix(k).map { SearchResult(key: $0.0, distance: Float($0.1)) })
        }
        #expect(recallAt(rest, truth) >= 0.9)

        // A memory-mapped (read-only) index refuses.
        let dir = TempDir()
        try index.save(to: dir.file("i.kvi"))
        let mapped = try HNSWIndex.load(from: dir.file("i.kvi"), mapped: true)
        #expect(throws: KestrelError.self) { try mapped.optimizeLayout() }
    }

    /// Large unfiltered batches run in locality order; every row must still get its own query's
    /// results, exactly as a one-query search returns them.
    @Test func batchInLocalityOrderMatchesSingleSearches() throws {
        let dim = 8, n = 3000, nq = HNSWIndex.localityBatchMinimum * 3 + 5
        let index = try HNSWIndex(dimension: dim, parameters: HNSWParameters(M: 6, efConstruction: 40))
        try index.add(keys: (0..<n).map { UInt64($0) + 1000 }, vectors: clustered(n, dim: dim, seed: 41), threads: 2)
        // The locality order needs an upper layer to descend: make sure this graph has one.
        #expect(index.entry.load(ordering: .acquiring) >> 32 > 0)
        let queries = clustered(nq, dim: dim, seed: 42)
        let single = try (0..<nq).map { q in try index.search(Array(queries[(q * dim)..<((q + 1) * dim)]), k: 7, ef: 24) }
        for threads in [1, 2, 3] {
            #expect(try index.search(batch: queries, k: 7, ef: 24, threads: threads) == single)
        }
    }

    @Test func reAddingAKeyReplacesItsVector() throws {
        let dim = 6
        let index = try HNSWIndex(dimension: dim)
        try index.add(keys: (0..<200).map { UInt64($0) }, vectors: clustered(200, dim: dim, seed: 8))
        let v: [Float] = [9, 9, 9, 9, 9, 9]
        try index.add(key: 17, vector: v)
        #expect(index.count == 200)
        let hit = try index.search(v, k: 1)
        #expect(hit.first?.key == 17 && hit.first?.distance == 0)
        #expect(index.checkInvariants() == nil)
    }

    @Test func badInputIsATypedErrorOrDocumentedResult() throws {
        let dim = 4
        #expect(throws: KestrelError.self) { try HNSWIndex(dimension: 0) }
        #expect(throws: KestrelError.self) { try HNSWIndex(dimension: 4, parameters: HNSWParameters(M: 1)) }
        #expect(throws: KestrelError.self) { try HNSWIndex(dimension: 4, metric: .hamming, storage: .f32) }
        let index = try HNSWIndex(dimension: dim)
        // Empty index: no results.
        #expect(try index.search([1, 2, 3, 4], k: 3).isEmpty)
        #expect(throws: KestrelError.dimensionMismatch(expected: [4], actual: [3])) { try index.search([1, 2, 3], k: 1) }
        #expect(throws: KestrelError.self) { try index.add(key: 1, vector: [1, 2, 3]) }
        #expect(throws: KestrelError.nonFiniteValue(index: 2)) { try index.add(key: 1, vector: [1, 2, .nan, 4]) }
        #expect(throws: KestrelError.nonFiniteValue(index: 1)) { try index.search([0, .infinity, 0, 0], k: 1) }
        // A bad row in a batch is reported with its flat index and nothing is added.
        #expect(throws: KestrelError.nonFiniteValue(index: 2 * dim + 3)) {
            try index.add(keys: [1, 2, 3], vectors: [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, -.infinity])
        }
        #expect(index.count == 0)
        #expect(throws: KestrelError.self) { try index.add(keys: [5, 5], vectors: [Float](repeating: 0, count: 8)) }
        #expect(throws: KestrelError.self) { try index.add(keys: [1], vectors: [0, 0, 0, 0], threads: 0) }
        try index.add(keys: [1, 2, 3], vectors: [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
        #expect(throws: KestrelError.self) { try index.search([0, 0, 0, 0], k: 0) }
        #expect(throws: KestrelError.self) { try index.search([0, 0, 0, 0], k: -1) }
        #expect(throws: KestrelError.self) { try index.search([0, 0, 0, 0], k: 1, ef: 0) }
        // k > count returns every vector; ef < k is raised to k.
        #expect(try index.search([0, 0, 0, 0], k: 10).map(\.key) == [1, 2, 3])
        #expect(try index.search([0, 0, 0, 0], k: 3, ef: 1).count == 3)
        #expect(try !index.remove(key: 99))
        #expect(throws: KestrelError.self) { try index.search(batch: [0, 0, 0], k: 1) }
        // Cosine rejects zero vectors; hamming rejects non-binary components.
        let cos = try HNSWIndex(dimension: 3, metric: .cosine)
        #expect(throws: KestrelError.self) { try cos.add(key: 1, vector: [0, 0, 0]) }
        #expect(throws: KestrelError.self) { try cos.search([0, 0, 0], k: 1) }
        let ham = try HNSWIndex(dimension: 10, metric: .hamming, storage: .binary)
        #expect(throws: KestrelError.self) { try ham.add(key: 1, vector: [0, 1, 0, 1, 0, 1, 0, 1, 0, 0.5]) }
    }

    @Test func cosineAndInnerProductAndHamming() throws {
        let dim = 16, n = 1500, k = 5
        let base = clustered(n, dim: dim, seed: 9)
        let queries = clustered(20, dim: dim, seed: 10)
        for metric in [DistanceMetric.cosine, .innerProduct] {
            let index = try HNSWIndex(dimension: dim, metric: metric, parameters: HNSWParameters(M: 12, efConstruction: 80))
            try index.add(keys: (0..<n).map { UInt64($0) }, vectors: base)
            let flat = try FlatIndex(dimension: dim, metric: metric)
            try flat.add(keys: (0..<n).map { UInt64($0) }, vectors: base)
            let r = recallAt(try index.search(batch: queries, k: k, ef: 100, threads: 1), try flat.search(batch: queries, k: k))
            #expect(r >= 0.9, "\(metric): recall \(r)")
        }
        var rng = SeededRNG(seed: 12)
        let bits = 64
        let codes = (0..<(n * bits)).map { _ in Float(rng.next() & 1) }
        let ham = try HNSWIndex(dimension: bits, metric: .hamming, storage: .binary)
        try ham.add(keys: (0..<n).map { UInt64($0) }, vectors: codes)
        let self0 = try ham.search(Array(codes[0..<bits]), k: 1)
        #expect(self0.first?.distance == 0)
    }

    /// The built-in benchmark (what `kestrel benchmark --suite hnsw` runs) returns sane figures.
    @Test func builtInBenchmarkReportsFigures() throws {
        var c = HNSWBenchmarkConfiguration()
        c.count = 800
        c.dimension = 8
        c.queries = 40
        c.efValues = [16, 64]
        let f = try HNSWBenchmark.run(c)
        #expect(f.points.count == 2 && f.buildSeconds > 0 && f.indexBytes > 800 * 8 * 4)
        #expect(f.flatScanQPS > 0 && f.flatBatchQPS > 0)
        #expect(f.points.allSatisfy { $0.qps > 0 && (0...1).contains($0.recall) })
        #expect(f.points.last!.recall >= 0.95 && f.operatingPoint != nil && f.speedupOverFlatScan != nil)
        c.efValues = []
        #expect(throws: KestrelError.self) { try HNSWBenchmark.run(c) }
    }
}
