import KestrelTensor

// Insertion protocol (issue 15 §1). An insert reserves its node ids, writes its rows and links
// them within ONE shared hold of the structure lock. Everything that renumbers or snapshots the
// nodes — compact(), optimizeLayout(), save(to:) — holds the lock exclusively, so it can never
// see a node that has an id but no links yet, and no insert can hold an id across a renumbering.
// (Before, ids were assigned under the exclusive lock, the lock was released and the nodes were
// linked under a later shared hold; a renumbering in that gap left the insert writing links
// through stale ids: out-of-bounds link stores, heap corruption, spins on foreign lock bytes.)
// The exclusive lock is now taken by inserts only to train the codec once or to grow the arrays,
// after which the insert retries its reservation.
extension HNSWIndex {
    /// Adds one vector (`dimension` floats) under `key`, replacing the key's previous vector.
    /// See ``add(keys:vectors:threads:)``.
    public func add(key: UInt64, vector: UnsafeBufferPointer<Float>) throws(KestrelError) {
        try add(keys: [key], vectors: vector, threads: 1)
    }

    /// Adds a batch of `keys.count` row-major vectors, linking them on `threads` threads
    /// (≥ 1; inserts are spread in id order over the threads as in a parallel build). A key
    /// already present is replaced (its old node becomes a tombstone).
    /// - Throws: `dimensionMismatch`, `nonFiniteValue`, `invalidArgument` (duplicate keys in the
    ///   batch, zero vector under cosine, non-binary hamming component, threads < 1, read-only),
    ///   `capacityExceeded`. On a throw nothing was added.
    /// - Complexity: O(n · efConstruction · log N · M · dim) time; memory grows by the arrays only.
    /// - Thread-safety: runs beside searches, other inserts and removals (all share the
    ///   structure lock); ``compact()``, ``optimizeLayout()`` and ``save(to:)`` wait for it to
    ///   finish linking, and it waits for them.
    public func add(keys newKeys: [UInt64], vectors src: UnsafeBufferPointer<Float>, threads: Int) throws(KestrelError) {
        guard !isReadOnly else { throw Self.readOnlyError }
        guard threads >= 1 else { throw .invalidArgument(name: "threads", reason: "must be ≥ 1, got \(threads)") }
        let n = newKeys.count
        guard src.count == n * dimension else {
            throw .dimensionMismatch(expected: [n, dimension], actual: [src.count])
        }
        if n == 0 { return }
        if n > 1 && Set(newKeys).count != n {
            throw .invalidArgument(name: "keys", reason: "duplicate keys in one batch")
        }
        // Validation pass: nothing is touched unless every row is acceptable. The codec is read
        // under the shared lock because training replaces it under the exclusive one.
        let d = dimension
        let base = src.baseAddress!
        let row = UnsafeMutablePointer<Float>.allocate(capacity: d)
        defer { row.deallocate() }
        let sample: [Float]? = try structure.withShared { (a) throws(KestrelError) -> [Float]? in
            for r in 0..<n { try a.codec.prepare(base + r * d, rowIndex: r, into: row) }
            return a.codec.isTrained ? nil : try prepareSample(a.codec, src, rows: n)
        }
        // No-op when a concurrent insert trained the codec first.
        if let sample { structure.withExclusive { trainLocked(&$0, sample) } }

        while true {
            let placed: Bool = structure.withShared { a in
                guard let first = reserveNodes(a, n) else { return false }
                writeRows(a, newKeys, base, first: first, row: row)
                linkNodes(a, first: first, count: n, threads: threads)
                return true
            }
            if placed { return }
            // Too little room: grow (exclusive, rare), then reserve again — a concurrent insert
            // may have used the room first.
            try structure.withExclusive { (a) throws(KestrelError) in try growForInsert(&a, n) }
        }
    }

    /// Reserves `n` consecutive node ids and their upper-layer rows (structure lock held shared),
    /// or returns nil when the arrays are too small. Sets the levels and row offsets of the new
    /// nodes; their state stays `empty` until ``writeRows`` publishes them.
    func reserveNodes(_ a: GraphArrays, _ n: Int) -> Int? {
        let g = view(a)
        return counts.withLock { (c) -> Int? in
            let first = c.nodeCount
            guard first + n <= a.capacity else { return nil }
            var rows = 0
            for r in 0..<n { rows += level(for: first + r) }
            guard c.upperUsed + rows <= a.upperCapacity else { return nil }
            for r in 0..<n {
                let id = first + r
                let lv = level(for: id)
                g.levels[id] = UInt8(lv)
                g.upperStart[id] = UInt32(c.upperUsed)
                c.upperUsed += lv
            }
            c.nodeCount += n
            c.reserved += n
            return first
        }
    }

    /// Grows the arrays so that `n` more nodes fit (structure lock held exclusively). Single
    /// inserts double the capacity; batches grow to exactly what they need.
    func growForInsert(_ a: inout GraphArrays, _ n: Int) throws(KestrelError) {
        let (nodeCount, upperUsed) = counts.withLock { ($0.nodeCount, $0.upperUsed) }
        let levelsNeeded = (0..<n).reduce(0) { $0 + level(for: nodeCount + $1) }
        let needNodes = nodeCount + n
        if needNodes > a.capacity || upperUsed + levelsNeeded > a.upperCapacity {
            let grownNodes = needNodes > a.capacity ? max(needNodes, n > 1 ? 0 : a.capacity * 2) : a.capacity
            let grownRows = max(upperUsed + levelsNeeded, n > 1 ? 0 : a.upperCapacity * 2)
            try growLocked(&a, nodes: grownNodes, upperRows: max(grownRows, a.upperCapacity))
        }
    }

