import KestrelTensor

extension HNSWIndex {
    /// The `k` nearest live vectors to `query` with the default ``efSearch``.
    /// See ``search(_:k:ef:filter:)``.
    public func search(
        _ query: UnsafeBufferPointer<Float>, k: Int, filter: ((UInt64) -> Bool)?
    ) throws(KestrelError) -> [SearchResult] {
        try search(query, k: k, ef: nil, filter: filter)
    }

    /// The `k` nearest live vectors to `query`, sorted by distance.
    ///
    /// - Parameters:
    ///   - ef: beam width for this query (default ``efSearch``); raised to `k` when smaller.
    ///   - filter: only keys for which it returns true are returned. The pass rate is estimated
    ///     on a sample of ≤ 256 nodes: below ``HNSWParameters/exactSearchSelectivity`` the passing
    ///     vectors are scanned exactly (full recall), otherwise the graph is walked with the beam
    ///     widened to `k / passRate` so selective filters keep their recall. Called on the
    ///     searching thread, possibly many times.
    /// - Returns: at most `k` results (all live matches when fewer), `[]` on an empty index.
    /// - Throws: `invalidArgument` (k ≤ 0, ef ≤ 0, zero query under cosine, non-binary hamming
    ///   component), `dimensionMismatch`, `nonFiniteValue`.
    /// - Complexity: about O(ef · M · log N · dim); no allocation beyond the returned array once
    ///   the scratch pool is warm. Thread-safe (see the type's documentation).
    public func search(
        _ query: UnsafeBufferPointer<Float>, k: Int, ef: Int?, filter: ((UInt64) -> Bool)? = nil
    ) throws(KestrelError) -> [SearchResult] {
        try checkSearchArguments(count: query.count, k: k, ef: ef, batch: false)
        return try structure.withShared { () throws(KestrelError) -> [SearchResult] in
            let scratch = pool.take(nodes: capacity, bytes: scratchBytes)
            defer { pool.give(scratch) }
            return try searchLocked(query.baseAddress!, k: k, ef: ef ?? efSearch, filter: filter, scratch: scratch)
        }
    }

    /// Searches `queries.count / dimension` row-major queries on `threads` threads.
    public func search(
        batch queries: UnsafeBufferPointer<Float>, k: Int, threads: Int,
        filter: (@Sendable (UInt64) -> Bool)?
    ) throws(KestrelError) -> [[SearchResult]] {
        try search(batch: queries, k: k, ef: nil, threads: threads, filter: filter)
    }

    /// Searches `queries.count / dimension` row-major queries on `threads` threads (each query
    /// as ``search(_:k:ef:filter:)``); result `i` belongs to row `i`.
    /// - Throws: as the single search, plus `invalidArgument` for threads < 1 and
    ///   `dimensionMismatch` when `queries.count` is not a multiple of `dimension`. The first
    ///   invalid row (lowest index) is reported, and then no results are returned.
    public func search(
        batch queries: UnsafeBufferPointer<Float>, k: Int, ef: Int?, threads: Int,
        filter: (@Sendable (UInt64) -> Bool)? = nil
    ) throws(KestrelError) -> [[SearchResult]] {
        try checkSearchArguments(count: queries.count, k: k, ef: ef, batch: true)
        guard threads >= 1 else { throw .invalidArgument(name: "threads", reason: "must be ≥ 1, got \(threads)") }
        let d = dimension
        let nq = queries.count / d
        if nq == 0 { return [] }
        let row = UnsafeMutablePointer<Float>.allocate(capacity: d)
        defer { row.deallocate() }
        let c = structure.withShared { codec }
        for r in 0..<nq { try c.prepare(queries.baseAddress! + r * d, rowIndex: r, into: row) }

        let out = UnsafeMutableBufferPointer<[SearchResult]>.allocate(capacity: nq)
        out.initialize(repeating: [])
        defer { out.deinitialize().deallocate() }
        let results = SendableBuffer(out)
        let qs = SendablePointer(queries.baseAddress!)
        let efValue = ef ?? efSearch
        structure.withShared {
            let cap = capacity
            let bytes = scratchBytes
            let workers = min(threads, nq, Parallel.maxThreads)
            // Unfiltered batches run in locality order: queries whose greedy descent ends at the
            // same or a nearby layer-0 entry node (ids are close after optimizeLayout()) walk the
            // same part of the graph, so running them back to back finds its vectors in cache.
            // Results still land at their queries' positions.
            let order = filter == nil && nq >= Self.localityBatchMinimum
                ? localityOrder(qs.pointer, count: nq, threads: workers) : nil
            let sendableOrder = order.map { SendableArray($0) }
            let scratches = SendableArray((0..<workers).map { _ in pool.take(nodes: cap, bytes: bytes) })
            Parallel.forEach(count: nq, threads: workers, chunk: 8) { [self] j, t in
                let i = sendableOrder?.values[j] ?? j
                // Rows were validated above, so this cannot throw.
                results.buffer[i] = (try? searchLocked(qs.pointer + i * d, k: k, ef: efValue, filter: filter,
                                                       scratch: scratches.values[t])) ?? []
            }
            scratches.values.forEach(pool.give)
        }
        return Array(out)
    }

