import Atomics
import Foundation
import KestrelTensor
@testable import KestrelVectorIndex
import Testing
import _KestrelTestSupport

/// Issue 15 §1: inserts running while `compact()` / `optimizeLayout()` renumber the nodes. Before
/// the fix an insert could link node ids assigned before a renumbering (SIGSEGV in the link
/// store, heap corruption, or a spin on a stale node lock).
@Suite struct MaintenanceConcurrencyTests {
    @Test(arguments: [false, true])
    func insertsBesideRenumbering(optimize: Bool) throws {
        let dim = 16, perAdder = 1200
        let index = try HNSWIndex(dimension: dim, parameters: HNSWParameters(M: 8, efConstruction: 40))
        var rng = SeededRNG(seed: 149)
        // Keys wrap at 3000 as in the report: the adders replace these, leaving tombstones.
        try index.add(keys: (0..<1000).map { UInt64($0) }, vectors: rng.floats(1000 * dim))
        let adding = ManagedAtomic<Int>(2)
        let failures = ManagedAtomic<Int>(0)
        let renumberings = ManagedAtomic<Int>(0)
        Parallel.run(threads: 3) { t in
            if t < 2 {
                var rng = SeededRNG(seed: 150 + UInt64(t))
                for i in stride(from: t, to: 2 * perAdder, by: 2) {
                    do { try index.add(key: UInt64(i % 3000), vector: rng.floats(dim)) } catch { failures.wrappingIncrement(ordering: .relaxed) }
                }
                adding.wrappingDecrement(ordering: .releasing)
            } else {
                while adding.load(ordering: .acquiring) > 0 {
                    do {
                        if optimize { try index.optimizeLayout() } else { try index.compact() }
                        renumberings.wrappingIncrement(ordering: .relaxed)
                    } catch {
                        failures.wrappingIncrement(ordering: .relaxed)
                    }
                    usleep(1_000)
                }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
        #expect(renumberings.load(ordering: .relaxed) > 0)
        #expect(index.count == 1000 + 2 * perAdder - min(1000, 2 * perAdder))
        #expect(index.checkInvariants() == nil)
        try index.compact()
        #expect(index.checkInvariants() == nil)
        #expect(index.tombstoneCount == 0)
    }
}