    /// Encodes the rows of reserved nodes `first ..< first + keys.count` (validated before) and
    /// publishes them: key map entry, state `live` (release store, after the row), live count.
    /// A key already present turns its old node into a tombstone. Structure lock held shared;
    /// the ids belong to this insert, so the rows are written without the `counts` mutex.
    func writeRows(
        _ a: GraphArrays, _ newKeys: [UInt64], _ base: UnsafePointer<Float>, first: Int, row: UnsafeMutablePointer<Float>
    ) {
        let g = view(a)
        let c = a.codec
        let d = dimension
        let fullBase = a.full?.base.assumingMemoryBound(to: Float.self)
        for r in 0..<newKeys.count {
            let id = first + r
            // Cannot throw: validated by the caller.
            try? c.prepare(base + r * d, rowIndex: r, into: row)
            c.encode(row, into: g.vectors + id * g.stride)
            fullBase.map { ($0 + id * d).update(from: row, count: d) }
            g.keys[id] = newKeys[r]
        }
        counts.withLock { c in
            for r in 0..<newKeys.count {
                let id = first + r
                if let old = c.keyMap.insert(UInt32(id), keyOf: { g.keys[Int($0)] }) {
                    LinkAccess.store(g.states + Int(old), NodeState.deleted)
                    c.liveCount -= 1
                }
                LinkAccess.store(g.states + id, NodeState.live)
                c.liveCount += 1
            }
            c.reserved -= newKeys.count
        }
    }

    /// Links the published nodes `first ..< first + count` on `threads` threads (structure lock
    /// held shared).
    func linkNodes(_ a: GraphArrays, first: Int, count n: Int, threads: Int) {
        let g = view(a)
        let cap = a.capacity
        let codeBytes = a.codec.stride
        parallelForEach(n, threads: threads, chunk: 1) { [self] i, _ in
            let scratch = pool.take(nodes: cap, bytes: codeBytes)
            let level = Int(g.levels[first + i])
            _ = scratch.begin(nodes: cap, bytes: codeBytes, words: 4 * (maxM0 + 1) + level * (maxM + 1))
            link(UInt32(first + i), g, scratch)
            pool.give(scratch)
        }
    }

    /// Links node `id` (vector, level and key already written) into the graph.
    func link(_ id: UInt32, _ g: GraphView, _ scratch: SearchScratch) {
        let level = Int(g.levels[Int(id)])
        let q = g.vector(id)
        var ep = entry.load(ordering: .acquiring)
        var holdsEntryLock = false
        if ep == Self.emptyEntry || level > Int(ep >> 32) {
            // Raising the top level is rare; serialise it so two new tops cannot both win.
            entryLock.lock()
            holdsEntryLock = true
            ep = entry.load(ordering: .acquiring)
            if ep == Self.emptyEntry {
                entry.store(UInt64(level) << 32 | UInt64(id), ordering: .releasing)
                entryLock.unlock()
                return
            }
            if level <= Int(ep >> 32) {
                entryLock.unlock()
                holdsEntryLock = false
            }
        }
        let top = Int(ep >> 32)
        var cur = UInt32(truncatingIfNeeded: ep)
        var dist = g.scorer(q, g.vector(cur))
        var l = top
        while l > level {
            g.greedy(q, cur: &cur, dist: &dist, level: l)
            l -= 1
        }
        // The node's own lists are written on every level before any neighbour links back to it,
        // and level 0 is linked back first: a search (or another insert) that reaches the node on
        // an upper layer and descends from it must find its level-0 list already filled; reached
        // too early it has no neighbours and the search returns one result (issue 15, CI flake).
        // Lists chosen on levels > 0 wait in scratch words past those of searchLayer and link().
        let work = scratch.words + (maxM0 + 1)
        let pending = scratch.words + 4 * (maxM0 + 1)
        let linkedTop = min(level, top)
        l = linkedTop
        while l >= 0 {
            let selected = l == 0 ? scratch.words : pending + (l - 1) * (maxM + 1) + 1
            if l > 0 { pending[(l - 1) * (maxM + 1)] = 0 }
            let epoch = scratch.nextEpoch()
            g.searchLayer(q, entry: cur, entryDist: dist, ef: parameters.efConstruction, level: l,
                          scratch: scratch, epoch: epoch, accept: AcceptAll())
            var res = scratch.results
            var sorted = res.sortedAscending()
            // Drop the node itself if a concurrent insert already linked back to it.
            var w = 0
            for i in 0..<sorted.count where packedID(sorted[i]) != id {
                sorted[w] = sorted[i]
                w += 1
            }
            sorted = UnsafeMutableBufferPointer(rebasing: sorted[0..<w])
            if w > 0 {
                let m = g.selectNeighbors(sorted, m: maxM, out: selected)
                g.locks.lock(id)
                g.writeLinks(id, l, selected, m)
                g.locks.unlock(id)
                if l > 0 {
                    pending[(l - 1) * (maxM + 1)] = UInt32(m)
                } else {
                    for s in 0..<m { g.connect(selected[s], to: id, level: 0, scratch: scratch, work: work) }
                }
                cur = packedID(sorted[0])
                dist = packedDistance(sorted[0])
            }
            res.clear()
            scratch.results = res
            l -= 1
        }
        // Upper levels, lowest first, once level 0 is linked.
        for ul in stride(from: 1, through: linkedTop, by: 1) {
            let row = pending + (ul - 1) * (maxM + 1)
            for s in 0..<Int(row[0]) { g.connect(row[1 + s], to: id, level: ul, scratch: scratch, work: work) }
        }
        if holdsEntryLock {
            if level > Int(entry.load(ordering: .acquiring) >> 32) {
                entry.store(UInt64(level) << 32 | UInt64(id), ordering: .releasing)
            }
            entryLock.unlock()
        }
    }
}
