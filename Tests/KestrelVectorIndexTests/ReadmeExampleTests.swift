import Foundation
import KestrelTensor
import KestrelVectorIndex
import Testing

/// The KestrelVectorIndex sample of README.md, kept here so it is known to compile and run.
@Suite struct ReadmeVectorIndexExampleTests {
    @Test func vectorIndexSample() throws {
        var rng = SplitMix64(seed: 1)
        let vectors = (0..<1_000 * 32).map { _ in rng.nextSignedUnit() }
        let keys = (0..<1_000).map { UInt64($0) }
        let query = Array(vectors[320..<352])                // the vector of key 10
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("readme-\(UUID()).kidx")
        defer { try? FileManager.default.removeItem(at: url) }
        // README: KestrelVectorIndex
        let index = try HNSWIndex(dimension: 32, metric: .l2Squared, parameters: HNSWParameters(M: 16, efConstruction: 200))
        try index.add(keys: keys, vectors: vectors, threads: 2)          // keys are your UInt64 ids
        try index.optimizeLayout()                                        // after a bulk build: graph neighbours adjacent in memory
        let hits = try index.search(query, k: 10)                         // sorted by distance
        let evens = try index.search(query, k: 10, filter: { $0 % 2 == 0 })
        _ = try index.remove(key: 10)                                     // never returned again
        try index.save(to: url)                                           // checksummed, atomic rename
        let loaded = try HNSWIndex.load(from: url)
        #expect(hits.first?.key == 10 && hits.count == 10)
        #expect(evens.allSatisfy { $0.key % 2 == 0 })
        #expect(try loaded.search(query, k: 10).allSatisfy { $0.key != 10 })
    }
}
