import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A thread-safe cache of 64-byte-aligned blocks, so hot paths stop paying for
/// `malloc`/page faults on every call.
///
/// Requests are rounded up to a size class: the next power of two, at least 64 bytes (so at
/// most half of a block is slack). ``acquire(byteCount:zeroed:)`` hands out an
/// ``AlignedBuffer``; when the last reference to that buffer goes away its block comes back
/// here automatically — there is no `release` to forget and no use-after-release possible.
/// A returned block is kept only while the total held stays within ``capacity``; beyond
/// that it is freed. Use one pool per workload (for example per backend) to bound memory.
///
/// Thread-safety: every method may be called from any thread; the state is guarded by a
/// `Synchronization.Mutex`. Complexity: acquire and recycle are O(1) amortised.
public final class BufferPool: Sendable {
    /// Counters describing a pool; a snapshot, consistent at the moment it was taken.
    public struct Statistics: Sendable, Equatable {
        /// Acquisitions served from a cached block.
        public var hits: Int
        /// Acquisitions that had to allocate a new block.
        public var misses: Int
        /// Bytes currently cached in the pool (not counting blocks handed out).
        public var bytesHeld: Int
        /// Blocks currently cached in the pool.
        public var blocksHeld: Int
        /// Blocks freed on return because keeping them would exceed the capacity.
        public var evictions: Int

        /// Creates a set of counters (for comparisons in tests and reports).
        public init(hits: Int, misses: Int, bytesHeld: Int, blocksHeld: Int, evictions: Int) {
            self.hits = hits
            self.misses = misses
            self.bytesHeld = bytesHeld
            self.blocksHeld = blocksHeld
            self.evictions = evictions
        }
    }

    // Raw pointers are owned by the pool while listed; only touched under the lock.
    private struct State: @unchecked Sendable {
        var free: [Int: [UnsafeMutableRawPointer]] = [:]  // size class -> blocks
        var stats = Statistics(hits: 0, misses: 0, bytesHeld: 0, blocksHeld: 0, evictions: 0)
    }

    private let state: Mutex<State>

    /// The most bytes this pool keeps cached.
    public let capacity: Int

    /// The smallest size class, in bytes.
    public static let minimumBlockSize = AlignedBuffer.alignment

    /// Creates an empty pool that caches at most `capacity` bytes.
    /// - Throws: `KestrelError.invalidArgument` when `capacity` is negative.
    public init(capacity: Int) throws(KestrelError) {
        guard capacity >= 0 else {
            throw .invalidArgument(name: "capacity", reason: "negative capacity \(capacity)")
        }
        self.capacity = capacity
        self.state = Mutex(State())
    }

    deinit {
        state.withLock { g in
            for blocks in g.free.values { for p in blocks { free(p) } }
        }
    }

    /// The size class (block size) that serves a request of `byteCount` bytes.
    /// - Throws: `KestrelError.invalidArgument` for a negative or unroundable size.
    public static func sizeClass(for byteCount: Int) throws(KestrelError) -> Int {
        guard byteCount >= 0 else {
            throw .invalidArgument(name: "byteCount", reason: "negative size \(byteCount)")
        }
        if byteCount <= minimumBlockSize { return minimumBlockSize }
        let shift = Int.bitWidth - (byteCount - 1).leadingZeroBitCount
        guard shift < Int.bitWidth - 1 else {
            throw .invalidArgument(name: "byteCount", reason: "size \(byteCount) has no size class")
        }
        return 1 << shift
    }

    /// Hands out a block of at least `byteCount` bytes (its ``AlignedBuffer/byteCount`` is the
    /// size class), from the cache when one is free.
    /// - Parameter zeroed: clear the first `byteCount` bytes (cached blocks hold old data).
    /// - Throws: `KestrelError.invalidArgument` for a negative size,
    ///   `KestrelError.capacityExceeded` when a new allocation fails.
    public func acquire(byteCount: Int, zeroed: Bool = false) throws(KestrelError) -> AlignedBuffer {
        let size = try BufferPool.sizeClass(for: byteCount)
        let cached: UnsafeMutableRawPointer? = state.withLock { g in
            if let p = g.free[size]?.popLast() {
                g.stats.hits += 1
                g.stats.bytesHeld -= size
                g.stats.blocksHeld -= 1
                return p
            }
            g.stats.misses += 1
            return nil
        }
        let pointer: UnsafeMutableRawPointer
        if let cached { pointer = cached } else { pointer = try AlignedBuffer.allocate(size) }
        if zeroed { memset(pointer, 0, byteCount) }
        return AlignedBuffer(owning: pointer, byteCount: size, pool: self)
    }

    /// Takes a block back from a dying ``AlignedBuffer``: cached when it fits under the cap.
    func recycle(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        let keep: Bool = state.withLock { g in
            guard g.stats.bytesHeld + byteCount <= capacity else {
                g.stats.evictions += 1
                return false
            }
            g.free[byteCount, default: []].append(pointer)
            g.stats.bytesHeld += byteCount
            g.stats.blocksHeld += 1
            return true
        }
        if !keep { free(pointer) }
    }

    /// A snapshot of the counters.
    public var statistics: Statistics { state.withLock { $0.stats } }

    /// Frees every cached block (blocks handed out are unaffected). Counters other than the
    /// held bytes/blocks are kept.
    public func removeAll() {
        let blocks: [UnsafeMutableRawPointer] = state.withLock { g in
            let all = g.free.values.flatMap { $0 }
            g.free = [:]
            g.stats.bytesHeld = 0
            g.stats.blocksHeld = 0
            return all
        }
        for p in blocks { free(p) }
    }
}
