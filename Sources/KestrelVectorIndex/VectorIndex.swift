import Foundation
import KestrelTensor

/// How two vectors are compared. Smaller distances are closer for every metric.
public enum DistanceMetric: String, Sendable, CaseIterable {
    /// Squared Euclidean distance `Σ (a_i − b_i)²`.
    case l2Squared = "l2"
    /// Negated inner product `−Σ a_i b_i` (so that the largest dot product is the nearest).
    case innerProduct = "ip"
    /// Cosine distance `1 − cos(a, b)`. Vectors (and queries) are normalised to unit length when
    /// they are added, so a zero vector is rejected; the distance is then `1 − a·b`, in [0, 2] up
    /// to rounding.
    case cosine = "cos"
    /// Hamming distance between binary codes: every component must be 0 or 1 (one bit each);
    /// the distance is the number of differing bits. Stored packed, 8 bits per byte.
    case hamming

    /// Accepts the command-line spellings (`l2`, `ip`, `cos`, `hamming`) and the case names.
    public init?(name: String) {
        switch name.lowercased() {
        case "l2", "l2squared", "l2sq", "euclidean": self = .l2Squared
        case "ip", "innerproduct", "dot": self = .innerProduct
        case "cos", "cosine": self = .cosine
        case "hamming": self = .hamming
        default: return nil
        }
    }
}

/// How an index stores its vectors (the *codec*). Lossy codecs trade accuracy for memory and
/// can keep the original f32 vectors to re-rank their best candidates exactly.
public enum VectorStorageKind: String, Sendable, CaseIterable {
    /// 4 bytes per component, exact.
    case f32
    /// IEEE binary16, 2 bytes per component (relative error ≤ 2⁻¹¹ per component, range ±65504).
    case f16
    /// bfloat16, 2 bytes per component (relative error ≤ 2⁻⁸ per component, f32 range).
    case bf16
    /// 1 byte per component: per-dimension scalar quantization trained on the data. For squared
    /// L2 each dimension gets its own offset (the midpoint of its trained range) and all share one
    /// step, so the exact int8 kernels give distances proportional to the f32 ones; inner product
    /// and cosine use offset 0 and one symmetric step (`max |x| / 127`). Values outside the trained
    /// range are clamped.
    case int8
    /// 1 bit per component: the sign of `x_i − mean_i` (per-dimension means trained on the data),
    /// compared with Hamming distance. The `.hamming` metric always uses this codec, untrained.
    case binary

    /// Whether the codec is approximate for real-valued vectors.
    public var isLossy: Bool { self != .f32 }
}

/// One search hit.
public struct SearchResult: Sendable, Hashable, CustomStringConvertible {
    /// The caller's key of the vector.
    public var key: UInt64
    /// Its distance to the query under the index metric (see ``DistanceMetric``).
    public var distance: Float

    /// Creates a result.
    public init(key: UInt64, distance: Float) {
        self.key = key
        self.distance = distance
    }

    public var description: String { "(\(key), \(distance))" }
}

/// A nearest-neighbour index over fixed-dimension vectors with caller-chosen `UInt64` keys.
///
/// Contract shared by ``FlatIndex`` and ``HNSWIndex``:
/// - Adding a key that is already present **replaces** its vector (the old one is removed).
/// - Searches return at most `k` results sorted by increasing distance (ties in any order); when
///   fewer than `k` live vectors exist (or pass the filter), all of them are returned — an empty
///   index returns `[]`. `k ≤ 0` throws `invalidArgument`.
/// - Vectors and queries must have `dimension` components (`dimensionMismatch`) that are all
///   finite (`nonFiniteValue(index:)` with the flat component index).
/// - Removed keys are never returned. Removing an unknown key returns `false`.
/// - Every index in this module is safe to use from many threads at once; each type documents
///   how it locks.
public protocol VectorIndex: AnyObject, Sendable {
    /// Number of components per vector (bits, for ``DistanceMetric/hamming``).
    var dimension: Int { get }
    /// The distance the index ranks by.
    var metric: DistanceMetric { get }
    /// Number of live (added and not removed) vectors.
    var count: Int { get }
    /// Bytes of memory the index holds (vectors, graph, keys, bookkeeping; estimates for hash maps).
    var bytesUsed: Int { get }

    /// Adds (or replaces) one vector.
    /// - Throws: `dimensionMismatch`, `nonFiniteValue`, `invalidArgument` (read-only index,
    ///   zero vector under cosine, non-binary component under hamming), `capacityExceeded`.
    func add(key: UInt64, vector: UnsafeBufferPointer<Float>) throws(KestrelError)

