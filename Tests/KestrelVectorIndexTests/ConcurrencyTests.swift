import Atomics
import Foundation
@testable import KestrelVectorIndex
import KestrelTensor
import Testing
import _KestrelTestSupport

/// Four threads at once on one HNSWIndex: two insert (and remove) while two search. Run under
/// ThreadSanitizer with `swift test --sanitize=thread --filter ConcurrencyTests`.
// FlatIndex batch search pins BLAS to one thread while it runs: see .changesBLASThreadCount.
@Suite(.changesBLASThreadCount) struct ConcurrencyTests {
    @Test func fourThreadsInsertingAndSearching() throws {
        let dim = 8, initial = 500, perWriter = 400
        let index = try HNSWIndex(dimension: dim, parameters: HNSWParameters(M: 8, efConstruction: 32))
        let all = clustered(initial + 2 * perWriter, dim: dim, seed: 30)
        try index.add(keys: (0..<initial).map { UInt64($0) }, vectors: Array(all[0..<(initial * dim)]))
        // Keys removed so far by writer 0 (it removes initial keys 0, 1, 2, … in order).
        let removedThrough = ManagedAtomic<Int>(0)
        let failures = ManagedAtomic<Int>(0)
        let searches = ManagedAtomic<Int>(0)
        let data = all
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            if t < 2 {
                for i in 0..<perWriter {
                    let row = initial + t * perWriter + i
                    let key = UInt64(row)
                    do {
                        try index.add(key: key, vector: Array(data[(row * dim)..<((row + 1) * dim)]))
                        if t == 0 && i % 4 == 0 {
                            let victim = removedThrough.load(ordering: .relaxed)
                            _ = try index.remove(key: UInt64(victim))
                            removedThrough.store(victim + 1, ordering: .releasing)
                        }
                    } catch {
                        failures.wrappingIncrement(ordering: .relaxed)
                    }
                }
            } else {
                var rng = SeededRNG(seed: UInt64(t))
                for _ in 0..<300 {
                    let gone = removedThrough.load(ordering: .acquiring)
                    let q = rng.floats(dim)
                    guard let res = try? index.search(q, k: 10, ef: 32) else {
                        failures.wrappingIncrement(ordering: .relaxed)
                        continue
                    }
                    let valid = res.allSatisfy { $0.key >= UInt64(gone) && $0.key < UInt64(initial + 2 * perWriter) }
                    let sorted = zip(res, res.dropFirst()).allSatisfy { $0.distance <= $1.distance }
                    if !valid || !sorted || res.count != 10 { failures.wrappingIncrement(ordering: .relaxed) }
                    searches.wrappingIncrement(ordering: .relaxed)
                }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
        #expect(searches.load(ordering: .relaxed) == 600)
        let removed = removedThrough.load(ordering: .relaxed)
        #expect(index.count == initial + 2 * perWriter - removed)
        #expect(index.checkInvariants() == nil)
        // Every inserted vector is found as its own nearest neighbour.
        var selfHits = 0
        for row in initial..<(initial + 2 * perWriter) {
            #expect(index.contains(key: UInt64(row)))
            let hit = try index.search(Array(all[(row * dim)..<((row + 1) * dim)]), k: 1, ef: 64)
            if hit.first?.key == UInt64(row) { selfHits += 1 }
        }
        #expect(selfHits >= (2 * perWriter * 97) / 100, "\(selfHits) of \(2 * perWriter)")
    }

    /// Parallel batch build on 4 threads gives a valid graph with the recall of a serial one.
    @Test func parallelBuildMatchesSerialRecall() throws {
        let dim = 12, n = 3000
        let base = clustered(n, dim: dim, seed: 31)
        let queries = clustered(50, dim: dim, seed: 32)
        let flat = try FlatIndex(dimension: dim)
        try flat.add(keys: (0..<n).map { UInt64($0) }, vectors: base)
        let truth = try flat.search(batch: queries, k: 10)
        for threads in [1, 4] {
            let index = try HNSWIndex(dimension: dim, parameters: HNSWParameters(M: 10, efConstruction: 60))
            try index.add(keys: (0..<n).map { UInt64($0) }, vectors: base, threads: threads)
            #expect(index.checkInvariants() == nil)
            let r = recallAt(try index.search(batch: queries, k: 10, ef: 64, threads: 4), truth)
            #expect(r >= 0.95, "threads \(threads): recall \(r)")
        }
    }
}
