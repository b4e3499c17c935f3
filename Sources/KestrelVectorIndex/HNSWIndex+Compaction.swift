import CKestrelKernels
import KestrelTensor

extension HNSWIndex {
    /// Drops every tombstone: the links of live nodes that pointed at removed nodes are repaired
    /// (candidates are the node's live neighbours plus the live neighbours of its removed ones,
    /// re-selected with the heuristic), then nodes are renumbered densely and the arrays shrink
    /// to fit. Keys are unchanged. Holds the structure lock exclusively (searches and inserts wait).
    /// - Throws: `invalidArgument` on a read-only index; `capacityExceeded` if memory runs out.
    /// - Complexity: O(N · M² · dim) for the repair plus O(N · M) to renumber; O(N) extra memory.
    public func compact() throws(KestrelError) {
        guard !isReadOnly else { throw Self.readOnlyError }
        try structure.withExclusive { (a) throws(KestrelError) in
            let n = counts.withLock { $0.nodeCount }
            let g = view(a)
            var liveIDs: [UInt32] = []
            liveIDs.reserveCapacity(n)
            for i in 0..<n where g.state(UInt32(i)) == NodeState.live { liveIDs.append(UInt32(i)) }
            if liveIDs.count == n { return }
            repairLinks(a, g, liveIDs)
            try renumber(&a, g, liveIDs, nodeCount: n)
        }
        releaseFreedMemory()
    }

    /// Renumbers the nodes in breadth-first order of layer 0 from the entry point, so that nodes
    /// a search visits together sit together in memory: the vectors and link rows of one
    /// neighbourhood share pages and the hardware prefetchers and TLB work for the walk instead of
    /// against it (graph reordering, Coleman et al., NeurIPS 2022). Results are unchanged — keys,
    /// links and distances stay the same; only internal ids move. Tombstones are dropped as by
    /// ``compact()``. Worth calling once after a bulk build; later inserts append at the end.
    /// Holds the structure lock exclusively (searches and inserts wait).
    /// - Throws: `invalidArgument` on a read-only index; `capacityExceeded` if memory runs out.
    /// - Complexity: O(N · M) time plus one copy of the arrays (O(N · (stride + M)) extra memory
    ///   while it runs).
    public func optimizeLayout() throws(KestrelError) {
        guard !isReadOnly else { throw Self.readOnlyError }
        try structure.withExclusive { (a) throws(KestrelError) in
            let n = counts.withLock { $0.nodeCount }
            if n == 0 { return }
            let g = view(a)
            var liveIDs: [UInt32] = []
            liveIDs.reserveCapacity(n)
            for i in 0..<n where g.state(UInt32(i)) == NodeState.live { liveIDs.append(UInt32(i)) }
            if liveIDs.count != n { repairLinks(a, g, liveIDs) }
            try renumber(&a, g, breadthFirstOrder(g, nodeCount: n, liveCount: liveIDs.count), nodeCount: n)
        }
        releaseFreedMemory()
    }

    /// Hands the old arrays' memory back to the system after a renumbering: glibc raises its mmap
    /// threshold after freeing large blocks, so without this the freed copies can stay in the
    /// process's resident set.
    func releaseFreedMemory() {
        _ = kestrel_release_free_memory()
    }

    /// Live nodes in breadth-first order of layer 0 from the entry point (neighbours in link order,
    /// which the heuristic leaves nearest first), then any live node the walk did not reach.
    private func breadthFirstOrder(_ g: GraphView, nodeCount n: Int, liveCount: Int) -> [UInt32] {
        var seen = [Bool](repeating: false, count: n)
        var order: [UInt32] = []
        order.reserveCapacity(liveCount)
        var head = 0
        func visit(_ id: UInt32) {
            seen[Int(id)] = true
            if g.state(id) == NodeState.live { order.append(id) }
        }
        func walk(from start: UInt32) {
            // Tombstones are walked through (they may bridge live parts) but not placed.
            var queue: [UInt32] = [start]
            visit(start)
            head = 0
            while head < queue.count {
                let list = g.links(queue[head], 0)
                head += 1
                for j in 1..<(Int(list[0]) + 1) where !seen[Int(list[j])] {
                    visit(list[j])
                    queue.append(list[j])
                }
            }
        }
        let ep = entry.load(ordering: .acquiring)
        if ep != Self.emptyEntry { walk(from: UInt32(truncatingIfNeeded: ep)) }
        for i in 0..<n where !seen[i] { walk(from: UInt32(i)) }
        return order
    }

