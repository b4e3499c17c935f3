/// Node states stored in one byte per node (read with acquire loads by searches).
enum NodeState {
    /// Slot allocated, vector not written yet.
    static let empty: UInt8 = 0
    /// Vector written; the node is (or is being) linked and may be returned.
    static let live: UInt8 = 1
    /// Tombstone: still traversed (it keeps the graph connected) but never returned.
    static let deleted: UInt8 = 2
}

/// Raw-pointer view of an HNSW graph, valid while the index's structure lock is held (shared).
/// Everything a search or an insert touches lives in flat arrays indexed by node id:
/// - `vectors`: encoded rows, `stride` bytes apart;
/// - `links0`: layer 0, `1 + maxM0` UInt32 per node: `[count, n_1, …, n_maxM0]`;
/// - `upper`: rows of `1 + maxM` UInt32 for layers ≥ 1; node `i` owns rows
///   `upperStart[i] ..< upperStart[i] + levels[i]` (layer `l` is row `upperStart[i] + l - 1`);
/// - `levels`, `states` (one byte each), `keys` (UInt64).
/// Link words are read with acquire loads and written with release stores under the node's
/// spin lock, so a search running beside inserts sees only published nodes.
struct GraphView: @unchecked Sendable {
    let vectors: UnsafeMutableRawPointer
    let stride: Int
    let links0: UnsafeMutablePointer<UInt32>
    let row0: Int
    let upper: UnsafeMutablePointer<UInt32>
    let rowU: Int
    let upperStart: UnsafeMutablePointer<UInt32>
    let levels: UnsafeMutablePointer<UInt8>
    let states: UnsafeMutablePointer<UInt8>
    let keys: UnsafeMutablePointer<UInt64>
    let locks: NodeLocks
    let scorer: Scorer
    let maxM: Int
    let maxM0: Int
    let keepPruned: Bool
    /// How many vectors ahead of the distance computation to prefetch, from the start-up
    /// prefetch plan (`PrefetchPlan.graphAhead`, 3 by the rule: 2–4 measured alike on 100k × 128
    /// f32; more whole rows in flight than that overflow the core's outstanding-miss slots).
    /// 0 turns every software prefetch of the walk off (vectors and link lists).
    let prefetchAhead: Int
    /// Cache lines of a vector to prefetch: the whole row up to the plan's `graphMaxLines` (16
    /// by the rule, 1 KiB). Measured on 100k × 128 f32 (interleaved rounds, one thread):
    /// prefetching all 8 lines of a row searches 1.2–1.4× faster than prefetching 2 and leaving
    /// the rest to the L2 streamer, which starts too late for rows that are read once.
    let prefetchLines: Int

    @inline(__always) func vector(_ id: UInt32) -> UnsafeRawPointer {
        UnsafeRawPointer(vectors + Int(id) &* stride)
    }

    /// The link list `[count, ids…]` of `id` on `level`.
    @inline(__always) func links(_ id: UInt32, _ level: Int) -> UnsafeMutablePointer<UInt32> {
        if level == 0 { return links0 + Int(id) &* row0 }
        return upper + (Int(upperStart[Int(id)]) + level - 1) &* rowU
    }

    @inline(__always) func maxLinks(_ level: Int) -> Int { level == 0 ? maxM0 : maxM }

    @inline(__always) func state(_ id: UInt32) -> UInt8 { LinkAccess.load(states + Int(id)) }

    // MARK: Greedy descent (ef = 1) on the upper layers

    /// Moves from `cur` towards `q` on `level` until no neighbour is closer.
    @inline(__always)
    func greedy(_ q: UnsafeRawPointer, cur: inout UInt32, dist: inout Float, level: Int) {
        var changed = true
        while changed {
            changed = false
            let list = links(cur, level)
            let n = Int(LinkAccess.load(list))
            var j = 1
            while prefetchAhead > 0 && j <= n {
                prefetch(vector(LinkAccess.load(list + j)), lines: prefetchLines)
                j += 1
            }
            j = 1
            while j <= n {
                let nb = LinkAccess.load(list + j)
                let d = scorer(q, vector(nb))
                if d < dist {
                    dist = d
                    cur = nb
                    changed = true
                }
                j += 1
            }
        }
    }

