import Atomics
import Foundation
import KestrelTensor

/// Construction and search parameters of an ``HNSWIndex``.
public struct HNSWParameters: Sendable, Equatable {
    /// Links per node on layers ≥ 1 (layer 0 keeps up to `2 * M`). 2…256. Larger M: better recall
    /// at high dimension, more memory (`8 * M + 4` bytes per node on layer 0) and slower inserts.
    public var M: Int
    /// Beam width while inserting (raised to at least M). Larger: better graph, slower build.
    public var efConstruction: Int
    /// Default beam width of searches (raised to k per query; override per call with `ef:`).
    public var efSearch: Int
    /// Fill pruned neighbour lists back up to their capacity with the candidates the heuristic
    /// discarded (Malkov & Yashunin's keepPrunedConnections).
    public var keepPrunedConnections: Bool
    /// Keep the original f32 vectors beside a lossy code and re-rank every search's `ef`
    /// candidates with exact distances (costs `4 * dimension` bytes per vector).
    public var keepFullPrecision: Bool
    /// Filtered searches whose estimated pass rate (sampled) is below this fraction scan the
    /// passing vectors exactly instead of walking the graph.
    public var exactSearchSelectivity: Double
    /// Seed of the level generator (levels are a pure function of seed and node id).
    public var seed: UInt64

    /// Creates parameters; defaults M = 16, efConstruction = 200, efSearch = 64.
    public init(
        M: Int = 16, efConstruction: Int = 200, efSearch: Int = 64, keepPrunedConnections: Bool = false,
        keepFullPrecision: Bool = false, exactSearchSelectivity: Double = 0.02, seed: UInt64 = 0x4B45_5354_5245_4C00
    ) {
        self.M = M
        self.efConstruction = efConstruction
        self.efSearch = efSearch
        self.keepPrunedConnections = keepPrunedConnections
        self.keepFullPrecision = keepFullPrecision
        self.exactSearchSelectivity = exactSearchSelectivity
        self.seed = seed
    }

    func validated() throws(KestrelError) -> HNSWParameters {
        guard (2...256).contains(M) else { throw .invalidArgument(name: "M", reason: "must be in 2...256, got \(M)") }
        guard efConstruction >= 1 else { throw .invalidArgument(name: "efConstruction", reason: "must be ≥ 1, got \(efConstruction)") }
        guard efSearch >= 1 else { throw .invalidArgument(name: "efSearch", reason: "must be ≥ 1, got \(efSearch)") }
        guard exactSearchSelectivity >= 0 && exactSearchSelectivity <= 1 else {
            throw .invalidArgument(name: "exactSearchSelectivity", reason: "must be in 0...1")
        }
        var p = self
        p.efConstruction = max(efConstruction, M)
        return p
    }
}

/// Approximate nearest-neighbour search with a Hierarchical Navigable Small World graph
/// (Malkov & Yashunin 2018).
///
/// Each vector gets a level `⌊−ln(U) · mL⌋` with `mL = 1 / ln M`; it is linked to up to `M`
/// neighbours on each layer above 0 and up to `2M` on layer 0, chosen with the diversity
/// heuristic. Searches descend greedily from the top entry point and run a beam of width `ef`
/// on layer 0. The graph lives in flat arrays indexed by node id (no object per node), the
/// vectors in one 64-byte-aligned buffer encoded by the chosen ``VectorStorageKind``.
///
/// **Thread-safety** (`@unchecked Sendable`, checked by a ThreadSanitizer test): any number of
/// searches and inserts may run at once.
/// - A reader–writer *structure lock* is held shared by searches and by the linking phase of
///   inserts, and exclusively only while ids are allocated and vectors written (short), when the
///   arrays grow, during ``compact()`` and training.
/// - Each node has a one-byte spin lock taken by inserts that rewrite its links; searches never
///   lock nodes — link words are published with release stores and read with acquire loads.
/// - Keys, counts and the key map sit behind a mutex; the entry point is an atomic word.
/// A search that overlaps an insert may or may not see the new vector; a search overlapping the
/// replacement of a key may briefly see neither version. Removed keys are never returned.
///
/// Removal leaves a tombstone that still routes searches; ``compact()`` drops tombstones,
/// repairs the links that pointed at them and renumbers the nodes.
public final class HNSWIndex: VectorIndex, @unchecked Sendable {
    /// Components per vector (bits for hamming).
    public let dimension: Int
    /// The ranking distance.
    public let metric: DistanceMetric
    /// The codec vectors are stored with.
    public let storage: VectorStorageKind
    /// Parameters as validated (efConstruction raised to M).
    public let parameters: HNSWParameters