    /// Re-selects the neighbours of every live node that links to a tombstone.
    private func repairLinks(_ a: GraphArrays, _ g: GraphView, _ liveIDs: [UInt32]) {
        let scratch = SearchScratch(nodes: a.capacity, bytes: 64)
        _ = scratch.begin(nodes: a.capacity, bytes: 64, words: 4 * (maxM0 + 1))
        for u in liveIDs {
            let top = Int(g.levels[Int(u)])
            for l in 0...top {
                let list = g.links(u, l)
                let c = Int(list[0])
                var touched = false
                for j in 1..<(c + 1) where g.state(list[j]) != NodeState.live {
                    touched = true
                    break
                }
                if !touched { continue }
                let epoch = scratch.nextEpoch()
                scratch.visited[Int(u)] = epoch
                var heap = scratch.spare
                heap.clear()
                let base = g.vector(u)
                func consider(_ e: UInt32) {
                    if scratch.visited[Int(e)] == epoch { return }
                    scratch.visited[Int(e)] = epoch
                    heap.push(pack(g.scorer(base, g.vector(e)), e))
                }
                for j in 1..<(c + 1) {
                    let e = list[j]
                    if g.state(e) == NodeState.live {
                        consider(e)
                    } else if Int(g.levels[Int(e)]) >= l {
                        let second = g.links(e, l)
                        for t in 1..<(Int(second[0]) + 1) where g.state(second[t]) == NodeState.live { consider(second[t]) }
                    }
                }
                let sorted = heap.sortedAscending()
                let kept = g.selectNeighbors(sorted, m: g.maxLinks(l), out: scratch.words)
                g.writeLinks(u, l, scratch.words, kept)
                heap.clear()
                scratch.spare = heap
            }
        }
    }