    /// Adds a batch: `vectors` holds `keys.count` rows of `dimension` floats, row-major. The
    /// whole batch is validated before anything is added, so a throw leaves the index unchanged.
    /// Duplicate keys inside one batch are an `invalidArgument`.
    /// - Parameter threads: worker threads (≥ 1) used to insert.
    func add(keys: [UInt64], vectors: UnsafeBufferPointer<Float>, threads: Int) throws(KestrelError)

    /// The `k` nearest live vectors to `query`, optionally only those whose key passes `filter`.
    func search(
        _ query: UnsafeBufferPointer<Float>, k: Int, filter: ((UInt64) -> Bool)?
    ) throws(KestrelError) -> [SearchResult]

    /// Searches many queries (`queries.count / dimension` rows) in parallel on `threads` threads.
    /// Result `i` belongs to query row `i`.
    func search(
        batch queries: UnsafeBufferPointer<Float>, k: Int, threads: Int,
        filter: (@Sendable (UInt64) -> Bool)?
    ) throws(KestrelError) -> [[SearchResult]]

    /// Removes `key`. Returns `false` (and changes nothing) when the key is not in the index.
    /// - Throws: `invalidArgument` on a read-only (memory-mapped) index.
    @discardableResult
    func remove(key: UInt64) throws(KestrelError) -> Bool

    /// Whether `key` is in the index (and not removed).
    func contains(key: UInt64) -> Bool

    /// Writes the index to `url` atomically (temporary file, fsync, rename).
    /// - Throws: `invalidArgument` when the file cannot be written.
    func save(to url: URL) throws(KestrelError)
}

extension VectorIndex {
    /// Adds (or replaces) one vector given as an array. See ``add(key:vector:)-(_,UnsafeBufferPointer<Float>)``.
    public func add(key: UInt64, vector: [Float]) throws(KestrelError) {
        try withBuffer(vector) { (b) throws(KestrelError) in try add(key: key, vector: b) }
    }

    /// Adds a row-major batch given as an array, on `threads` threads (default 1, like every
    /// `threads:` in Kestrel; pass `activeProcessorCount` for every core).
    public func add(keys: [UInt64], vectors: [Float], threads: Int = 1) throws(KestrelError) {
        try withBuffer(vectors) { (b) throws(KestrelError) in try add(keys: keys, vectors: b, threads: threads) }
    }

    /// The `k` nearest live vectors to `query` (an array), optionally filtered by key.
    public func search(_ query: [Float], k: Int, filter: ((UInt64) -> Bool)? = nil) throws(KestrelError) -> [SearchResult] {
        try withBuffer(query) { (b) throws(KestrelError) in try search(b, k: k, filter: filter) }
    }

    /// Searches a row-major batch of queries given as an array on `threads` threads (default 1,
    /// like every `threads:` in Kestrel; pass `activeProcessorCount` for every core).
    public func search(
        batch queries: [Float], k: Int, threads: Int = 1, filter: (@Sendable (UInt64) -> Bool)? = nil
    ) throws(KestrelError) -> [[SearchResult]] {
        try withBuffer(queries) { (b) throws(KestrelError) in try search(batch: b, k: k, threads: threads, filter: filter) }
    }
}

/// Bytes of an index by part and by kind of memory (``HNSWIndex/memoryUsage()``). Heap bytes are
/// the process's own (anonymous) memory at allocated capacity; mapped bytes are file pages the
/// kernel loads on first touch and may drop again under memory pressure.
public struct IndexMemoryUsage: Sendable, Equatable {
    /// Encoded vectors (the codec's rows) in heap memory.
    public var codeHeapBytes: Int
    /// Encoded vectors left in a read-only file mapping.
    public var codeMappedBytes: Int
    /// Kept f32 vectors for re-ranking, in heap memory.
    public var fullPrecisionHeapBytes: Int
    /// Kept f32 vectors left in a read-only file mapping.
    public var fullPrecisionMappedBytes: Int
    /// Of ``fullPrecisionMappedBytes``, the pages resident when asked (page granularity).
    public var fullPrecisionResidentBytes: Int
    /// Links, per-node bytes, keys and the key map in heap memory.
    public var graphHeapBytes: Int
    /// Links and per-node arrays left in a read-only file mapping.
    public var graphMappedBytes: Int

    /// All heap bytes.
    public var heapBytes: Int { codeHeapBytes + fullPrecisionHeapBytes + graphHeapBytes }
    /// Vector bytes held in heap memory (codes plus kept f32 vectors).
    public var vectorHeapBytes: Int { codeHeapBytes + fullPrecisionHeapBytes }
}
