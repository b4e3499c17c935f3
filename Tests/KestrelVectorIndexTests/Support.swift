import Foundation
import KestrelBenchmarkKit
@testable import KestrelVectorIndex
import _KestrelTestSupport

/// Brute-force oracle in Double: distances under `metric` (cosine on normalised copies).
enum Oracle {
    static func distance(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>, _ metric: DistanceMetric) -> Double {
        let x = Array(a), y = Array(b)
        switch metric {
        case .l2Squared:
            return zip(x, y).reduce(0) { $0 + (Double($1.0) - Double($1.1)) * (Double($1.0) - Double($1.1)) }
        case .innerProduct:
            return -zip(x, y).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        case .cosine:
            let d = zip(x, y).reduce(0) { $0 + Double($1.0) * Double($1.1) }
            let nx = x.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            let ny = y.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            return 1 - d / (nx * ny)
        case .hamming:
            return Double(zip(x, y).filter { $0.0 != $0.1 }.count)
        }
    }

    /// The exact top-k keys (row numbers) of `query` over `base` rows, ties broken by key.
    static func topK(_ base: [Float], dim: Int, query: ArraySlice<Float>, k: Int, metric: DistanceMetric,
                     keys: [UInt64]? = nil, filter: ((UInt64) -> Bool)? = nil) -> [(key: UInt64, distance: Double)] {
        let n = base.count / dim
        var all: [(key: UInt64, distance: Double)] = []
        for r in 0..<n {
            let key = keys?[r] ?? UInt64(r)
            if let filter, !filter(key) { continue }
            all.append((key, distance(base[(r * dim)..<((r + 1) * dim)], query, metric)))
        }
        all.sort { $0.distance != $1.distance ? $0.distance < $1.distance : $0.key < $1.key }
        return Array(all.prefix(k))
    }
}

/// Recall of `found` rows against `truth` rows (fraction of each truth row's keys found).
func recallAt(_ found: [[SearchResult]], _ truth: [[SearchResult]]) -> Double {
    var hits = 0, total = 0
    for (f, t) in zip(found, truth) {
        let want = Set(t.map(\.key))
        hits += f.filter { want.contains($0.key) }.count
        total += want.count
    }
    return total == 0 ? 1 : Double(hits) / Double(total)
}

/// Clustered test data (deterministic).
func clustered(_ n: Int, dim: Int, seed: UInt64, clusters: Int = 16) -> [Float] {
    let mix = try! SyntheticClusters(dimension: dim, clusters: clusters, seed: 99)
    return try! mix.sample(count: n, seed: seed)
}
