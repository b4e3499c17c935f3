import KestrelTensor
import Testing
import _KestrelTestSupport

@testable import KestrelVectorIndex

/// The HNSW walk's software prefetch comes from the start-up prefetch plan (`graphAhead`,
/// `graphMaxLines`); turning it off or changing it must not change a single result, for building
/// (one thread: deterministic) or for searching.
@Suite(.serialized) struct GraphPrefetchTests {
    @Test func searchAndBuildGiveIdenticalResultsUnderEveryGraphPrefetch() throws {
        try withPrefetchPlanExclusive { try check() }
    }

    func check() throws {
        defer { PrefetchPlan.restoreStartup() }
        let dim = 40, n = 3000, nq = 40, k = 10
        let base = clustered(n, dim: dim, seed: 21)
        let queries = clustered(nq, dim: dim, seed: 22)
        let keys = (0..<n).map { UInt64($0) }
        let startup = PrefetchPlan.current
        var variants = [startup]
        for (ahead, lines) in [(0, 16), (1, 1), (3, 16), (16, 64)] {
            var p = startup
            p.graphAhead = ahead
            p.graphMaxLines = lines
            variants.append(p)
        }
        var reference: [[SearchResult]]? = nil
        for build in variants {
            try build.activate()
            let index = try HNSWIndex(dimension: dim, parameters: HNSWParameters(M: 10, efConstruction: 60))
            try index.add(keys: keys, vectors: base, threads: 1)
            #expect(index.view.prefetchAhead == build.graphAhead)
            for search in variants {
                try search.activate()
                let found = try index.search(batch: queries, k: k, ef: 48, threads: 1)
                if let reference {
                    #expect(found == reference, "build ahead \(build.graphAhead), search ahead \(search.graphAhead)")
                } else {
                    reference = found
                }
            }
        }
    }
}
