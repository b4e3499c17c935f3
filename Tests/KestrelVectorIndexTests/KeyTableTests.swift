@testable import KestrelVectorIndex
import Testing
import _KestrelTestSupport

/// The compact key map against a Swift Dictionary on random operation sequences.
@Suite struct KeyTableTests {
    @Test(arguments: [0 as UInt64, 1, 2, 3])
    func matchesADictionary(seed: UInt64) {
        var rng = SeededRNG(seed: seed &+ 77)
        var keys: [UInt64] = []  // node id -> key, as an index's keys array
        var oracle: [UInt64: UInt32] = [:]
        let table = KeyTable(minimumCapacity: seed == 0 ? 0 : 100)
        // Sequential keys (seeds 0, 1) cluster in naive hashes; small random ranges (2, 3) collide
        // and re-add often.
        let range: UInt64 = seed < 2 ? 1 << 40 : 3000
        var next: UInt64 = 0
        for step in 0..<20_000 {
            let op = rng.next() % 10
            if op < 6 {
                let key = seed < 2 ? next : rng.next() % range
                next += 1
                keys.append(key)
                let id = UInt32(keys.count - 1)
                let replaced = table.insert(id, keyOf: { keys[Int($0)] })
                #expect(replaced == oracle.updateValue(id, forKey: key), "step \(step)")
            } else if op < 9 {
                guard !oracle.isEmpty else { continue }
                // Remove a present key (or, one time in four, an absent one).
                let key = rng.next() % 4 == 0 ? range + rng.next() % 1000 : Array(oracle.keys)[Int(rng.next() % UInt64(oracle.count))]
                #expect(table.remove(key, keyOf: { keys[Int($0)] }) == oracle.removeValue(forKey: key), "step \(step)")
            } else {
                let key = keys.isEmpty ? 5 : keys[Int(rng.next() % UInt64(keys.count))]
                #expect(table.find(key, keyOf: { keys[Int($0)] }) == oracle[key], "step \(step)")
            }
            #expect(table.count == oracle.count)
        }
        // Every key still present is found; the table stays ≤ 80 % full.
        for (key, id) in oracle { #expect(table.find(key, keyOf: { keys[Int($0)] }) == id) }
        #expect(table.count * 5 <= table.byteCount / 4 * 4)
    }

    @Test func emptyTable() {
        let table = KeyTable()
        #expect(table.count == 0 && table.byteCount == 64)
        #expect(table.find(42, keyOf: { _ in 0 }) == nil)
        #expect(table.remove(42, keyOf: { _ in 0 }) == nil)
    }
}
