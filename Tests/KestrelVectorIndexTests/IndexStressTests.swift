import Foundation
@testable import KestrelVectorIndex
import KestrelTensor
import Synchronization
import Testing
import _KestrelTestSupport

/// Seeded, bounded stress of the documented thread-safety of ``HNSWIndex`` and ``FlatIndex``
/// (issue 15 §1): several threads mix add, batch add, remove, search, filtered search, batch
/// search, contains, compact, optimizeLayout, save and load-mapped; the invariants are checked
/// while the threads run (results sorted and in the key universe, filters obeyed, a thread never
/// sees a key it removed, `contains` agrees with the thread's own model) and after each round
/// (graph invariants, every live key found with its vector by an exact search over the index,
/// no removed key found, a saved and reloaded copy — heap and mapped — equal to the index).
///
/// Thread t owns the keys `t + threads · j` (j < keysPerThread), so each thread's model of its
/// own keys is exact even while others run. Each thread's operation sequence is a pure function
/// of the seed; only the interleaving varies between runs.
///
/// `KESTREL_STRESS_SECONDS` (and optionally `KESTREL_STRESS_SEED`) turn a test into a soak that
/// runs rounds until the time is up: see `Scripts/soak-index.sh`. Runs under ThreadSanitizer and
/// AddressSanitizer in `.ci/run`.
@Suite struct IndexStressTests {
    @Test func hnswMixedOperations() throws {
        let dim = 8
        let index = try HNSWIndex(dimension: dim, parameters: HNSWParameters(M: 6, efConstruction: 24, efSearch: 24))
        try StressRun(target: HNSWTarget(index), dim: dim, seed: StressRun.seed(0x4B53_0015)).run()
    }

    @Test func hnswMixedOperationsInt8() throws {
        // A lossy codec trained by the first (concurrent) inserts, kept f32 rows re-ranked.
        let dim = 8
        let index = try HNSWIndex(dimension: dim, storage: .int8,
                                  parameters: HNSWParameters(M: 6, efConstruction: 24, efSearch: 24, keepFullPrecision: true))
        try StressRun(target: HNSWTarget(index), dim: dim, seed: StressRun.seed(0x4B53_0016), rounds: 3).run()
    }

    @Test func flatMixedOperations() throws {
        let dim = 8
        let index = try FlatIndex(dimension: dim)
        try StressRun(target: FlatTarget(index), dim: dim, seed: StressRun.seed(0x4B53_0017)).run()
    }
}

/// What the stress run needs from an index beyond ``VectorIndex``.
protocol StressTarget: Sendable {
    var index: any VectorIndex { get }
    /// Renumbering maintenance (nil when the index has none).
    func compact() throws(KestrelError)
    func optimizeLayout() throws(KestrelError)
    func batchSearch(_ queries: [Float], k: Int, filter: (@Sendable (UInt64) -> Bool)?) throws(KestrelError) -> [[SearchResult]]
    /// Structural invariants (nil when they hold). Called with no other thread running.
    func invariants() -> String?
    /// Loads a saved file, mapped or copied; returns the copy as a target.
    func load(_ url: URL, mapped: Bool) throws(KestrelError) -> any StressTarget
}

struct HNSWTarget: StressTarget {
    let hnsw: HNSWIndex
    init(_ i: HNSWIndex) { hnsw = i }
    var index: any VectorIndex { hnsw }
    func compact() throws(KestrelError) { try hnsw.compact() }
    func optimizeLayout() throws(KestrelError) { try hnsw.optimizeLayout() }
    func batchSearch(_ queries: [Float], k: Int, filter: (@Sendable (UInt64) -> Bool)?) throws(KestrelError) -> [[SearchResult]] {
        try hnsw.search(batch: queries, k: k, ef: nil, threads: 2, filter: filter)
    }
    func invariants() -> String? { hnsw.checkInvariants() }
    func load(_ url: URL, mapped: Bool) throws(KestrelError) -> any StressTarget { HNSWTarget(try HNSWIndex.load(from: url, mapped: mapped)) }
}

struct FlatTarget: StressTarget {
    let flat: FlatIndex
    init(_ i: FlatIndex) { flat = i }
    var index: any VectorIndex { flat }
    func compact() throws(KestrelError) {}
    func optimizeLayout() throws(KestrelError) {}
    func batchSearch(_ queries: [Float], k: Int, filter: (@Sendable (UInt64) -> Bool)?) throws(KestrelError) -> [[SearchResult]] {
        try flat.search(batch: queries, k: k, threads: 2, filter: filter)
    }
    func invariants() -> String? { nil }
    func load(_ url: URL, mapped: Bool) throws(KestrelError) -> any StressTarget { FlatTarget(try FlatIndex.load(from: url, mapped: mapped)) }
}