    // MARK: Beam search on one layer

    /// Best-first search of `level` from `entry`, keeping the `ef` nearest nodes that `accept`
    /// admits in `scratch.results` (a max-heap of packed pairs). Nodes not admitted are still
    /// expanded, so tombstones and filtered-out nodes keep the graph connected.
    /// - Complexity: O(visited · (maxLinks · dim)) time; no allocation once scratch is warm.
    @inline(__always)
    func searchLayer<A: NodeAcceptor>(
        _ q: UnsafeRawPointer, entry: UInt32, entryDist: Float, ef: Int, level: Int,
        scratch: SearchScratch, epoch: UInt16, accept: A
    ) {
        let visited = scratch.visited
        // Unvisited neighbours of the node being expanded (the first 2·(maxM0+1) words belong to link()).
        let fresh = scratch.words + 2 &* (maxM0 &+ 1)
        let lines = prefetchLines
        let ahead = prefetchAhead
        var cand = scratch.candidates
        var res = scratch.results
        cand.clear()
        res.clear()
        defer {
            scratch.candidates = cand
            scratch.results = res
        }
        visited[Int(entry)] = epoch
        var bound = Float.infinity
        if accept.admits(entry, self) {
            res.push(pack(entryDist, entry))
            bound = entryDist
        }
        cand.push(pack(entryDist, entry))
        while !cand.isEmpty {
            let top = cand.top
            let cd = packedDistance(top)
            if cd > bound && res.count >= ef { break }
            cand.pop()
            let list = links(packedID(top), level)
            let n = Int(LinkAccess.load(list))
            // The next node to expand is usually the new top: start loading its links now.
            if !cand.isEmpty { prefetchLinks(packedID(cand.top), level) }
            // Pass 1: collect the unvisited neighbours (the visited array is small and cached).
            var m = 0
            var j = 1
            while j <= n {
                let nb = LinkAccess.load(list + j)
                j += 1
                if visited[Int(nb)] == epoch { continue }
                visited[Int(nb)] = epoch
                if m < ahead { prefetch(vector(nb), lines: lines) }
                fresh[m] = nb
                m += 1
            }
            // Pass 2: distances, loading the vector `ahead` places in advance so a few cache
            // misses are always in flight without flooding the line-fill buffers.
            var i = 0
            while i < m {
                if ahead > 0 && i &+ ahead < m { prefetch(vector(fresh[i &+ ahead]), lines: lines) }
                let nb = fresh[i]
                i += 1
                let d = scorer(q, vector(nb))
                if res.count < ef || d < bound {
                    let p = pack(d, nb)
                    cand.push(p)
                    // A new nearest candidate is expanded next: fetch its links meanwhile.
                    if cand.top == p { prefetchLinks(nb, level) }
                    if accept.admits(nb, self) {
                        if res.count < ef {
                            res.push(p)
                        } else {
                            res.replaceTop(p)  // one sift instead of push + pop
                        }
                        bound = packedDistance(res.top)
                    }
                }
            }
        }
    }

    /// Prefetches every cache line of the link list of `id` on `level`.
    @inline(__always) func prefetchLinks(_ id: UInt32, _ level: Int) {
        if prefetchAhead == 0 { return }
        let p = UnsafeRawPointer(links(id, level))
        let bytes = (level == 0 ? row0 : rowU) &* 4
        prefetch(p)
        prefetch(p + (bytes &- 1))
        if bytes > 64 { prefetch(p + 64) }
    }

    // MARK: Neighbour selection (Malkov & Yashunin, algorithm 4)