    let maxM: Int
    let maxM0: Int
    let levelMultiplier: Double
    static let maxLevel = 30
    static let emptyEntry = UInt64.max

    // Structure: replaced only under `structure` held exclusively.
    let structure = StructureLock()
    var codec: VectorCodec
    var scorer: Scorer
    var exactScorer: Scorer
    var capacity = 0
    var upperCapacity = 0
    var vectors: MemoryRegion
    var full: MemoryRegion?
    var links0: MemoryRegion
    var upperStart: MemoryRegion
    var upper: MemoryRegion
    var levels: MemoryRegion
    var states: MemoryRegion
    var keys: MemoryRegion
    var lockBytes: MemoryRegion
    /// Node ids in use (live, deleted, or being linked); grows only under the exclusive lock.
    var nodeCount = 0
    var upperUsed = 0
    /// True for an index loaded with memory mapping: all mutation throws.
    public internal(set) var isReadOnly = false

    // Guarded by `alloc`.
    let alloc = PlainLock()
    var liveCount = 0
    var keyMap = KeyTable()

    let entry = ManagedAtomic<UInt64>(HNSWIndex.emptyEntry)
    let entryLock = PlainLock()
    private let efSearchValue: ManagedAtomic<Int>
    private let rerankDepthValue = ManagedAtomic<Int>(0)
    let pool = ScratchPool()

    /// Creates an empty index.
    /// - Parameters:
    ///   - dimension: components per vector (bits for `.hamming`), 1…1048576.
    ///   - metric: ranking distance.
    ///   - storage: vector codec; `.hamming` requires `.binary`. `.int8` and `.binary` on real
    ///     vectors are trained on the first batch added (or call ``train(_:)``).
    ///   - parameters: graph parameters (validated).
    ///   - capacity: nodes to allocate up front (the arrays grow on demand either way).
    /// - Throws: `invalidArgument` for bad parameters or codec/metric combinations.
    public init(
        dimension: Int, metric: DistanceMetric = .l2Squared, storage: VectorStorageKind = .f32,
        parameters: HNSWParameters = HNSWParameters(), capacity: Int = 0
    ) throws(KestrelError) {
        try VectorCodec.validate(kind: storage, metric: metric, dimension: dimension)
        let p = try parameters.validated()
        guard capacity >= 0 else { throw .invalidArgument(name: "capacity", reason: "must be ≥ 0") }
        self.dimension = dimension
        self.metric = metric
        self.storage = storage
        self.parameters = p
        maxM = p.M
        maxM0 = 2 * p.M
        levelMultiplier = 1 / log(Double(p.M))
        codec = VectorCodec(kind: storage, metric: metric, dimension: dimension)
        scorer = codec.scorer()
        exactScorer = codec.exactScorer()
        efSearchValue = ManagedAtomic(p.efSearch)
        let empty = try MemoryRegion(zeroedBytes: 0)
        vectors = empty
        links0 = empty
        upperStart = empty
        upper = empty
        levels = empty
        states = empty
        keys = empty
        lockBytes = empty
        full = nil
        try structure.withExclusive { () throws(KestrelError) in
            try growLocked(nodes: max(capacity, 16), upperRows: max(16, capacity / max(1, p.M - 1) + 16))
        }
    }

    /// Default beam width of searches (≥ 1; a search raises it to k). Thread-safe.
    public var efSearch: Int {
        get { efSearchValue.load(ordering: .relaxed) }
        set { efSearchValue.store(max(1, newValue), ordering: .relaxed) }
    }

    /// With kept f32 vectors (``HNSWParameters/keepFullPrecision``): how many of a search's best
    /// candidates by code distance are re-scored exactly — `max(k, rerankDepth)`, or every one of
    /// the `ef` candidates when 0 (the default). A small depth (2k–4k) reads fewer f32 rows per
    /// query, which matters when they stay in the file (see ``load(from:mapped:mapFullPrecision:verifyChecksums:)``).
    /// Not saved with the index. Thread-safe (an atomic; searches read it once).
    public var rerankDepth: Int {
        get { rerankDepthValue.load(ordering: .relaxed) }
        set { rerankDepthValue.store(max(0, newValue), ordering: .relaxed) }
    }

