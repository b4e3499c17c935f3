/// The key → node id map of an index in 4 bytes per slot: an open-addressing table (linear
/// probing, backward-shift deletion, at most 80 % full) that stores only node ids and compares
/// keys through the caller's `keyOf`, which reads the index's own keys array. A Swift
/// `[UInt64: UInt32]` spends about 32 bytes per key at 100k keys; this spends about 5.
///
/// Not thread-safe: the index guards it with its allocation lock (and holds the structure lock
/// so that `keyOf` reads a stable keys array).
final class KeyTable {
    private var slots: UnsafeMutablePointer<UInt32>
    private var mask: Int
    /// Keys present.
    private(set) var count = 0

    static let empty = UInt32.max

    /// A table that holds `minimumCapacity` keys without growing.
    init(minimumCapacity: Int = 0) {
        let n = KeyTable.slotCount(for: minimumCapacity)
        slots = .allocate(capacity: n)
        slots.initialize(repeating: KeyTable.empty, count: n)
        mask = n - 1
    }

    deinit { slots.deallocate() }

    /// Bytes of the slot array.
    var byteCount: Int { (mask + 1) * 4 }

    private static func slotCount(for keys: Int) -> Int {
        var n = 16
        while n * 4 < max(keys, 1) * 5 { n <<= 1 }  // load ≤ 0.8
        return n
    }

    @inline(__always) private func home(_ key: UInt64) -> Int {
        // SplitMix64's finaliser: user keys are often sequential, which linear probing hates.
        var z = key &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int(truncatingIfNeeded: z ^ (z >> 31)) & mask
    }

    /// The slot holding `key`, or the empty slot where it would go.
    @inline(__always) private func slot(of key: UInt64, _ keyOf: (UInt32) -> UInt64) -> Int {
        var i = home(key)
        while true {
            let id = slots[i]
            if id == KeyTable.empty || keyOf(id) == key { return i }
            i = (i + 1) & mask
        }
    }

    /// The id stored for `key`.
    func find(_ key: UInt64, keyOf: (UInt32) -> UInt64) -> UInt32? {
        let id = slots[slot(of: key, keyOf)]
        return id == KeyTable.empty ? nil : id
    }

    /// Maps `keyOf(id)` to `id`; returns the id it replaces, if the key was present.
    /// `id` must not be `UInt32.max`.
    @discardableResult
    func insert(_ id: UInt32, keyOf: (UInt32) -> UInt64) -> UInt32? {
        if (count + 1) * 5 > (mask + 1) * 4 { grow(keyOf) }
        let i = slot(of: keyOf(id), keyOf)
        let old = slots[i]
        slots[i] = id
        if old == KeyTable.empty {
            count += 1
            return nil
        }
        return old
    }

    /// Removes `key`; returns its id, or nil when absent.
    func remove(_ key: UInt64, keyOf: (UInt32) -> UInt64) -> UInt32? {
        var i = slot(of: key, keyOf)
        let removed = slots[i]
        if removed == KeyTable.empty { return nil }
        // Backward-shift deletion: pull later members of the probe run into the hole so that
        // lookups never need tombstones.
        var j = i
        while true {
            j = (j + 1) & mask
            let id = slots[j]
            if id == KeyTable.empty { break }
            let h = home(keyOf(id))
            // Move `id` into the hole unless its home lies cyclically in (i, j].
            let stays = i <= j ? (h > i && h <= j) : (h > i || h <= j)
            if !stays {
                slots[i] = id
                i = j
            }
        }
        slots[i] = KeyTable.empty
        count -= 1
        return removed
    }

    private func grow(_ keyOf: (UInt32) -> UInt64) {
        let oldSlots = slots
        let oldCount = mask + 1
        let n = oldCount * 2
        slots = .allocate(capacity: n)
        slots.initialize(repeating: KeyTable.empty, count: n)
        mask = n - 1
        for s in 0..<oldCount where oldSlots[s] != KeyTable.empty {
            var i = home(keyOf(oldSlots[s]))
            while slots[i] != KeyTable.empty { i = (i + 1) & mask }
            slots[i] = oldSlots[s]
        }
        oldSlots.deallocate()
    }
}
