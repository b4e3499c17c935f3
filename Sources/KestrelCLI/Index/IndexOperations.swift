import Foundation
import Kestrel

/// The kind of vector index `kestrel index` builds and opens.
enum IndexKind: String, CaseIterable, Codable, Sendable {
    /// Exact search over every vector (``FlatIndex``).
    case flat
    /// Approximate search over an HNSW graph (``HNSWIndex``).
    case hnsw
}

/// How `kestrel index build` (and the MCP `index_build` tool) builds an index.
struct IndexBuildOptions: Sendable, Equatable {
    /// Flat or HNSW.
    var kind: IndexKind = .hnsw
    /// Ranking distance.
    var metric: DistanceMetric = .l2Squared
    /// Vector codec.
    var storage: VectorStorageKind = .f32
    /// HNSW links per node (ignored for flat).
    var M = 16
    /// HNSW build beam width (ignored for flat).
    var efConstruction = 200
    /// HNSW default search beam width (ignored for flat).
    var efSearch = 64
    /// Insertion threads (≥ 1).
    var threads = 1
}

/// A loaded or built index with its kind.
enum LoadedIndex: Sendable {
    /// A flat index.
    case flat(FlatIndex)
    /// An HNSW index.
    case hnsw(HNSWIndex)

    /// The index behind the protocol.
    var index: any VectorIndex {
        switch self {
        case .flat(let i): return i
        case .hnsw(let i): return i
        }
    }

    /// Its kind.
    var kind: IndexKind {
        switch self {
        case .flat: return .flat
        case .hnsw: return .hnsw
        }
    }
}

/// What `kestrel index info` reports (and the MCP tools return). `Codable` for `--json`.
struct IndexInfo: Codable, Sendable, Equatable {
    /// Registry name (nil for a file opened on the command line).
    var name: String?
    /// The file it was loaded from or saved to, if any.
    var path: String?
    /// Flat or HNSW.
    var kind: IndexKind
    /// Components per vector.
    var dimension: Int
    /// Metric raw value (`l2`, `ip`, `cos`, `hamming`).
    var metric: String
    /// Codec raw value (`f32`, `f16`, `bf16`, `int8`, `binary`).
    var storage: String
    /// Live vectors.
    var count: Int
    /// Removed vectors still in the HNSW graph (0 for flat).
    var tombstones: Int
    /// Bytes of memory the index holds.
    var bytesUsed: Int
    /// Size of the file, bytes (nil when not on disk).
    var fileBytes: Int?
    /// HNSW M (nil for flat).
    var M: Int?
    /// HNSW default search beam width (nil for flat).
    var efSearch: Int?
}

/// One query's hits, for `kestrel index search --json` and the MCP `index_search` tool.
struct IndexSearchHits: Codable, Sendable, Equatable {
    /// Query row number in the query file (0 for a single query).
    var query: Int
    /// Keys, nearest first.
    var keys: [UInt64]
    /// Distances, aligned with `keys`.
    var distances: [Float]
}

/// The operations behind `kestrel index build|search|info|compact`, as plain functions the MCP
/// `index_build` / `index_search` tools call too. Vectors come from `.npy` / `.fvecs` / `.bvecs`
/// files (``Dataset``); indexes are saved in KestrelVectorIndex's file format (FileFormats.md).
/// Stateless; thread-safe as the indexes are.
enum IndexOperations {
    /// Reads the vectors of a `.npy`, `.fvecs` or `.bvecs` file.
    /// - Throws: as `Dataset.readFloats` (`corruptFile`, `io`, `invalidArgument` for another extension).
    static func readVectors(_ url: URL) throws(KestrelError) -> DatasetMatrix<Float> {
        try Dataset.readFloats(url)
    }

    /// Reads one key per row from an `.ivecs` or int32 `.npy` file with one column (keys must be ≥ 0).
    /// - Throws: `dimensionMismatch` for more than one column; `invalidArgument` for a negative key;
    ///   the errors of `Dataset.readInts`.
    static func readKeys(_ url: URL) throws(KestrelError) -> [UInt64] {
        let m = try Dataset.readInts(url)
        guard m.dimension == 1 || m.rows == 0 else { throw .dimensionMismatch(expected: [-1, 1], actual: [m.rows, m.dimension]) }
        var keys = [UInt64]()
        keys.reserveCapacity(m.rows)
        for (i, v) in m.values.enumerated() {
            guard v >= 0 else { throw .invalidArgument(name: "keys", reason: "key at row \(i) is negative (\(v))") }
            keys.append(UInt64(v))
        }
        return keys
    }