    /// Number of live vectors.
    public var count: Int { alloc.withLock { liveCount } }

    /// Number of tombstones (removed vectors still in the graph until ``compact()``).
    public var tombstoneCount: Int {
        structure.withShared { alloc.withLock { nodeCount - liveCount } }
    }

    /// Bytes held in heap memory: vector codes (+ kept f32 vectors), links, per-node bytes and the
    /// key map (4 bytes per slot, ≤ 80 % full), all at allocated capacity; memory-mapped parts
    /// count 0 (see ``memoryUsage()``).
    public var bytesUsed: Int {
        structure.withShared {
            let regions = [vectors, links0, upperStart, upper, levels, states, keys, lockBytes] + (full.map { [$0] } ?? [])
            let arrays = regions.reduce(0) { $0 + ($1.isMapped ? 0 : $1.byteCount) }
            let mapBytes = alloc.withLock { keyMap.byteCount }
            return arrays + mapBytes + codec.offsets.count * 4
        }
    }

    /// Bytes of the encoded vectors alone (capacity × row stride), without kept f32 vectors.
    public var vectorBytes: Int { structure.withShared { capacity * codec.stride } }

    /// Where the index's bytes are: process heap versus read-only file mapping, and how much of
    /// each mapped part is resident in memory right now (`mincore`, Linux and Darwin).
    /// - Complexity: O(mapped pages) for the residency query. Thread-safe.
    public func memoryUsage() -> IndexMemoryUsage {
        structure.withShared {
            func heap(_ r: MemoryRegion?) -> Int { r.map { $0.isMapped ? 0 : $0.byteCount } ?? 0 }
            func mapped(_ r: MemoryRegion?) -> Int { r.map { $0.isMapped ? $0.byteCount : 0 } ?? 0 }
            let graph = [links0, upperStart, upper, levels, states, keys, lockBytes]
            let mapBytes = alloc.withLock { keyMap.byteCount }
            return IndexMemoryUsage(
                codeHeapBytes: heap(vectors), codeMappedBytes: mapped(vectors),
                fullPrecisionHeapBytes: heap(full), fullPrecisionMappedBytes: mapped(full),
                fullPrecisionResidentBytes: full.map { $0.isMapped ? $0.residentBytes() : 0 } ?? 0,
                graphHeapBytes: graph.reduce(0) { $0 + heap($1) } + mapBytes + codec.offsets.count * 4,
                graphMappedBytes: graph.reduce(0) { $0 + mapped($1) })
        }
    }

    var view: GraphView {
        let prefetch = PrefetchPlan.graphPrefetch
        return GraphView(
            vectors: vectors.base, stride: codec.stride,
            links0: links0.base.assumingMemoryBound(to: UInt32.self), row0: 1 + maxM0,
            upper: upper.base.assumingMemoryBound(to: UInt32.self), rowU: 1 + maxM,
            upperStart: upperStart.base.assumingMemoryBound(to: UInt32.self),
            levels: levels.base.assumingMemoryBound(to: UInt8.self),
            states: states.base.assumingMemoryBound(to: UInt8.self),
            keys: keys.base.assumingMemoryBound(to: UInt64.self),
            locks: NodeLocks(bytes: lockBytes.base.assumingMemoryBound(to: UnsafeAtomic<UInt8>.Storage.self)),
            scorer: scorer, maxM: maxM, maxM0: maxM0, keepPruned: parameters.keepPrunedConnections,
            prefetchAhead: prefetch.ahead, prefetchLines: min(prefetch.maxLines, (codec.stride + 63) >> 6))
    }

    /// The level of node `id`: a pure function of the seed and the id, distributed as
    /// `⌊−ln(U) · mL⌋`, capped at 30.
    func level(for id: Int) -> Int {
        var z = parameters.seed &+ UInt64(id) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let u = (Double(z >> 11) + 1) / 9_007_199_254_740_992.0  // (0, 1]
        return min(Self.maxLevel, Int(-log(u) * levelMultiplier))
    }

    // MARK: Capacity

    /// Ensures room for `nodes` vectors without further allocation.
    /// - Throws: `capacityExceeded` past 2³² − 2 nodes or when memory runs out; `invalidArgument` when read-only.
    public func reserve(capacity nodes: Int) throws(KestrelError) {
        guard !isReadOnly else { throw Self.readOnlyError }
        try structure.withExclusive { () throws(KestrelError) in
            try growLocked(nodes: nodes, upperRows: upperUsed + max(0, nodes - nodeCount) / max(1, maxM - 1) + 16)
        }
    }

