import KestrelTensor

/// Maps a Float to a UInt32 whose unsigned order is the Float's numeric order (for finite values
/// and ±Inf), so a (distance, id) pair packs into one UInt64 that heaps compare in one instruction.
@inline(__always) func orderedBits(_ f: Float) -> UInt32 {
    let b = f.bitPattern
    return (b & 0x8000_0000) != 0 ? ~b : b | 0x8000_0000
}

/// Inverse of ``orderedBits(_:)``.
@inline(__always) func floatFromOrdered(_ u: UInt32) -> Float {
    Float(bitPattern: (u & 0x8000_0000) != 0 ? u & 0x7FFF_FFFF : ~u)
}

/// A (distance, id) pair packed so that UInt64 order is (distance, id) order.
@inline(__always) func pack(_ d: Float, _ id: UInt32) -> UInt64 { UInt64(orderedBits(d)) << 32 | UInt64(id) }
@inline(__always) func packedID(_ p: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: p) }
@inline(__always) func packedDistance(_ p: UInt64) -> Float { floatFromOrdered(UInt32(truncatingIfNeeded: p >> 32)) }

/// A binary heap of packed pairs over caller-owned memory. `isMax` picks a max-heap (largest on top).
/// No bounds on capacity: `push` grows the buffer (rarely: scratch buffers are reused across queries).
struct PackedHeap {
    private(set) var items: UnsafeMutablePointer<UInt64>
    private(set) var capacity: Int
    var count = 0
    let isMax: Bool

    init(capacity: Int, isMax: Bool) {
        self.capacity = max(16, capacity)
        items = .allocate(capacity: self.capacity)
        self.isMax = isMax
    }

    func deallocate() { items.deallocate() }

    @inline(__always) var top: UInt64 { items[0] }
    @inline(__always) var isEmpty: Bool { count == 0 }

    @inline(__always) private func above(_ x: UInt64, _ y: UInt64) -> Bool { isMax ? x > y : x < y }

    @inline(__always) mutating func push(_ v: UInt64) {
        if count == capacity { grow() }
        var i = count
        count += 1
        while i > 0 {
            let parent = (i - 1) >> 1
            let pv = items[parent]
            if !above(v, pv) { break }
            items[i] = pv
            i = parent
        }
        items[i] = v
    }

    @inline(__always) @discardableResult mutating func pop() -> UInt64 {
        let result = items[0]
        count -= 1
        if count > 0 { siftDown(items[count]) }
        return result
    }

    /// Replaces the top with `v` (one sift instead of pop + push).
    @inline(__always) mutating func replaceTop(_ v: UInt64) { siftDown(v) }

    @inline(__always) private mutating func siftDown(_ v: UInt64) {
        var i = 0
        let n = count
        while true {
            var c = 2 * i + 1
            if c >= n { break }
            if c + 1 < n && above(items[c + 1], items[c]) { c += 1 }
            if !above(items[c], v) { break }
            items[i] = items[c]
            i = c
        }
        items[i] = v
    }

    private mutating func grow() {
        let newCap = capacity * 2
        let p = UnsafeMutablePointer<UInt64>.allocate(capacity: newCap)
        p.update(from: items, count: count)
        items.deallocate()
        items = p
        capacity = newCap
    }

    /// Empties the heap, keeping its memory.
    @inline(__always) mutating func clear() { count = 0 }

    /// Sorts the stored items ascending in place (destroys the heap property) and returns them.
    mutating func sortedAscending() -> UnsafeMutableBufferPointer<UInt64> {
        var b = UnsafeMutableBufferPointer(start: items, count: count)
        b.sort()
        return b
    }
}

