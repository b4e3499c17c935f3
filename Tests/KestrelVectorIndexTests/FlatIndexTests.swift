import Foundation
@testable import KestrelVectorIndex
import KestrelTensor
import Testing
import _KestrelTestSupport

// FlatIndex batch search pins BLAS to one thread while it runs: see .changesBLASThreadCount.
@Suite(.changesBLASThreadCount) struct FlatIndexTests {
    /// Every metric, single and batch (GEMM) paths, against the Double oracle: same keys in the
    /// same order, distances within f32 accumulation error.
    @Test(arguments: [DistanceMetric.l2Squared, .innerProduct, .cosine])
    func matchesBruteForceOracle(metric: DistanceMetric) throws {
        let dim = 37, n = 700, nq = 20, k = 10
        var rng = SeededRNG(seed: 11)
        let base = rng.floats(n * dim)
        let queries = rng.floats(nq * dim)
        let index = try FlatIndex(dimension: dim, metric: metric)
        try index.add(keys: (0..<n).map { UInt64($0) }, vectors: base)
        #expect(index.count == n)
        let batch = try index.search(batch: queries, k: k, threads: 2)
        for q in 0..<nq {
            let query = Array(queries[(q * dim)..<((q + 1) * dim)])
            let want = Oracle.topK(base, dim: dim, query: query[...], k: k, metric: metric)
            let single = try index.search(query, k: k)
            for got in [single, batch[q]] {
                #expect(got.count == k)
                for (g, w) in zip(got, want) {
                    // Keys agree unless two oracle distances are closer than f32 rounding.
                    #expect(Approx.equal(Double(g.distance), w.distance, rel: 1e-5, abs: 1e-5))
                }
                let gotKeys = Set(got.map(\.key)), wantKeys = Set(want.map(\.key))
                #expect(gotKeys.symmetricDifference(wantKeys).count <= 2)
                #expect(got.map(\.distance) == got.map(\.distance).sorted())
            }
        }
    }

    @Test func hammingOracle() throws {
        let bits = 100, n = 300
        var rng = SeededRNG(seed: 5)
        let base = (0..<(n * bits)).map { _ in Float(rng.next() & 1) }
        let q = (0..<bits).map { _ in Float(rng.next() & 1) }
        let index = try FlatIndex(dimension: bits, metric: .hamming, storage: .binary)
        try index.add(keys: (0..<n).map { UInt64($0) }, vectors: base)
        let got = try index.search(q, k: 15)
        let want = Oracle.topK(base, dim: bits, query: q[...], k: 15, metric: .hamming)
        #expect(got.map { Double($0.distance) } == want.map(\.distance))
    }

    @Test func filterRemoveAndReplace() throws {
        let dim = 8, n = 200
        var rng = SeededRNG(seed: 3)
        let base = rng.floats(n * dim)
        let index = try FlatIndex(dimension: dim)
        try index.add(keys: (0..<n).map { UInt64($0) }, vectors: base)
        let q = rng.floats(dim)
        let even = try index.search(q, k: 20, filter: { $0 % 2 == 0 })
        #expect(even.count == 20 && even.allSatisfy { $0.key % 2 == 0 })
        #expect(even.map(\.key) == Oracle.topK(base, dim: dim, query: q[...], k: 20, metric: .l2Squared, filter: { $0 % 2 == 0 }).map(\.key))
        for key in even.prefix(5).map(\.key) { #expect(try index.remove(key: key)) }
        #expect(try !index.remove(key: 10_000))
        #expect(index.count == n - 5)
        let after = try index.search(q, k: n)
        #expect(after.count == n - 5)
        #expect(Set(after.map(\.key)).isDisjoint(with: even.prefix(5).map(\.key)))
        // Re-adding a key replaces its vector.
        try index.add(key: 7, vector: q)
        #expect(index.count == n - 5)
        #expect(try index.search(q, k: 1).first?.key == 7)
        #expect(try index.search(q, k: 1).first?.distance == 0)
    }
}