    static let readOnlyError = KestrelError.readOnly(reason: "the index is memory-mapped read-only (load it without mapping to change it)")

    /// Grows the arrays to at least `nodes` nodes and `upperRows` upper-layer rows (exclusive lock held).
    func growLocked(nodes: Int, upperRows: Int) throws(KestrelError) {
        guard nodes < Int(UInt32.max) - 1 else { throw .capacityExceeded(limit: Int(UInt32.max) - 2, requested: nodes) }
        if nodes > capacity {
            // All per-node arrays together must fit, checked before any of them is reallocated.
            let fullBytes = parameters.keepFullPrecision ? dimension * 4 : 0
            _ = try SizeCheck.bytes(nodes, codec.stride + fullBytes + (1 + maxM0) * 4 + 15)
            let n = nodeCount
            func regrow(_ r: MemoryRegion, _ elem: Int) throws(KestrelError) -> MemoryRegion {
                try MemoryRegion(copying: r.base, byteCount: n * elem, capacityBytes: nodes * elem)
            }
            vectors = try regrow(vectors, codec.stride)
            if parameters.keepFullPrecision && storage.isLossy && metric != .hamming {
                if let f = full {
                    full = try regrow(f, dimension * 4)
                } else {
                    full = try MemoryRegion(zeroedBytes: nodes * dimension * 4)
                }
            }
            links0 = try regrow(links0, (1 + maxM0) * 4)
            upperStart = try regrow(upperStart, 4)
            levels = try regrow(levels, 1)
            states = try regrow(states, 1)
            keys = try regrow(keys, 8)
            lockBytes = try regrow(lockBytes, 1)
            capacity = nodes
            pool.drain()
        }
        if upperRows > upperCapacity {
            let row = (1 + maxM) * 4
            upper = try MemoryRegion(copying: upper.base, byteCount: upperUsed * row, capacityBytes: upperRows * row)
            upperCapacity = upperRows
        }
    }

    // MARK: Training

    /// Trains the `.int8` / `.binary` codec on sample vectors (`dimension` floats per row,
    /// row-major). Has no effect once trained (the first batch added trains it otherwise).
    /// - Throws: `dimensionMismatch`, `nonFiniteValue`, `invalidArgument` (read-only, empty sample).
    public func train(_ samples: [Float]) throws(KestrelError) {
        guard !isReadOnly else { throw Self.readOnlyError }
        guard !samples.isEmpty, samples.count % dimension == 0 else {
            throw .dimensionMismatch(expected: [-1, dimension], actual: [samples.count])
        }
        try withBuffer(samples) { (b) throws(KestrelError) in
            let prepared = try prepareSample(b, rows: b.count / dimension)
            structure.withExclusive { trainLocked(prepared) }
        }
    }

    /// Prepares (validates, normalises) up to 65536 evenly spaced rows for training.
    func prepareSample(_ b: UnsafeBufferPointer<Float>, rows: Int) throws(KestrelError) -> [Float] {
        let take = min(rows, 65536)
        var out = [Float](repeating: 0, count: take * dimension)
        let d = dimension
        let c = codec
        let base = b.baseAddress!
        try out.withUnsafeMutableBufferPointer { (o) throws(KestrelError) in
            for s in 0..<take {
                let r = take == rows ? s : s * rows / take
                try c.prepare(base + r * d, rowIndex: r, into: o.baseAddress! + s * d)
            }
        }
        return out
    }

    func trainLocked(_ prepared: [Float]) {
        guard !codec.isTrained else { return }
        prepared.withUnsafeBufferPointer { codec.train($0.baseAddress!, count: $0.count / dimension) }
        scorer = codec.scorer()
    }

    // MARK: Adding

    public func add(key: UInt64, vector: UnsafeBufferPointer<Float>) throws(KestrelError) {
        try add(keys: [key], vectors: vector, threads: 1)
    }