    func checkSearchArguments(count: Int, k: Int, ef: Int?, batch: Bool) throws(KestrelError) {
        guard k > 0 else { throw .invalidArgument(name: "k", reason: "must be ≥ 1, got \(k)") }
        if let ef, ef < 1 { throw .invalidArgument(name: "ef", reason: "must be ≥ 1, got \(ef)") }
        if batch {
            guard count % dimension == 0 else {
                throw .dimensionMismatch(expected: [-1, dimension], actual: [count])
            }
        } else {
            guard count == dimension else {
                throw .dimensionMismatch(expected: [dimension], actual: [count])
            }
        }
    }

    /// Batches at least this large are searched in locality order (see ``localityOrder``).
    static let localityBatchMinimum = 64

    /// Query rows sorted by the layer-0 node their greedy descent reaches (structure lock held
    /// shared). Costs one upper-layer descent per query (a few distance computations on the few
    /// nodes of the upper layers, which stay in cache).
    func localityOrder(_ queries: UnsafePointer<Float>, count nq: Int, threads: Int) -> [Int] {
        let ep = entry.load(ordering: .acquiring)
        if ep == Self.emptyEntry || Int(ep >> 32) == 0 { return Array(0..<nq) }
        var packed = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: nq)
        defer { packed.deallocate() }
        let out = SendableBuffer(packed)
        let cap = capacity
        let bytes = scratchBytes
        let d = dimension
        let qs = SendablePointer(queries)
        let scratches = SendableArray((0..<threads).map { _ in pool.take(nodes: cap, bytes: bytes) })
        Parallel.forEach(count: nq, threads: threads, chunk: 64) { [self] i, t in
            var node = UInt32(truncatingIfNeeded: ep)
            if let q = try? prepareQuery(qs.pointer + i * d, scratch: scratches.values[t]) {
                node = descend(q, view, from: ep).node
            }
            out.buffer[i] = UInt64(node) << 32 | UInt64(i)
        }
        scratches.values.forEach(pool.give)
        packed.sort()
        return packed.map { Int($0 & 0xFFFF_FFFF) }
    }

    /// Greedy descent (ef = 1) from the entry point `ep` (level in the high word) down to layer 1:
    /// the layer-0 entry node for `q` and its distance.
    @inline(__always)
    func descend(_ q: UnsafeRawPointer, _ g: GraphView, from ep: UInt64) -> (node: UInt32, dist: Float) {
        var cur = UInt32(truncatingIfNeeded: ep)
        var dist = g.scorer(q, g.vector(cur))
        var l = Int(ep >> 32)
        while l > 0 {
            g.greedy(q, cur: &cur, dist: &dist, level: l)
            l -= 1
        }
        return (cur, dist)
    }

    /// Prepares (normalises, validates) `query` into the scratch and returns the pointer the
    /// scorer takes: the prepared floats for f32 storage, else the query's code.
    @inline(__always)
    func prepareQuery(_ query: UnsafePointer<Float>, scratch: SearchScratch) throws(KestrelError) -> UnsafeRawPointer {
        _ = scratch.begin(nodes: capacity, bytes: scratchBytes, words: 4 * (maxM0 + 1))
        let prepared = scratch.bytes.assumingMemoryBound(to: Float.self)
        try codec.prepare(query, rowIndex: 0, into: prepared)
        if storage == .f32 { return UnsafeRawPointer(prepared) }
        codec.encode(prepared, into: scratch.bytes + codeOffset)
        return UnsafeRawPointer(scratch.bytes + codeOffset)
    }

    /// Scratch bytes of one search: prepared query (f32), then its code, 64-byte aligned.
    var scratchBytes: Int { codeOffset + codec.stride + 64 }
    var codeOffset: Int { (dimension * 4 + 63) & ~63 }

    /// One query, structure lock held shared.
    func searchLocked(
        _ query: UnsafePointer<Float>, k: Int, ef: Int, filter: ((UInt64) -> Bool)?, scratch: SearchScratch
    ) throws(KestrelError) -> [SearchResult] {
        let q = try prepareQuery(query, scratch: scratch)
        let prepared = UnsafePointer(scratch.bytes.assumingMemoryBound(to: Float.self))
        let live = alloc.withLock { liveCount }
        let ep = entry.load(ordering: .acquiring)
        if live == 0 || ep == Self.emptyEntry { return [] }
        let g = view
        var beam = max(ef, k)
        if let filter {
            let passRate = estimatePassRate(filter, g)
            if passRate < parameters.exactSearchSelectivity || passRate == 0 {
                return exactScan(q, prepared: prepared, k: k, filter: filter, g: g, scratch: scratch)
            }
            // Widen in Double and bound before converting: k / passRate can exceed Int (k = Int.max).
            let bound = max(nodeCount, k)
            let widened = (Double(k) / passRate).rounded(.up)
            beam = min(max(beam, widened >= Double(bound) ? bound : Int(widened)), bound)
        }
        let (cur, dist) = descend(q, g, from: ep)
        let epoch = scratch.nextEpoch()
        if let filter {
            g.searchLayer(q, entry: cur, entryDist: dist, ef: beam, level: 0, scratch: scratch, epoch: epoch,
                          accept: AcceptFiltered(filter: filter))
        } else if live == nodeCount {
            // No tombstones (a remove that finished before this search decremented `live`).
            g.searchLayer(q, entry: cur, entryDist: dist, ef: beam, level: 0, scratch: scratch, epoch: epoch,
                          accept: AcceptAll())
        } else {
            g.searchLayer(q, entry: cur, entryDist: dist, ef: beam, level: 0, scratch: scratch, epoch: epoch,
                          accept: AcceptLive())
        }
        return finish(&scratch.results, k: k, prepared: prepared, g: g)
    }

    /// Turns a result heap into sorted results, re-ranking with the kept f32 vectors when present.
    func finish(_ heap: inout PackedHeap, k: Int, prepared: UnsafePointer<Float>, g: GraphView) -> [SearchResult] {
        var sorted = heap.sortedAscending()
        if let full {
            let fb = UnsafeRawPointer(full.base)
            let rowBytes = dimension * 4
            let ex = exactScorer
            let depth = rerankDepth
            // Candidates come best-first by code distance: re-score the first `depth` exactly.
            let m = depth == 0 ? sorted.count : min(sorted.count, max(k, depth))
            for i in 0..<m {
                let id = packedID(sorted[i])
                sorted[i] = pack(ex(UnsafeRawPointer(prepared), fb + Int(id) * rowBytes), id)
            }
            if m < sorted.count {
                sorted = UnsafeMutableBufferPointer(rebasing: sorted[0..<m])
            }
            sorted.sort()
        }
        let n = min(k, sorted.count)
        var out = [SearchResult]()
        out.reserveCapacity(n)
        for i in 0..<n {
            out.append(SearchResult(key: g.keys[Int(packedID(sorted[i]))], distance: packedDistance(sorted[i])))
        }
        heap.clear()
        return out
    }

    /// Fraction of ≤ 256 evenly spaced live nodes whose key passes `filter`.
    func estimatePassRate(_ filter: (UInt64) -> Bool, _ g: GraphView) -> Double {
        let n = nodeCount
        let samples = min(n, 256)
        var seen = 0
        var passed = 0
        for s in 0..<samples {
            let id = UInt32(s * n / samples)
            guard g.state(id) == NodeState.live else { continue }
            seen += 1
            if filter(g.keys[Int(id)]) { passed += 1 }
        }
        return seen == 0 ? 0 : Double(passed) / Double(seen)
    }

    /// Exact top-k over every live node that passes `filter` (the fallback for selective filters).
    func exactScan(
        _ q: UnsafeRawPointer, prepared: UnsafePointer<Float>, k: Int, filter: (UInt64) -> Bool,
        g: GraphView, scratch: SearchScratch
    ) -> [SearchResult] {
        var heap = scratch.results
        heap.clear()
        let n = nodeCount
        let fullRows = full.map { UnsafeRawPointer($0.base) }
        let rowBytes = dimension * 4
        let ex = exactScorer
        for i in 0..<n {
            let id = UInt32(i)
            guard g.state(id) == NodeState.live, filter(g.keys[i]) else { continue }
            let d = fullRows.map { ex(UnsafeRawPointer(prepared), $0 + i * rowBytes) } ?? g.scorer(q, g.vector(id))
            if heap.count < k {
                heap.push(pack(d, id))
            } else if pack(d, id) < heap.top {
                heap.replaceTop(pack(d, id))
            }
        }
        let sorted = heap.sortedAscending()
        let out = sorted.map { SearchResult(key: g.keys[Int(packedID($0))], distance: packedDistance($0)) }
        heap.clear()
        scratch.results = heap
        return out
    }
}