    /// Copies the live nodes of `a` (of `n` nodes) into fresh, dense arrays (the structure lock
    /// held exclusively: the `inout` access).
    private func renumber(_ a: inout GraphArrays, _ g: GraphView, _ liveIDs: [UInt32], nodeCount n: Int) throws(KestrelError) {
        let m = liveIDs.count
        var newID = [UInt32](repeating: UInt32.max, count: n)
        for (i, old) in liveIDs.enumerated() { newID[Int(old)] = UInt32(i) }
        let cap = max(m, 16)
        let stride = a.codec.stride
        let row0 = 1 + maxM0
        let rowU = 1 + maxM
        var rows = 0
        for old in liveIDs { rows += Int(g.levels[Int(old)]) }
        let nv = try MemoryRegion(zeroedBytes: cap * stride)
        let nf = try a.full.map { _ throws(KestrelError) in try MemoryRegion(zeroedBytes: cap * dimension * 4) }
        let nk = try MemoryRegion(zeroedBytes: cap * 8)
        let nl = try MemoryRegion(zeroedBytes: cap)
        let ns = try MemoryRegion(zeroedBytes: cap)
        let nus = try MemoryRegion(zeroedBytes: cap * 4)
        let n0 = try MemoryRegion(zeroedBytes: cap * row0 * 4)
        let nu = try MemoryRegion(zeroedBytes: max(rows, 16) * rowU * 4)
        let locks = try MemoryRegion(zeroedBytes: cap)
        let kp = nk.base.assumingMemoryBound(to: UInt64.self)
        let lp = nl.base.assumingMemoryBound(to: UInt8.self)
        let sp = ns.base.assumingMemoryBound(to: UInt8.self)
        let usp = nus.base.assumingMemoryBound(to: UInt32.self)
        let l0p = n0.base.assumingMemoryBound(to: UInt32.self)
        let up = nu.base.assumingMemoryBound(to: UInt32.self)
        let newMap = KeyTable(minimumCapacity: m)
        var used = 0
        var best: (level: Int, id: UInt32)? = nil
        let oldEntry = entry.load(ordering: .acquiring)
        func copyList(_ src: UnsafeMutablePointer<UInt32>, _ dst: UnsafeMutablePointer<UInt32>) {
            var w = 0
            for j in 1..<(Int(src[0]) + 1) {
                let t = newID[Int(src[j])]
                if t != UInt32.max {
                    dst[1 + w] = t
                    w += 1
                }
            }
            dst[0] = UInt32(w)
        }
        for (i, oldID) in liveIDs.enumerated() {
            let old = Int(oldID)
            (nv.base + i * stride).copyMemory(from: g.vectors + old * stride, byteCount: stride)
            if let nf, let full = a.full {
                (nf.base + i * dimension * 4).copyMemory(from: full.base + old * dimension * 4, byteCount: dimension * 4)
            }
            kp[i] = g.keys[old]
            newMap.insert(UInt32(i), keyOf: { kp[Int($0)] })
            let level = Int(g.levels[old])
            lp[i] = UInt8(level)
            sp[i] = NodeState.live
            usp[i] = UInt32(used)
            copyList(g.links(oldID, 0), l0p + i * row0)
            for l in 1..<(level + 1) { copyList(g.links(oldID, l), up + (used + l - 1) * rowU) }
            used += level
            if oldID == UInt32(truncatingIfNeeded: oldEntry) && oldEntry != Self.emptyEntry {
                best = (level, UInt32(i))
            }
        }
        // A removed entry point is replaced by the first live node of the highest level.
        let top = liveIDs.reduce(-1) { max($0, Int(g.levels[Int($1)])) }
        if best == nil || best!.level < top, let first = liveIDs.firstIndex(where: { Int(g.levels[Int($0)]) == top }) {
            best = (top, UInt32(first))
        }
        a.vectors = nv
        a.full = nf
        a.keys = nk
        a.levels = nl
        a.states = ns
        a.upperStart = nus
        a.links0 = n0
        a.upper = nu
        a.lockBytes = locks
        a.capacity = cap
        a.upperCapacity = max(rows, 16)
        counts.withLock { c in
            c.upperUsed = used
            c.nodeCount = m
            c.keyMap = newMap
            c.liveCount = m
        }
        entry.store(best.map { UInt64($0.level) << 32 | UInt64($0.id) } ?? Self.emptyEntry, ordering: .releasing)
        pool.drain()
    }

    /// Checks the graph's invariants (for tests): link counts within bounds, targets in range
    /// and never the node itself, the entry point on the top level, live count and key map
    /// consistent with the node states. Returns a description of the first violation, or nil.
    func checkInvariants() -> String? {
        structure.withShared { a in
            let g = view(a)
            let n = counts.withLock { $0.nodeCount }
            var top = -1
            var live = 0
            for i in 0..<n {
                let id = UInt32(i)
                let level = Int(g.levels[i])
                top = max(top, level)
                if g.state(id) == NodeState.live {
                    live += 1
                    if counts.withLock({ $0.keyMap.find(g.keys[i], keyOf: { g.keys[Int($0)] }) }) != id { return "key map disagrees at node \(i)" }
                } else if g.state(id) != NodeState.deleted {
                    return "node \(i) in state \(g.state(id))"
                }
                for l in 0...level {
                    let list = g.links(id, l)
                    let c = Int(list[0])
                    if c > g.maxLinks(l) { return "node \(i) has \(c) links on layer \(l)" }
                    for j in 1..<(c + 1) {
                        let t = list[j]
                        if Int(t) >= n || t == id { return "node \(i) layer \(l) links to \(t)" }
                        if Int(g.levels[Int(t)]) < l { return "node \(i) layer \(l) links to \(t) of level \(g.levels[Int(t)])" }
                    }
                }
            }
            let counted = counts.withLock { $0.liveCount }
            if live != counted { return "live count \(live) vs \(counted)" }
            let ep = entry.load(ordering: .acquiring)
            if n == 0 { return ep == Self.emptyEntry ? nil : "entry point in an empty graph" }
            if Int(ep >> 32) != top || Int(g.levels[Int(ep & 0xFFFF_FFFF)]) != top { return "entry point not on the top level" }
            return nil
        }
    }
}
