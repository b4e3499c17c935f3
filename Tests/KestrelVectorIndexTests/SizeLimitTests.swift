import Foundation
@testable import KestrelVectorIndex
import KestrelTensor
import Testing
import _KestrelTestSupport

/// Sizes taken from the caller (k, capacity, counts) never trap or allocate without bound:
/// results are min(k, count), and sizes past physical memory throw `capacityExceeded`.
@Suite struct SizeLimitTests {
    /// Brute-force ranking of `base` rows against `q` (l2), best first, as keys.
    func bruteForce(_ base: [Float], dim: Int, _ q: ArraySlice<Float>) -> [UInt64] {
        let n = base.count / dim
        let d = (0..<n).map { r in zip(base[(r * dim)..<((r + 1) * dim)], q).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } }
        return (0..<n).sorted { d[$0] < d[$1] || (d[$0] == d[$1] && $0 < $1) }.map { UInt64($0) }
    }

    /// FlatIndex batch search (GEMM path: ≥ 8 queries, ≥ 64 rows, and the scan path) with k far
    /// beyond the row count returns every row, in brute-force order (k = 2⁴⁰ used to abort,
    /// k near Int.max to overflow in the GEMM tile).
    @Test(arguments: [1 << 40, Int.max / 2 + 1, Int.max])
    func flatBatchSearchWithHugeKReturnsEveryRow(k: Int) throws {
        var rng = SeededRNG(seed: 11)
        let dim = 5, n = 100, nq = 9
        let base = rng.floats(n * dim), queries = rng.floats(nq * dim)
        for storage in [VectorStorageKind.f32, .f16] {  // f32: GEMM tiles; f16: one-query scan
            let flat = try FlatIndex(dimension: dim, storage: storage)
            try flat.add(keys: (0..<n).map { UInt64($0) }, vectors: base)
            let batch = try flat.search(batch: queries, k: k, threads: 2)
            #expect(batch.count == nq)
            for (i, row) in batch.enumerated() {
                #expect(row.count == n)
                if storage == .f32 {
                    // Ties closer than rounding aside, the same order as the oracle: compare as sets
                    // of the first half plus the full key set.
                    #expect(Set(row.map(\.key)) == Set((0..<n).map { UInt64($0) }))
                    #expect(Set(row.prefix(10).map(\.key)) == Set(bruteForce(base, dim: dim, queries[(i * dim)..<((i + 1) * dim)]).prefix(10)))
                }
                #expect(zip(row, row.dropFirst()).allSatisfy { $0.distance <= $1.distance })
            }
            let single = try flat.search(Array(queries[0..<dim]), k: k)
            #expect(single.count == n)
        }
    }

    @Test func flatIndexRefusesCapacityPastRowIDsOrMemory() throws {
        let e = #expect(throws: KestrelError.self) { try FlatIndex(dimension: 4, capacity: Int.max / 2) }
        #expect(e == .capacityExceeded(limit: Int(UInt32.max) - 2, requested: Int.max / 2))
        // 2³¹ rows of 2²⁰ floats: row ids fit, bytes (2⁵³) do not fit in any machine's memory.
        let f = #expect(throws: KestrelError.self) { try FlatIndex(dimension: 1 << 20, capacity: 1 << 31) }
        #expect(f == .capacityExceeded(limit: SizeCheck.physicalMemory, requested: (1 << 31) * ((1 << 22) + 12)))
    }

    @Test func hnswIndexRefusesCapacityPastMemory() throws {
        let e = #expect(throws: KestrelError.self) { try HNSWIndex(dimension: 1 << 20, capacity: 1 << 31) }
        guard case .capacityExceeded(let limit, let requested) = e else { Issue.record("got \(String(describing: e))"); return }
        #expect(limit == SizeCheck.physicalMemory && requested > limit)
        let f = #expect(throws: KestrelError.self) { try HNSWIndex(dimension: 4, capacity: Int.max / 2) }
        #expect(f == .capacityExceeded(limit: Int(UInt32.max) - 2, requested: Int.max / 2))
    }

    /// k = Int.max with a filter used to trap converting k / passRate to Int. Results are every
    /// passing key (exact set), unfiltered every key.
    @Test func hnswSearchWithIntMaxK() throws {
        let dim = 8, n = 300
        let base = clustered(n, dim: dim, seed: 3)
        // One build thread: a deterministic graph, so "the whole graph is reachable" (which an
        // unbounded beam then returns in full) holds on every run, not just most.
        let index = try HNSWIndex(dimension: dim, parameters: HNSWParameters(M: 16, efConstruction: 100))
        try index.add(keys: (0..<n).map { UInt64($0) }, vectors: base, threads: 1)
        let q = Array(base[0..<dim])
        let even: @Sendable (UInt64) -> Bool = { $0 % 2 == 0 }
        let evenKeys: Set<UInt64> = Set((0..<UInt64(n)).filter { $0 % 2 == 0 })
        for k in [Int.max, Int.max - 1, 1 << 62] {
            let filtered = try index.search(q, k: k, filter: even)
            let found: Set<UInt64> = Set(filtered.map(\.key))
            #expect(found == evenKeys)
            #expect(try index.search(q, k: k).count == n)
            let batch = try index.search(batch: Array(base[0..<(3 * dim)]), k: k, threads: 2, filter: even)
            #expect(batch.allSatisfy { $0.count == n / 2 })
        }
        // ef near Int.max is clamped alike.
        #expect(try q.withUnsafeBufferPointer { b in try index.search(b, k: 5, ef: Int.max, filter: nil) }.count == 5)
    }

    /// Property: random huge k, ef, thread counts and capacities never crash; results are
    /// min(k, count) and capacities either work or throw `capacityExceeded`.
    @Test func randomHugeSizesNeverCrash() throws {
        var rng = SeededRNG(seed: 0x5155)
        let dim = 4, n = 70
        let base = rng.floats(n * dim)
        let flat = try FlatIndex(dimension: dim)
        try flat.add(keys: (0..<n).map { UInt64($0) }, vectors: base)
        let hnsw = try HNSWIndex(dimension: dim, parameters: HNSWParameters(M: 4, efConstruction: 16))
        try hnsw.add(keys: (0..<n).map { UInt64($0) }, vectors: base)
        let queries = rng.floats(8 * dim)
        // Log-uniform in [1, Int.max].
        func huge(_ rng: inout SeededRNG) -> Int {
            let bits = Int(rng.next() % 63) + 1
            return max(1, Int(truncatingIfNeeded: rng.next() >> UInt64(64 - bits)))
        }
        for _ in 0..<40 {
            let k = huge(&rng), ef = huge(&rng), threads = 1 + Int(rng.next() % 3) == 3 ? huge(&rng) : 2
            #expect(try flat.search(batch: queries, k: k, threads: threads).allSatisfy { $0.count == min(k, n) })
            #expect(try flat.search(Array(queries[0..<dim]), k: k, filter: { $0 % 3 == 0 }).count == min(k, (n + 2) / 3))
            let r = try queries.withUnsafeBufferPointer { q in try hnsw.search(batch: q, k: k, ef: ef, threads: threads) }
            #expect(r.allSatisfy { $0.count <= min(k, n) && $0.count >= min(k, n, 1) })
            // Capacities at least 2⁴⁰ rows: never servable, always refused up front.
            let cap = max(1 << 40, huge(&rng))
            let e = #expect(throws: KestrelError.self) { try FlatIndex(dimension: dim, capacity: cap) }
            if case .capacityExceeded = e {} else { Issue.record("FlatIndex capacity \(cap): \(String(describing: e))") }
            let h = #expect(throws: KestrelError.self) { try HNSWIndex(dimension: dim, capacity: cap) }
            if case .capacityExceeded = h {} else { Issue.record("HNSWIndex capacity \(cap): \(String(describing: h))") }
        }
    }

    @Test func syntheticDataAndBenchmarkRefuseSizesPastMemory() throws {
        let mix = try SyntheticClusters(dimension: 64, clusters: 4)
        let e = #expect(throws: KestrelError.self) { try mix.sample(count: Int.max / 8, seed: 1) }
        #expect(e == .capacityExceeded(limit: SizeCheck.physicalMemory, requested: .max))
        #expect(try mix.sample(count: 3, seed: 1).count == 3 * 64)
        #expect(try mix.sample(count: -1, seed: 1).isEmpty)
        let c = #expect(throws: KestrelError.self) { try SyntheticClusters(dimension: 1 << 40, clusters: 64) }
        #expect(c == .capacityExceeded(limit: SizeCheck.physicalMemory, requested: (1 << 40) * 64 * 4))
        var config = HNSWBenchmarkConfiguration()
        config.count = 1_000_000_000_000
        let b = #expect(throws: KestrelError.self) { try HNSWBenchmark.run(config) }
        #expect(b == .capacityExceeded(limit: SizeCheck.physicalMemory, requested: 1_000_000_000_000 * 64 * 12))
    }

    /// rows × dimension overflowing Int is a mismatch, not a trap.
    @Test func datasetMatrixShapeOverflowIsAMismatch() {
        let e = #expect(throws: KestrelError.self) { try DatasetMatrix<Float>(rows: Int.max, dimension: 2, values: [1, 2]) }
        #expect(e == .dimensionMismatch(expected: [Int.max, 2], actual: [2]))
        let z = #expect(throws: KestrelError.self) { try DatasetMatrix<Float>(rows: 1 << 32, dimension: 1 << 32, values: []) }
        #expect(z == .dimensionMismatch(expected: [1 << 32, 1 << 32], actual: [0]))
    }
}