    /// Builds an index in memory over `vectors` (keys: `keys`, else the row numbers 0…n−1).
    /// - Throws: `dimensionMismatch` when `keys` does not have one key per row; `invalidArgument`
    ///   for bad options (threads < 1, M out of 2…256, a codec the metric rejects, duplicate keys,
    ///   zero rows); `nonFiniteValue`; the index's errors.
    static func build(vectors: DatasetMatrix<Float>, keys: [UInt64]? = nil, options: IndexBuildOptions) throws(KestrelError) -> LoadedIndex {
        guard options.threads >= 1 else { throw .invalidArgument(name: "threads", reason: "must be ≥ 1, got \(options.threads)") }
        guard vectors.rows > 0, vectors.dimension > 0 else {
            throw .invalidArgument(name: "vectors", reason: "the file holds no vectors")
        }
        let keys = keys ?? (0..<vectors.rows).map { UInt64($0) }
        guard keys.count == vectors.rows else { throw .dimensionMismatch(expected: [vectors.rows], actual: [keys.count]) }
        let loaded: LoadedIndex
        switch options.kind {
        case .flat:
            loaded = .flat(try FlatIndex(dimension: vectors.dimension, metric: options.metric, storage: options.storage,
                                         capacity: vectors.rows))
        case .hnsw:
            let p = HNSWParameters(M: options.M, efConstruction: options.efConstruction, efSearch: options.efSearch)
            loaded = .hnsw(try HNSWIndex(dimension: vectors.dimension, metric: options.metric, storage: options.storage,
                                         parameters: p, capacity: vectors.rows))
        }
        try loaded.index.add(keys: keys, vectors: vectors.values, threads: options.threads)
        return loaded
    }

    /// Opens a saved index of either kind.
    /// - Parameter mapped: use the file's pages in place (read-only; searches only).
    /// - Throws: `corruptFile`, `unsupportedVersion`, `io` as `HNSWIndex.load` / `FlatIndex.load`.
    static func load(_ url: URL, mapped: Bool = false) throws(KestrelError) -> LoadedIndex {
        do {
            return .hnsw(try HNSWIndex.load(from: url, mapped: mapped))
        } catch .wrongFileKind {
            return .flat(try FlatIndex.load(from: url, mapped: mapped))
        }
    }

    /// Searches `queries` (rows of the index's dimension) for the `k` nearest keys each.
    /// - Parameter ef: HNSW beam width for this search (nil: the index default; ignored for flat).
    /// - Throws: `dimensionMismatch` when the query dimension differs; `invalidArgument` for
    ///   k < 1, threads < 1 or ef < 1; `nonFiniteValue`.
    static func search(_ index: LoadedIndex, queries: DatasetMatrix<Float>, k: Int, ef: Int? = nil,
                       threads: Int = 1) throws(KestrelError) -> [IndexSearchHits] {
        guard k >= 1 else { throw .invalidArgument(name: "k", reason: "must be ≥ 1, got \(k)") }
        guard threads >= 1 else { throw .invalidArgument(name: "threads", reason: "must be ≥ 1, got \(threads)") }
        if let ef, ef < 1 { throw .invalidArgument(name: "ef", reason: "must be ≥ 1, got \(ef)") }
        guard queries.dimension == index.index.dimension || queries.rows == 0 else {
            throw .dimensionMismatch(expected: [-1, index.index.dimension], actual: [queries.rows, queries.dimension])
        }
        if queries.rows == 0 { return [] }
        let results: [[SearchResult]]
        switch index {
        case .hnsw(let h):
            results = try withBuffer(queries.values) { (q) throws(KestrelError) in
                try h.search(batch: q, k: k, ef: ef, threads: threads)
            }
        default:
            results = try withBuffer(queries.values) { (q) throws(KestrelError) in
                try index.index.search(batch: q, k: k, threads: threads, filter: nil)
            }
        }
        return results.enumerated().map { i, hits in
            IndexSearchHits(query: i, keys: hits.map(\.key), distances: hits.map(\.distance))
        }
    }

    /// Describes an index (and its file, when `path` is given).
    static func info(_ index: LoadedIndex, name: String? = nil, path: String? = nil) -> IndexInfo {
        let i = index.index
        var info = IndexInfo(name: name, path: path, kind: index.kind, dimension: i.dimension, metric: i.metric.rawValue,
                             storage: "", count: i.count, tombstones: 0, bytesUsed: i.bytesUsed, fileBytes: nil)
        switch index {
        case .flat(let f): info.storage = f.storage.rawValue
        case .hnsw(let h):
            info.storage = h.storage.rawValue
            info.tombstones = h.tombstoneCount
            info.M = h.parameters.M
            info.efSearch = h.efSearch
        }
        if let path, let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber {
            info.fileBytes = size.intValue
        }
        return info
    }