/// One stress run: `rounds` rounds of `threads` threads × `opsPerRound` operations (or rounds
/// until `KESTREL_STRESS_SECONDS` have passed).
struct StressRun {
    let target: any StressTarget
    let dim: Int
    let seed: UInt64
    var rounds = 8
    var threads = 4
    var keysPerThread = 48
    var opsPerRound = 60

    /// The test's seed, or `KESTREL_STRESS_SEED` when set (soak runs vary it).
    static func seed(_ fixed: UInt64) -> UInt64 {
        ProcessInfo.processInfo.environment["KESTREL_STRESS_SEED"].flatMap { UInt64($0) }.map { $0 ^ fixed } ?? fixed
    }

    var universe: UInt64 { UInt64(threads * keysPerThread) }
    func key(_ t: Int, _ j: Int) -> UInt64 { UInt64(t + threads * j) }

    func run() throws {
        let soakSeconds = ProcessInfo.processInfo.environment["KESTREL_STRESS_SECONDS"].flatMap { Double($0) }
        let start = Date()
        let dir = TempDir()
        // models[t]: thread t's keys → vectors (live) and the keys it removed; exact between rounds.
        var models = (0..<threads).map { _ in ThreadModel() }
        var round = 0
        while soakSeconds.map({ Date().timeIntervalSince(start) < $0 }) ?? (round < rounds) {
            let failures = Locked<[String]>([])
            let shared = Locked(models)
            let files = (0..<threads).map { dir.file("t\($0).kvi") }
            let roundNumber = round
            let roundSeed = seed &+ UInt64(round) &* 0x9E37_79B9_7F4A_7C15
            Parallel.run(threads: threads) { [self] t in
                var model = shared.withLock { $0[t] }
                var rng = SeededRNG(seed: roundSeed ^ UInt64(t + 1) &* 0xBF58_476D_1CE4_E5B9)
                for op in 0..<opsPerRound {
                    if let message = step(t, &model, &rng, files[t]) {
                        failures.withLock { $0.append("round \(roundNumber) thread \(t) op \(op): \(message)") }
                        break
                    }
                }
                shared.withLock { $0[t] = model }
            }
            models = shared.withLock { $0 }
            let found = failures.withLock { $0 }
            #expect(found.isEmpty, "\(found.prefix(5))")
            if !found.isEmpty { return }
            if let message = try checkRound(models, dir.file("round.kvi")) {
                Issue.record("round \(round) (seed \(seed)): \(message)")
                return
            }
            round += 1
        }
    }

    /// One random operation of thread `t`; returns a description of a violated invariant.
    func step(_ t: Int, _ model: inout ThreadModel, _ rng: inout SeededRNG, _ file: URL) -> String? {
        let index = target.index
        let r = Int(rng.next() % 100)
        let j = Int(rng.next() % UInt64(keysPerThread))
        let own = key(t, j)
        do {
            switch r {
            case 0..<28:
                let v = rng.floats(dim)
                try index.add(key: own, vector: v)
                model.add(own, v)
            case 28..<34:
                let keys = Set((0..<3).map { _ in key(t, Int(rng.next() % UInt64(keysPerThread))) }).sorted()
                let vs = keys.map { _ in rng.floats(dim) }
                try index.add(keys: keys, vectors: vs.flatMap { $0 }, threads: 2)
                for (k, v) in zip(keys, vs) { model.add(k, v) }
            case 34..<46:
                let removed = try index.remove(key: own)
                if removed != (model.live[own] != nil) { return "remove(\(own)) returned \(removed)" }
                model.remove(own)
            case 46..<62:
                return check(try index.search(rng.floats(dim), k: 5, filter: nil), model, k: 5, filter: nil)
            case 62..<70:
                let filter: @Sendable (UInt64) -> Bool = { $0 % 3 != 0 }
                return check(try index.search(rng.floats(dim), k: 5, filter: filter), model, k: 5, filter: filter)
            case 70..<76:
                let even: @Sendable (UInt64) -> Bool = { $0 % 2 == 0 }
                let filter = rng.next() % 2 == 0 ? nil : even
                for res in try target.batchSearch(rng.floats(3 * dim), k: 4, filter: filter) {
                    if let m = check(res, model, k: 4, filter: filter) { return "batch: \(m)" }
                }
            case 76..<82:
                try target.compact()
            case 82..<87:
                try target.optimizeLayout()
            case 87..<92:
                try index.save(to: file)
                let copy = try target.load(file, mapped: true)
                if let m = copy.invariants() { return "mapped snapshot: \(m)" }
                if let m = check(try copy.index.search(rng.floats(dim), k: 3, filter: nil), nil, k: 3, filter: nil) {
                    return "mapped snapshot search: \(m)"
                }
            default:
                let has = index.contains(key: own)
                if has != (model.live[own] != nil) { return "contains(\(own)) = \(has)" }
            }
        } catch {
            return "\(error)"
        }
        return nil
    }