/// An unsafe buffer handed to worker threads that write disjoint elements.
struct SendableBuffer<T>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<T>
    init(_ b: UnsafeMutableBufferPointer<T>) { buffer = b }
}

/// An array handed to worker threads that only read it.
struct SendableArray<T>: @unchecked Sendable {
    let values: [T]
    init(_ v: [T]) { values = v }
}

/// A pointer handed to worker threads that only read through it.
struct SendablePointer<T>: @unchecked Sendable {
    let pointer: UnsafePointer<T>
    init(_ p: UnsafePointer<T>) { pointer = p }
}

extension HNSWIndex {
    /// Array form of ``search(_:k:ef:filter:)-(UnsafeBufferPointer<Float>,_,_,_)``.
    public func search(_ query: [Float], k: Int, ef: Int?, filter: ((UInt64) -> Bool)? = nil) throws(KestrelError) -> [SearchResult] {
        try withBuffer(query) { (b) throws(KestrelError) in try search(b, k: k, ef: ef, filter: filter) }
    }

    /// Array form of the batch search with a per-call beam width.
    public func search(
        batch queries: [Float], k: Int, ef: Int?, threads: Int = 1, filter: (@Sendable (UInt64) -> Bool)? = nil
    ) throws(KestrelError) -> [[SearchResult]] {
        try withBuffer(queries) { (b) throws(KestrelError) in try search(batch: b, k: k, ef: ef, threads: threads, filter: filter) }
    }
}