/// Per-search working memory, reused through a pool so that a search allocates nothing:
/// an epoch-stamped visited array (a node is visited when `visited[id] == epoch`; bumping the
/// epoch clears the whole set in O(1), with a real clear every 65535 searches), two heaps, and
/// buffers for the encoded query and scratch vectors.
final class SearchScratch: @unchecked Sendable {
    private(set) var visited: UnsafeMutablePointer<UInt16>
    private(set) var visitedCapacity: Int
    private(set) var epoch: UInt16 = 0
    var candidates = PackedHeap(capacity: 256, isMax: false)
    var results = PackedHeap(capacity: 256, isMax: true)
    /// Extra heap for selection work (neighbour pruning, filtered results).
    var spare = PackedHeap(capacity: 256, isMax: true)
    /// Bytes for encoded queries / prepared vectors (64-byte aligned).
    private(set) var bytes: UnsafeMutableRawPointer
    private(set) var byteCapacity: Int
    /// UInt32 scratch (neighbour lists under construction, int outputs of one-to-many kernels).
    private(set) var words: UnsafeMutablePointer<UInt32>
    private(set) var wordCapacity: Int

    init(nodes: Int, bytes: Int) {
        visitedCapacity = max(nodes, 64)
        visited = .allocate(capacity: visitedCapacity)
        visited.initialize(repeating: 0, count: visitedCapacity)
        byteCapacity = max(bytes, 64)
        self.bytes = .allocate(byteCount: byteCapacity, alignment: 64)
        wordCapacity = 1024
        words = .allocate(capacity: wordCapacity)
    }

    deinit {
        visited.deallocate()
        candidates.deallocate()
        results.deallocate()
        spare.deallocate()
        bytes.deallocate()
        words.deallocate()
    }

    /// Prepares for one search over ids `< nodes` needing `bytes` bytes and `words` words of
    /// scratch; returns the new epoch. Allocates only when the index has outgrown the buffers.
    func begin(nodes: Int, bytes needBytes: Int, words needWords: Int = 0) -> UInt16 {
        if nodes > visitedCapacity {
            visited.deallocate()
            visitedCapacity = max(nodes, visitedCapacity * 2)
            visited = .allocate(capacity: visitedCapacity)
            visited.initialize(repeating: 0, count: visitedCapacity)
            epoch = 0
        }
        if needBytes > byteCapacity {
            bytes.deallocate()
            byteCapacity = max(needBytes, byteCapacity * 2)
            bytes = .allocate(byteCount: byteCapacity, alignment: 64)
        }
        if needWords > wordCapacity {
            words.deallocate()
            wordCapacity = max(needWords, wordCapacity * 2)
            words = .allocate(capacity: wordCapacity)
        }
        candidates.clear()
        results.clear()
        spare.clear()
        return nextEpoch()
    }

    /// A fresh visited set (used when one operation runs several searches).
    func nextEpoch() -> UInt16 {
        if epoch == UInt16.max {
            visited.update(repeating: 0, count: visitedCapacity)
            epoch = 0
        }
        epoch += 1
        return epoch
    }
}

/// A pool of scratch objects so concurrent searches each get their own without allocating.
final class ScratchPool: @unchecked Sendable {
    private let lock = PlainLock()
    private var free: [SearchScratch] = []

    /// Takes a scratch (a new one when the pool is empty).
    func take(nodes: Int, bytes: Int) -> SearchScratch {
        lock.lock()
        let s = free.popLast()
        lock.unlock()
        return s ?? SearchScratch(nodes: nodes, bytes: bytes)
    }

    /// Returns a scratch to the pool (the pool keeps at most 64).
    func give(_ s: SearchScratch) {
        lock.lock()
        if free.count < 64 { free.append(s) }
        lock.unlock()
    }

    /// Drops every pooled scratch (after a compaction shrinks the index).
    func drain() {
        lock.withLock { free.removeAll() }
    }

    /// Bytes held by pooled scratch objects.
    var bytesHeld: Int {
        lock.withLock { free.reduce(0) { $0 + $1.visitedCapacity * 2 + $1.byteCapacity + $1.wordCapacity * 4 } }
    }
}
