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
/// **Thread-safety** (`@unchecked Sendable`; every claim below has a stress test, run under
/// ThreadSanitizer and AddressSanitizer in CI — see Documentation/Reliability.md, "Concurrency"):
/// every method may be called from any thread at any time.
/// - Searches (single, batch, filtered), inserts, removals, `contains` and `count` run
///   concurrently: they hold the reader–writer *structure lock* shared. An insert reserves its
///   node ids, writes its rows and links them within one shared hold.
/// - ``compact()``, ``optimizeLayout()``, ``save(to:)``, ``reserve(capacity:)``, ``train(_:)`` and
///   an insert that must grow the arrays hold it exclusively: they wait for running searches and
///   inserts to finish, and those started meanwhile wait for them. A renumbering therefore never
///   sees a half-linked node, and a saved file is a consistent snapshot.
/// - Each node has a one-byte spin lock taken by inserts that rewrite its links; searches never
///   lock nodes — link words are published with release stores and read with acquire loads.
/// - Counts and the key map sit behind a mutex; the entry point is an atomic word.
/// A search that overlaps an insert may or may not see the new vector; a search overlapping the
/// replacement of a key may see the old version, the new one or neither, but never returns a key
/// twice. A key whose `remove` has returned is never returned by a search that starts afterwards.
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

    // The lock discipline is in the types (Documentation/Reliability.md, "Concurrency"):
    // - `structure` owns the arrays and the codec (``GraphArrays``); they are reached only
    //   through `withShared` (searches, inserts, removals) or `withExclusive` (growth, training,
    //   compaction, renumbering, save, load). Inside the arrays, a node's row is written under the
    //   shared lock only by the insert that reserved the node; link words and states are atomics.
    // - `counts` owns the node and live counts and the key map (``NodeCounts``): a mutex, taken
    //   inside the structure lock or alone, never the structure lock inside it.
    // - The entry point is an atomic word; raising it is serialised by `entryLock`.
    let structure: SharedExclusive<GraphArrays>
    let counts = Guarded(NodeCounts())
    /// True for an index loaded with memory mapping: all mutation throws. Set by the loader
    /// before the index is handed out; never changes afterwards.
    public internal(set) var isReadOnly = false

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
        efSearchValue = ManagedAtomic(p.efSearch)
        structure = SharedExclusive(try GraphArrays(codec: VectorCodec(kind: storage, metric: metric, dimension: dimension)))
        try structure.withExclusive { (a) throws(KestrelError) in
            try growLocked(&a, nodes: max(capacity, 16), upperRows: max(16, capacity / max(1, p.M - 1) + 16))
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

    /// Number of live vectors. Thread-safe.
    public var count: Int { counts.withLock { $0.liveCount } }

    /// Number of tombstones (removed vectors still in the graph until ``compact()``). Thread-safe.
    public var tombstoneCount: Int {
        counts.withLock { $0.nodeCount - $0.liveCount - $0.reserved }
    }

    /// Bytes held in heap memory: vector codes (+ kept f32 vectors), links, per-node bytes and the
    /// key map (4 bytes per slot, ≤ 80 % full), all at allocated capacity; memory-mapped parts
    /// count 0 (see ``memoryUsage()``).
    public var bytesUsed: Int {
        structure.withShared { a in
            let arrays = a.regions.reduce(0) { $0 + ($1.isMapped ? 0 : $1.byteCount) }
            let mapBytes = counts.withLock { $0.keyMap.byteCount }
            return arrays + mapBytes + a.codec.offsets.count * 4
        }
    }

    /// Bytes of the encoded vectors alone (capacity × row stride), without kept f32 vectors.
    public var vectorBytes: Int { structure.withShared { $0.capacity * $0.codec.stride } }

    /// Where the index's bytes are: process heap versus read-only file mapping, and how much of
    /// each mapped part is resident in memory right now (`mincore`, Linux and Darwin).
    /// - Complexity: O(mapped pages) for the residency query. Thread-safe.
    public func memoryUsage() -> IndexMemoryUsage {
        structure.withShared { a in
            func heap(_ r: MemoryRegion?) -> Int { r.map { $0.isMapped ? 0 : $0.byteCount } ?? 0 }
            func mapped(_ r: MemoryRegion?) -> Int { r.map { $0.isMapped ? $0.byteCount : 0 } ?? 0 }
            let graph = [a.links0, a.upperStart, a.upper, a.levels, a.states, a.keys, a.lockBytes]
            let mapBytes = counts.withLock { $0.keyMap.byteCount }
            return IndexMemoryUsage(
                codeHeapBytes: heap(a.vectors), codeMappedBytes: mapped(a.vectors),
                fullPrecisionHeapBytes: heap(a.full), fullPrecisionMappedBytes: mapped(a.full),
                fullPrecisionResidentBytes: a.full.map { $0.isMapped ? $0.residentBytes() : 0 } ?? 0,
                graphHeapBytes: graph.reduce(0) { $0 + heap($1) } + mapBytes + a.codec.offsets.count * 4,
                graphMappedBytes: graph.reduce(0) { $0 + mapped($1) })
        }
    }

    /// Raw-pointer view of the arrays `a` (valid while the structure lock that handed them out is held).
    func view(_ a: GraphArrays) -> GraphView {
        let prefetch = PrefetchPlan.graphPrefetch
        return GraphView(
            vectors: a.vectors.base, stride: a.codec.stride,
            links0: a.links0.base.assumingMemoryBound(to: UInt32.self), row0: 1 + maxM0,
            upper: a.upper.base.assumingMemoryBound(to: UInt32.self), rowU: 1 + maxM,
            upperStart: a.upperStart.base.assumingMemoryBound(to: UInt32.self),
            levels: a.levels.base.assumingMemoryBound(to: UInt8.self),
            states: a.states.base.assumingMemoryBound(to: UInt8.self),
            keys: a.keys.base.assumingMemoryBound(to: UInt64.self),
            locks: NodeLocks(bytes: a.lockBytes.base.assumingMemoryBound(to: UnsafeAtomic<UInt8>.Storage.self)),
            scorer: a.scorer, maxM: maxM, maxM0: maxM0, keepPruned: parameters.keepPrunedConnections,
            prefetchAhead: prefetch.ahead, prefetchLines: min(prefetch.maxLines, (a.codec.stride + 63) >> 6))
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

    /// Ensures room for `nodes` vectors without further allocation. Waits for running searches
    /// and inserts (holds the structure lock exclusively).
    /// - Throws: `capacityExceeded` past 2³² − 2 nodes or when memory runs out; `invalidArgument` when read-only.
    public func reserve(capacity nodes: Int) throws(KestrelError) {
        guard !isReadOnly else { throw Self.readOnlyError }
        try structure.withExclusive { (a) throws(KestrelError) in
            let (used, n) = counts.withLock { ($0.upperUsed, $0.nodeCount) }
            try growLocked(&a, nodes: nodes, upperRows: used + max(0, nodes - n) / max(1, maxM - 1) + 16)
        }
    }

    static let readOnlyError = KestrelError.readOnly(reason: "the index is memory-mapped read-only (load it without mapping to change it)")

    /// Grows the arrays `a` (the structure lock held exclusively: the `inout` access) to at least
    /// `nodes` nodes and `upperRows` upper-layer rows.
    func growLocked(_ a: inout GraphArrays, nodes: Int, upperRows: Int) throws(KestrelError) {
        guard nodes < Int(UInt32.max) - 1 else { throw .capacityExceeded(limit: Int(UInt32.max) - 2, requested: nodes) }
        let (n, used) = counts.withLock { ($0.nodeCount, $0.upperUsed) }
        if nodes > a.capacity {
            // All per-node arrays together must fit, checked before any of them is reallocated.
            let fullBytes = parameters.keepFullPrecision ? dimension * 4 : 0
            _ = try SizeCheck.bytes(nodes, a.codec.stride + fullBytes + (1 + maxM0) * 4 + 15)
            func regrow(_ r: MemoryRegion, _ elem: Int) throws(KestrelError) -> MemoryRegion {
                try MemoryRegion(copying: r.base, byteCount: n * elem, capacityBytes: nodes * elem)
            }
            a.vectors = try regrow(a.vectors, a.codec.stride)
            if parameters.keepFullPrecision && storage.isLossy && metric != .hamming {
                if let f = a.full {
                    a.full = try regrow(f, dimension * 4)
                } else {
                    a.full = try MemoryRegion(zeroedBytes: nodes * dimension * 4)
                }
            }
            a.links0 = try regrow(a.links0, (1 + maxM0) * 4)
            a.upperStart = try regrow(a.upperStart, 4)
            a.levels = try regrow(a.levels, 1)
            a.states = try regrow(a.states, 1)
            a.keys = try regrow(a.keys, 8)
            a.lockBytes = try regrow(a.lockBytes, 1)
            a.capacity = nodes
            pool.drain()
        }
        if upperRows > a.upperCapacity {
            let row = (1 + maxM) * 4
            a.upper = try MemoryRegion(copying: a.upper.base, byteCount: used * row, capacityBytes: upperRows * row)
            a.upperCapacity = upperRows
        }
    }

    // MARK: Training

    /// Trains the `.int8` / `.binary` codec on sample vectors (`dimension` floats per row,
    /// row-major). Has no effect once trained (the first batch added trains it otherwise).
    /// Waits for running searches and inserts (holds the structure lock exclusively).
    /// - Throws: `dimensionMismatch`, `nonFiniteValue`, `invalidArgument` (read-only, empty sample).
    public func train(_ samples: [Float]) throws(KestrelError) {
        guard !isReadOnly else { throw Self.readOnlyError }
        guard !samples.isEmpty, samples.count % dimension == 0 else {
            throw .dimensionMismatch(expected: [-1, dimension], actual: [samples.count])
        }
        try withBuffer(samples) { (b) throws(KestrelError) in
            let c = structure.withShared { $0.codec }
            let prepared = try prepareSample(c, b, rows: b.count / dimension)
            structure.withExclusive { trainLocked(&$0, prepared) }
        }
    }

    /// Prepares (validates, normalises) with codec `c` up to 65536 evenly spaced rows for training.
    func prepareSample(_ c: VectorCodec, _ b: UnsafeBufferPointer<Float>, rows: Int) throws(KestrelError) -> [Float] {
        let take = min(rows, 65536)
        var out = [Float](repeating: 0, count: take * dimension)
        let d = dimension
        let base = b.baseAddress!
        try out.withUnsafeMutableBufferPointer { (o) throws(KestrelError) in
            for s in 0..<take {
                let r = take == rows ? s : s * rows / take
                try c.prepare(base + r * d, rowIndex: r, into: o.baseAddress! + s * d)
            }
        }
        return out
    }

    /// Trains the codec of `a` (structure lock held exclusively) unless it is trained already.
    func trainLocked(_ a: inout GraphArrays, _ prepared: [Float]) {
        guard !a.codec.isTrained else { return }
        prepared.withUnsafeBufferPointer { a.codec.train($0.baseAddress!, count: $0.count / dimension) }
        a.scorer = a.codec.scorer()
    }

    // MARK: Removing

    /// Removes `key` (its node becomes a tombstone until ``compact()``). Runs beside searches and
    /// inserts; a search that starts after this returns never returns `key`.
    /// - Returns: whether the key was present.
    /// - Throws: `invalidArgument` when read-only.
    @discardableResult
    public func remove(key: UInt64) throws(KestrelError) -> Bool {
        guard !isReadOnly else { throw Self.readOnlyError }
        return structure.withShared { a in
            let g = view(a)
            return counts.withLock { c in
                guard let id = c.keyMap.remove(key, keyOf: { g.keys[Int($0)] }) else { return false }
                LinkAccess.store(g.states + Int(id), NodeState.deleted)
                c.liveCount -= 1
                return true
            }
        }
    }

    /// Whether `key` is live. Thread-safe.
    public func contains(key: UInt64) -> Bool {
        structure.withShared { a in
            let keys = a.keys.base.assumingMemoryBound(to: UInt64.self)
            return counts.withLock { $0.keyMap.find(key, keyOf: { keys[Int($0)] }) != nil }
        }
    }
}

/// The arrays and the codec of an ``HNSWIndex``. Owned by the index's structure lock
/// (`SharedExclusive<GraphArrays>`): a copy is handed to code holding the lock shared, `inout`
/// access only to code holding it exclusively, so the arrays cannot be replaced under a reader.
/// Layout of the arrays: see ``GraphView``.
struct GraphArrays {
    var codec: VectorCodec
    var scorer: Scorer
    var exactScorer: Scorer
    /// Nodes the per-node arrays hold.
    var capacity = 0
    /// Upper-layer rows `upper` holds.
    var upperCapacity = 0
    var vectors: MemoryRegion
    /// Kept f32 rows (``HNSWParameters/keepFullPrecision`` with a lossy codec), else nil.
    var full: MemoryRegion?
    var links0: MemoryRegion
    var upperStart: MemoryRegion
    var upper: MemoryRegion
    var levels: MemoryRegion
    var states: MemoryRegion
    var keys: MemoryRegion
    var lockBytes: MemoryRegion

    /// Empty arrays for `codec` (the index grows them before use).
    init(codec: VectorCodec) throws(KestrelError) {
        self.codec = codec
        scorer = codec.scorer()
        exactScorer = codec.exactScorer()
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
    }

    /// Every region, for byte counts.
    var regions: [MemoryRegion] {
        [vectors, links0, upperStart, upper, levels, states, keys, lockBytes] + (full.map { [$0] } ?? [])
    }
}

/// Node bookkeeping of an ``HNSWIndex``, owned by its `counts` mutex (``Guarded``).
struct NodeCounts {
    /// Node ids in use (live, deleted, or reserved by an insert that is writing them).
    var nodeCount = 0
    /// Upper-layer rows in use.
    var upperUsed = 0
    /// Live nodes (published, not removed).
    var liveCount = 0
    /// Nodes reserved by running inserts and not yet published.
    var reserved = 0
    /// Key → live node id.
    var keyMap = KeyTable()
}