    /// Compacts a saved index: an HNSW index drops its tombstones and is renumbered in search
    /// order (`compact()` then `optimizeLayout()`); a flat index, which keeps no tombstones, is
    /// rewritten as is. The result replaces `output` (default: the input) atomically, so a
    /// failure leaves the old file.
    /// - Returns: the index description before and after.
    static func compact(_ url: URL, output: URL? = nil) throws(KestrelError) -> (before: IndexInfo, after: IndexInfo) {
        let loaded = try load(url)
        let before = info(loaded, path: url.path)
        if case .hnsw(let h) = loaded {
            try h.compact()
            try h.optimizeLayout()
        }
        let target = output ?? url
        try loaded.index.save(to: target)
        return (before, info(loaded, path: target.path))
    }
}

/// Named indexes held by a long-running process (the `kestrel mcp` server's `index_build` /
/// `index_search` tools): each in memory, optionally saved to / loaded from a file.
///
/// Thread-safety: all methods may be called concurrently (a `PlainLock` guards the table; the
/// indexes themselves are thread-safe). Building runs outside the lock; registering a name
/// replaces the previous index of that name.
final class IndexRegistry: @unchecked Sendable {
    private let lock = PlainLock()
    private var table: [String: (index: LoadedIndex, path: String?)] = [:]

    /// Creates an empty registry.
    init() {}

    /// Builds an index from a vector file and registers it as `name`; saves it to `saveTo`
    /// when given.
    /// - Throws: `invalidArgument` for an empty name; the errors of ``IndexOperations``.
    @discardableResult
    func build(name: String, vectors: URL, keys: URL? = nil, options: IndexBuildOptions,
               saveTo: URL? = nil) throws(KestrelError) -> IndexInfo {
        try Self.check(name)
        let m = try IndexOperations.readVectors(vectors)
        let k = try keys.map { (u) throws(KestrelError) in try IndexOperations.readKeys(u) }
        let loaded = try IndexOperations.build(vectors: m, keys: k, options: options)
        if let saveTo { try loaded.index.save(to: saveTo) }
        register(name, loaded, path: saveTo?.path)
        return IndexOperations.info(loaded, name: name, path: saveTo?.path)
    }

    /// Loads a saved index and registers it as `name`.
    @discardableResult
    func open(name: String, path: URL, mapped: Bool = false) throws(KestrelError) -> IndexInfo {
        try Self.check(name)
        let loaded = try IndexOperations.load(path, mapped: mapped)
        register(name, loaded, path: path.path)
        return IndexOperations.info(loaded, name: name, path: path.path)
    }

    /// Searches index `name` with one query vector.
    /// - Throws: `invalidArgument` when no index has that name; the errors of ``IndexOperations/search``.
    func search(name: String, query: [Float], k: Int, ef: Int? = nil) throws(KestrelError) -> IndexSearchHits {
        let entry = try lookup(name)
        let q = try DatasetMatrix(rows: 1, dimension: query.count, values: query)
        return try IndexOperations.search(entry.index, queries: q, k: k, ef: ef).first
            ?? IndexSearchHits(query: 0, keys: [], distances: [])
    }

    /// Describes index `name`.
    func info(name: String) throws(KestrelError) -> IndexInfo {
        let entry = try lookup(name)
        return IndexOperations.info(entry.index, name: name, path: entry.path)
    }

    /// Registered names, sorted.
    var names: [String] { lock.withLock { table.keys.sorted() } }

    /// Forgets index `name`; returns whether it existed.
    @discardableResult
    func remove(name: String) -> Bool { lock.withLock { table.removeValue(forKey: name) != nil } }

    private func register(_ name: String, _ index: LoadedIndex, path: String?) {
        lock.withLock { table[name] = (index, path) }
    }

    private func lookup(_ name: String) throws(KestrelError) -> (index: LoadedIndex, path: String?) {
        guard let e = lock.withLock({ table[name] }) else {
            throw .invalidArgument(name: "name", reason: "no index named '\(name)'")
        }
        return e
    }

    private static func check(_ name: String) throws(KestrelError) {
        guard !name.isEmpty, name.count <= 256 else { throw .invalidArgument(name: "name", reason: "must be 1…256 characters") }
    }
}