    /// Adds a batch of `keys.count` row-major vectors, linking them on `threads` threads
    /// (≥ 1; inserts are spread in id order over the threads as in a parallel build).
    /// - Throws: `dimensionMismatch`, `nonFiniteValue`, `invalidArgument` (duplicate keys in the
    ///   batch, zero vector under cosine, non-binary hamming component, threads < 1, read-only),
    ///   `capacityExceeded`. On a throw nothing was added.
    /// - Complexity: O(n · efConstruction · log N · M · dim) time; memory grows by the arrays only.
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
        // Validation pass: nothing is touched unless every row is acceptable.
        let d = dimension
        let base = src.baseAddress!
        let row = UnsafeMutablePointer<Float>.allocate(capacity: d)
        defer { row.deallocate() }
        for r in 0..<n { try codec.prepare(base + r * d, rowIndex: r, into: row) }
        let sample: [Float]? = codec.isTrained ? nil : try prepareSample(src, rows: n)

        let first: Int = try structure.withExclusive { () throws(KestrelError) -> Int in
            if let sample { trainLocked(sample) }
            let levelsNeeded = (0..<n).reduce(0) { $0 + level(for: nodeCount + $1) }
            let needNodes = nodeCount + n
            if needNodes > capacity || upperUsed + levelsNeeded > upperCapacity {
                let grownNodes = needNodes > capacity ? max(needNodes, n > 1 ? 0 : capacity * 2) : capacity
                let grownRows = max(upperUsed + levelsNeeded, n > 1 ? 0 : upperCapacity * 2)
                try growLocked(nodes: grownNodes, upperRows: max(grownRows, upperCapacity))
            }
            let g = view
            let first = nodeCount
            let c = codec
            let fullBase = full?.base.assumingMemoryBound(to: Float.self)
            alloc.lock()
            defer { alloc.unlock() }
            for r in 0..<n {
                let id = first + r
                // Cannot throw: validated above.
                try? c.prepare(base + r * d, rowIndex: r, into: row)
                c.encode(row, into: g.vectors + id * g.stride)
                fullBase.map { ($0 + id * d).update(from: row, count: d) }
                let lv = level(for: id)
                g.levels[id] = UInt8(lv)
                g.upperStart[id] = UInt32(upperUsed)
                upperUsed += lv
                g.keys[id] = newKeys[r]
                if let old = keyMap.insert(UInt32(id), keyOf: { g.keys[Int($0)] }) {
                    LinkAccess.store(g.states + Int(old), NodeState.deleted)
                    liveCount -= 1
                }
                LinkAccess.store(g.states + id, NodeState.live)
                liveCount += 1
            }
            nodeCount += n
            return first
        }
        structure.withShared {
            let g = view
            let cap = capacity
            let codeBytes = codec.stride
            Parallel.forEach(count: n, threads: threads, chunk: 1) { [self] i, _ in
                let scratch = pool.take(nodes: cap, bytes: codeBytes)
                _ = scratch.begin(nodes: cap, bytes: codeBytes, words: 4 * (maxM0 + 1))
                link(UInt32(first + i), g, scratch)
                pool.give(scratch)
            }
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
        let selected = scratch.words
        let work = scratch.words + (maxM0 + 1)
        l = min(level, top)
        while l >= 0 {
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
                for s in 0..<m {
                    g.connect(selected[s], to: id, level: l, scratch: scratch, work: work)
                }
                cur = packedID(sorted[0])
                dist = packedDistance(sorted[0])
            }
            res.clear()
            scratch.results = res
            l -= 1
        }
        if holdsEntryLock {
            if level > Int(entry.load(ordering: .acquiring) >> 32) {
                entry.store(UInt64(level) << 32 | UInt64(id), ordering: .releasing)
            }
            entryLock.unlock()
        }
    }

    // MARK: Removing

    @discardableResult
    public func remove(key: UInt64) throws(KestrelError) -> Bool {
        guard !isReadOnly else { throw Self.readOnlyError }
        return structure.withShared {
            alloc.withLock {
                let keys = self.keys.base.assumingMemoryBound(to: UInt64.self)
                guard let id = keyMap.remove(key, keyOf: { keys[Int($0)] }) else { return false }
                LinkAccess.store(states.base.assumingMemoryBound(to: UInt8.self) + Int(id), NodeState.deleted)
                liveCount -= 1
                return true
            }
        }
    }

    public func contains(key: UInt64) -> Bool {
        structure.withShared {
            let keys = self.keys.base.assumingMemoryBound(to: UInt64.self)
            return alloc.withLock { keyMap.find(key, keyOf: { keys[Int($0)] }) != nil }
        }
    }
}