    /// Picks at most `m` neighbours from `sorted` (packed pairs ascending by distance to the base
    /// node): a candidate is kept when it is closer to the base than to every neighbour kept so
    /// far, which spreads links over directions; with `keepPruned` the discarded candidates fill
    /// the remaining slots, closest first. Writes ids to `out`, returns how many.
    func selectNeighbors(_ sorted: UnsafeMutableBufferPointer<UInt64>, m: Int, out: UnsafeMutablePointer<UInt32>) -> Int {
        if sorted.count <= m {
            for i in 0..<sorted.count { out[i] = packedID(sorted[i]) }
            return sorted.count
        }
        var taken = 0
        for i in 0..<sorted.count {
            if taken >= m { break }
            let e = packedID(sorted[i])
            let de = packedDistance(sorted[i])
            let ve = vector(e)
            var good = true
            var s = 0
            while s < taken {
                if scorer(ve, vector(out[s])) < de {
                    good = false
                    break
                }
                s += 1
            }
            if good {
                out[taken] = e
                taken += 1
            }
        }
        if keepPruned && taken < m {
            for i in 0..<sorted.count {
                if taken >= m { break }
                let e = packedID(sorted[i])
                var already = false
                for s in 0..<taken where out[s] == e {
                    already = true
                    break
                }
                if !already {
                    out[taken] = e
                    taken += 1
                }
            }
        }
        return taken
    }

    /// Publishes `ids[0..<n]` as the link list of `node` on `level` (caller holds the node lock).
    @inline(__always)
    func writeLinks(_ node: UInt32, _ level: Int, _ ids: UnsafePointer<UInt32>, _ n: Int) {
        let list = links(node, level)
        for i in 0..<n { LinkAccess.store(list + 1 + i, ids[i]) }
        LinkAccess.store(list, UInt32(n))
    }

    /// Adds a back link `node → newNode` on `level`, pruning `node`'s list with the heuristic
    /// when it is full. `work` needs room for `maxLinks(level) + 1` ids.
    func connect(_ node: UInt32, to newNode: UInt32, level: Int, scratch: SearchScratch, work: UnsafeMutablePointer<UInt32>) {
        let cap = maxLinks(level)
        locks.lock(node)
        defer { locks.unlock(node) }
        let list = links(node, level)
        let n = Int(LinkAccess.load(list))
        var j = 1
        while j <= n {
            if LinkAccess.load(list + j) == newNode { return }
            j += 1
        }
        if n < cap {
            LinkAccess.store(list + 1 + n, newNode)
            LinkAccess.store(list, UInt32(n + 1))
            return
        }
        var heap = scratch.spare
        heap.clear()
        let base = vector(node)
        heap.push(pack(scorer(base, vector(newNode)), newNode))
        for j in 1..<(n + 1) {
            let e = LinkAccess.load(list + j)
            heap.push(pack(scorer(base, vector(e)), e))
        }
        let sorted = heap.sortedAscending()
        let kept = selectNeighbors(sorted, m: cap, out: work)
        heap.clear()
        scratch.spare = heap
        writeLinks(node, level, work, kept)
    }
}

/// Decides which reached nodes may enter a layer search's result set (statically dispatched).
protocol NodeAcceptor {
    func admits(_ id: UInt32, _ g: GraphView) -> Bool
}

/// Construction: every node is a valid neighbour (tombstones included, they keep paths short).
struct AcceptAll: NodeAcceptor {
    @inline(__always) func admits(_ id: UInt32, _ g: GraphView) -> Bool { true }
}

/// Queries: live nodes only.
struct AcceptLive: NodeAcceptor {
    @inline(__always) func admits(_ id: UInt32, _ g: GraphView) -> Bool { g.state(id) == NodeState.live }
}

/// Filtered queries: live nodes whose key passes the caller's predicate.
struct AcceptFiltered: NodeAcceptor {
    let filter: (UInt64) -> Bool
    @inline(__always) func admits(_ id: UInt32, _ g: GraphView) -> Bool {
        g.state(id) == NodeState.live && filter(g.keys[Int(id)])
    }
}