    /// Results sorted, at most k, unique keys from the universe, passing the filter, and none of
    /// the keys this thread removed (and has not re-added).
    func check(_ res: [SearchResult], _ model: ThreadModel?, k: Int, filter: ((UInt64) -> Bool)?) -> String? {
        if res.count > k { return "\(res.count) results for k = \(k)" }
        if Set(res.map(\.key)).count != res.count { return "duplicate keys in \(res)" }
        for (a, b) in zip(res, res.dropFirst()) where !(a.distance <= b.distance) { return "unsorted \(res)" }
        for r in res {
            if r.key >= universe { return "key \(r.key) was never added" }
            if let filter, !filter(r.key) { return "key \(r.key) fails the filter" }
            if let model, model.removed.contains(r.key) { return "removed key \(r.key) returned" }
        }
        return nil
    }

    /// Invariants with no thread running.
    func checkRound(_ models: [ThreadModel], _ file: URL) throws -> String? {
        let index = target.index
        if let m = target.invariants() { return m }
        var live: [UInt64: [Float]] = [:]
        var removed = Set<UInt64>()
        for m in models {
            live.merge(m.live) { a, _ in a }
            removed.formUnion(m.removed)
        }
        if index.count != live.count { return "count \(index.count), expected \(live.count)" }
        // Every live key is stored with its vector: an exact search (a one-key filter is below
        // the HNSW exact-scan selectivity) finds it at distance 0.
        for (k, v) in live {
            let hit = try index.search(v, k: 1, filter: { $0 == k })
            guard hit.count == 1, hit[0].key == k, abs(hit[0].distance) < 1e-3 else { return "live key \(k): \(hit)" }
        }
        for k in removed {
            if index.contains(key: k) { return "removed key \(k) still contained" }
            if try !index.search([Float](repeating: 0, count: dim), k: 1, filter: { $0 == k }).isEmpty { return "removed key \(k) found" }
        }
        // A reloaded copy (heap and mapped) equals the index: same count and invariants, the
        // same answers, and saving the copy reproduces the file byte for byte.
        try index.save(to: file)
        let original = try Data(contentsOf: file)
        var rng = SeededRNG(seed: seed ^ 0xC0FFEE)
        let queries = (0..<4).map { _ in rng.floats(dim) }
        let expected = try queries.map { try index.search($0, k: 5, filter: nil) }
        for mapped in [false, true] {
            let copy = try target.load(file, mapped: mapped)
            if copy.index.count != live.count { return "reloaded (mapped: \(mapped)) count \(copy.index.count)" }
            if let m = copy.invariants() { return "reloaded (mapped: \(mapped)): \(m)" }
            let got = try queries.map { try copy.index.search($0, k: 5, filter: nil) }
            if got.map({ $0.map(\.key) }) != expected.map({ $0.map(\.key) }) { return "reloaded (mapped: \(mapped)) answers differ" }
            let again = file.deletingLastPathComponent().appendingPathComponent("again.kvi")
            try copy.index.save(to: again)
            if try Data(contentsOf: again) != original { return "re-saved copy (mapped: \(mapped)) differs from the file" }
        }
        return nil
    }
}

/// One thread's exact view of the keys it owns.
struct ThreadModel: Sendable {
    var live: [UInt64: [Float]] = [:]
    var removed = Set<UInt64>()
    mutating func add(_ k: UInt64, _ v: [Float]) {
        live[k] = v
        removed.remove(k)
    }
    mutating func remove(_ k: UInt64) {
        if live.removeValue(forKey: k) != nil { removed.insert(k) }
    }
}

/// A value behind a lock, shareable by reference with the worker threads. The lock is the
/// package's pthread `PlainLock`, which ThreadSanitizer sees (it does not see
/// `Synchronization.Mutex`'s futex on Linux, and reported races between two holders).
final class Locked<T: Sendable>: @unchecked Sendable {
    private let lock = PlainLock()
    private var value: T
    init(_ value: T) { self.value = value }
    func withLock<R>(_ body: (inout T) -> R) -> R { lock.withLock { body(&value) } }
}
