import Atomics
import KestrelTensor  // PlainLock

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif

/// A reader–writer lock (pthread_rwlock) that guards an index's *structure*: searches and
/// inserts hold it shared; growing the arrays, compaction and loading hold it exclusively.
/// Writers are preferred on Linux so a stream of searches cannot starve a resize.
final class StructureLock: @unchecked Sendable {
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>

    init() {
        lock = .allocate(capacity: 1)
        #if canImport(Glibc)
        var attr = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attr)
        pthread_rwlockattr_setkind_np(&attr, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        pthread_rwlock_init(lock, &attr)
        pthread_rwlockattr_destroy(&attr)
        #else
        pthread_rwlock_init(lock, nil)
        #endif
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    @inline(__always) func withShared<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    @inline(__always) func withExclusive<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
}

/// State owned by a ``StructureLock``: the only ways to it are ``withShared(_:)``, which hands the
/// body a copy taken with the lock held shared, and ``withExclusive(_:)``, which hands it `inout`
/// with the lock held exclusively. Writing the state therefore needs the exclusive lock, and the
/// compiler, not a comment, says so. (What the state points to — the index's arrays — is written
/// under the shared lock by protocols of its own; see `GraphView`.)
final class SharedExclusive<State>: @unchecked Sendable {
    private let lock = StructureLock()
    // Behind a pointer, not a stored `var`: a class property would add a dynamic exclusivity
    // check to every access, and the lock already excludes writers.
    private let state: UnsafeMutablePointer<State>

    init(_ initial: State) {
        state = .allocate(capacity: 1)
        state.initialize(to: initial)
    }

    deinit {
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// Runs `body` on the state with the lock held shared (concurrently with other readers).
    @inline(__always) func withShared<R, E: Error>(_ body: (State) throws(E) -> R) throws(E) -> R {
        try lock.withShared { () throws(E) -> R in try body(state.pointee) }
    }

    /// Runs `body` on the state with the lock held exclusively (no reader or writer beside it).
    @inline(__always) func withExclusive<R, E: Error>(_ body: (inout State) throws(E) -> R) throws(E) -> R {
        try lock.withExclusive { () throws(E) -> R in try body(&state.pointee) }
    }
}

/// State owned by a ``PlainLock``: reachable only inside ``withLock(_:)``. Used instead of
/// `Synchronization.Mutex`, whose `inout sending` access rejects state that holds a non-Sendable
/// class read through raw pointers (the HNSW key map probes keys in the index's arrays).
final class Guarded<State>: @unchecked Sendable {
    private let mutex = PlainLock()
    private let state: UnsafeMutablePointer<State>

    init(_ initial: State) {
        state = .allocate(capacity: 1)
        state.initialize(to: initial)
    }

    deinit {
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// Runs `body` on the state with the mutex held.
    @inline(__always) func withLock<R, E: Error>(_ body: (inout State) throws(E) -> R) throws(E) -> R {
        try mutex.withLock { () throws(E) -> R in try body(&state.pointee) }
    }
}

/// One-byte spin locks, one per graph node, guarding that node's link lists against concurrent
/// *writers*. Readers never take them: links are read with acquire loads and written with release
/// stores (see `LinkAccess`), so a search may see a list in the middle of a rewrite — every id it
/// sees is a fully published node, which is all the search needs.
struct NodeLocks {
    let bytes: UnsafeMutablePointer<UnsafeAtomic<UInt8>.Storage>

    @inline(__always) func lock(_ id: UInt32) {
        let a = UnsafeAtomic<UInt8>(at: bytes + Int(id))
        var spins = 0
        while true {
            if a.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged { return }
            // Contention is rare (two inserts touching one node); yield instead of burning the core.
            while a.load(ordering: .relaxed) != 0 {
                spins += 1
                if spins > 64 { sched_yield(); spins = 0 }
            }
        }
    }

    @inline(__always) func unlock(_ id: UInt32) {
        UnsafeAtomic<UInt8>(at: bytes + Int(id)).store(0, ordering: .releasing)
    }
}

/// Acquire/release access to UInt32 words that are read concurrently with writes (link lists,
/// node states). On x86-64 both compile to plain moves; they exist so that the memory model
/// (and ThreadSanitizer) sees every cross-thread publication.
enum LinkAccess {
    @inline(__always) static func load(_ p: UnsafeMutablePointer<UInt32>) -> UInt32 {
        p.withMemoryRebound(to: UnsafeAtomic<UInt32>.Storage.self, capacity: 1) {
            UnsafeAtomic<UInt32>(at: $0).load(ordering: .acquiring)
        }
    }

    @inline(__always) static func store(_ p: UnsafeMutablePointer<UInt32>, _ v: UInt32) {
        p.withMemoryRebound(to: UnsafeAtomic<UInt32>.Storage.self, capacity: 1) {
            UnsafeAtomic<UInt32>(at: $0).store(v, ordering: .releasing)
        }
    }

    @inline(__always) static func load(_ p: UnsafeMutablePointer<UInt8>) -> UInt8 {
        p.withMemoryRebound(to: UnsafeAtomic<UInt8>.Storage.self, capacity: 1) {
            UnsafeAtomic<UInt8>(at: $0).load(ordering: .acquiring)
        }
    }

    @inline(__always) static func store(_ p: UnsafeMutablePointer<UInt8>, _ v: UInt8) {
        p.withMemoryRebound(to: UnsafeAtomic<UInt8>.Storage.self, capacity: 1) {
            UnsafeAtomic<UInt8>(at: $0).store(v, ordering: .releasing)
        }
    }
}
