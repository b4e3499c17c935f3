import CKestrelKernels
import KestrelQuantization
import KestrelTensor
import Metrics

/// How a KV cache stores its K and V rows.
public enum KVCacheStorage: String, Sendable, Hashable, CaseIterable {
    /// 4 bytes per element.
    case f32
    /// IEEE binary16, 2 bytes per element (rounded to nearest even on append).
    case f16
    /// Symmetric int8 codes with one f32 scale per token and head (KestrelQuantization's
    /// ``IntegerQuantizer``, per-row granularity): 1 byte per element plus 4 bytes per row.
    case int8

    /// Bytes of one stored element.
    public var elementBytes: Int {
        switch self {
        case .f32: 4
        case .f16: 2
        case .int8: 1
        }
    }

    var kernelType: Int32 {
        switch self {
        case .f32: Int32(KESTREL_KV_F32.rawValue)
        case .f16: Int32(KESTREL_KV_F16.rawValue)
        case .int8: Int32(KESTREL_KV_I8.rawValue)
        }
    }
}

/// The shape and storage type of a cache's rows: `kvHeads` K/V heads of `headDimension`
/// elements per token. Value type.
public struct KVCacheLayout: Sendable, Hashable {
    /// K/V heads (≥ 1).
    public var kvHeads: Int
    /// Elements per head row (≥ 1).
    public var headDimension: Int
    /// Element type of the stored rows.
    public var storage: KVCacheStorage

    /// A layout; checked by the caches' initialisers.
    public init(kvHeads: Int, headDimension: Int, storage: KVCacheStorage = .f32) {
        self.kvHeads = kvHeads
        self.headDimension = headDimension
        self.storage = storage
    }

    /// Bytes one cached token occupies: K and V, every head, plus the int8 scales
    /// (2 · kvHeads · (D · element + 4 for int8)). For f32 with 2 heads of 128: 2048 bytes.
    public var bytesPerToken: Int {
        2 * kvHeads * (headDimension * storage.elementBytes + (storage == .int8 ? 4 : 0))
    }

    func validate() throws(KestrelError) {
        guard kvHeads >= 1 else { throw .invalidArgument(name: "kvHeads", reason: "must be ≥ 1, got \(kvHeads)") }
        guard headDimension >= 1 else {
            throw .invalidArgument(name: "headDimension", reason: "must be ≥ 1, got \(headDimension)")
        }
        _ = try SizeCheck.product(2, kvHeads, headDimension, 8)
    }
}

/// A sequence's handle in one cache. Handles are never reused by the cache that issued them, so
/// a released handle stays invalid (using it throws).
public struct KVSequence: Sendable, Hashable, CustomStringConvertible {
    /// The cache-unique number.
    public let id: Int
    /// "sequence <id>".
    public var description: String { "sequence \(id)" }
}

/// Sliding-window eviction: keep the last `tokens` positions of each sequence (the window a query
/// attends to) and the first `sinkTokens` ("attention sinks", Xiao et al. 2023); older cached
/// positions are dropped and decode masks them.
public struct SlidingWindow: Sendable, Hashable {
    /// Positions a query sees: itself and the `tokens − 1` before it (≥ 1).
    public var tokens: Int
    /// Leading positions kept and always visible (≥ 0).
    public var sinkTokens: Int

    /// A window of `tokens` positions plus `sinkTokens` sinks.
    public init(tokens: Int, sinkTokens: Int = 0) {
        self.tokens = tokens
        self.sinkTokens = sinkTokens
    }
}

/// Counters of a cache at one moment. Value type.
public struct KVCacheStatistics: Sendable, Hashable {
    /// Live sequences.
    public var sequences = 0
    /// Tokens over all live sequences (positions appended, including evicted and shared ones).
    public var tokens = 0
    /// Bytes of K/V storage allocated (pool or buffers), whether used or not.
    public var bytesAllocated = 0
    /// Bytes of the rows in use (blocks referenced by a sequence; shared blocks counted once).
    public var bytesUsed = 0
    /// Blocks referenced by at least one sequence (paged caches; 0 for contiguous ones).
    public var blocksUsed = 0
    /// Blocks on the free list plus cached prefix blocks no sequence references (reusable).
    public var blocksFree = 0
    /// Of `blocksFree`: blocks still holding a cached prefix (evicted least recently used first).
    public var blocksCached = 0
    /// Sequences started with a prompt (prefix lookups).
    public var prefixLookups = 0
    /// Blocks found in the prefix cache by those lookups.
    public var prefixHitBlocks = 0
    /// Prompt tokens served from the cache instead of being recomputed.
    public var tokensServedFromCache = 0
    /// Blocks dropped by sliding-window eviction.
    public var windowEvictedBlocks = 0
    /// Cached prefix blocks reclaimed for new data (least recently used first).
    public var prefixEvictedBlocks = 0
    /// Blocks copied because a sequence wrote to a block shared with another (copy-on-write).
    public var copiedOnWriteBlocks = 0

    /// Publishes every counter as a swift-metrics gauge named `<label>.<field>` (for example
    /// `kv.tokens`, `kv.blocks_used`, `kv.prefix_hit_blocks`), as the profiling recorders do.
    /// - Parameters:
    ///   - label: metric name prefix.
    ///   - dimensions: dimensions attached to every gauge.
    ///   - factory: the metrics backend (default: the globally bootstrapped one).
    public func publish(label: String, dimensions: [(String, String)] = [],
                        factory: MetricsFactory = MetricsSystem.factory) {
        for (suffix, v) in fields {
            Gauge(label: "\(label).\(suffix)", dimensions: dimensions, factory: factory).record(Double(v))
        }
    }

    /// (metric suffix, value) of every counter.
    public var fields: [(String, Int)] {
        [("sequences", sequences), ("tokens", tokens), ("bytes_allocated", bytesAllocated), ("bytes_used", bytesUsed),
         ("blocks_used", blocksUsed), ("blocks_free", blocksFree), ("blocks_cached", blocksCached),
         ("prefix_lookups", prefixLookups), ("prefix_hit_blocks", prefixHitBlocks),
         ("tokens_served_from_cache", tokensServedFromCache), ("window_evicted_blocks", windowEvictedBlocks),
         ("prefix_evicted_blocks", prefixEvictedBlocks), ("copied_on_write_blocks", copiedOnWriteBlocks)]
    }
}

/// A read-only snapshot of where one sequence's rows are, for the decode kernel. Only the caches
/// of this module make them (the type has no public initialiser).
public struct KVCacheView: @unchecked Sendable {  // pointers into storage kept alive by `owner`
    let owner: AnyObject
    let layout: KVCacheLayout
    let length: Int
    /// Per block: K/V head 0's row 0 in the block (nil: evicted); likewise its int8 scales.
    let kBlocks: [UnsafeRawPointer?], vBlocks: [UnsafeRawPointer?]
    let kScales: [UnsafePointer<Float>?], vScales: [UnsafePointer<Float>?]
    let blockTokens: Int
    /// Elements between consecutive tokens' rows of one head, and between one token's rows of
    /// consecutive heads; the same in floats for the scales.
    let rowStride: Int, headStride: Int, scaleStride: Int, headScaleStride: Int
    let window: SlidingWindow?
}

/// Storage for the keys and values of many sequences, appended token by token, read by
/// ``decode(query:sequence:options:)``.
///
/// Appends take K and V as f32 (or f16/bf16) tensors [kvHeads, T, headDimension] and store them
/// in the cache's ``KVCacheStorage``. Every mutating call is atomic: on a thrown error the cache
/// is unchanged (nothing half-appended).
///
/// Thread-safety: every method may be called from any thread; calls on *different* sequences may
/// run concurrently, including decodes of sequences sharing prefix blocks. One sequence must not
/// be appended to (or released) while it is being decoded.
///
/// The module's caches (``ContiguousKVCache``, ``PagedKVCache``) are the conformers; the
/// protocol is not meant to be adopted outside it (``KVCacheView`` cannot be made there).
public protocol KVCache: AnyObject, Sendable {
    /// Heads, head dimension and storage type.
    var layout: KVCacheLayout { get }
    /// The eviction policy, or nil when every position is kept.
    var window: SlidingWindow? { get }
    /// Starts a sequence. With a prompt, reuses the cached blocks of its longest cached prefix
    /// (whole blocks, at most all but the prompt's last token) and returns how many tokens that
    /// covers: the caller appends K/V only for the tokens after them.
    /// - Throws: `capacityExceeded` when the cache cannot hold another sequence.
    func addSequence(prompt: [Int32]?) throws(KestrelError) -> (sequence: KVSequence, cachedTokens: Int)
    /// Appends T tokens' keys and values ([kvHeads, T, headDimension] each, f32/f16/bf16) and,
    /// optionally, their token ids (T of them; needed for the prefix cache to learn the blocks).
    /// - Throws: `invalidArgument(name: "sequence")` for an unknown or released sequence;
    ///   `dimensionMismatch` for a shape other than [kvHeads, T, headDimension] or K and V shapes
    ///   that differ; `invalidArgument(name: "tokens")` for a token count other than T;
    ///   `nonFiniteValue` for NaN/Inf; `capacityExceeded` when the storage is full.
    func append(to sequence: KVSequence, keys: Tensor, values: Tensor, tokens: [Int32]?) throws(KestrelError)
    /// A new sequence holding the same tokens (shared storage when the cache can share).
    func fork(_ sequence: KVSequence) throws(KestrelError) -> KVSequence
    /// Ends a sequence and frees (or, for cached prefix blocks, keeps reusable) its storage.
    func release(_ sequence: KVSequence) throws(KestrelError)
    /// Tokens appended to the sequence so far.
    func length(of sequence: KVSequence) throws(KestrelError) -> Int
    /// The counters now.
    var statistics: KVCacheStatistics { get }
    /// Where the sequence's rows are now (for decode).
    func view(of sequence: KVSequence) throws(KestrelError) -> KVCacheView
}

extension KVCache {
    /// ``addSequence(prompt:)`` without a prompt.
    public func addSequence() throws(KestrelError) -> KVSequence { try addSequence(prompt: nil).sequence }

    /// ``append(to:keys:values:tokens:)`` without token ids.
    public func append(to sequence: KVSequence, keys: Tensor, values: Tensor) throws(KestrelError) {
        try append(to: sequence, keys: keys, values: values, tokens: nil)
    }
}

/// K or V rows of one append, converted to the storage type: [kvHeads, T, D] elements and, for
/// int8, [kvHeads, T] scales.
struct EncodedRows {
    var bytes: [UInt8]
    var scales: [Float]

    /// Checks one append's arguments (equal K/V shapes, token count) and converts both; returns
    /// them and the token count T. Runs outside any lock, before a cache changes anything.
    static func encode(keys: Tensor, values: Tensor, tokens: [Int32]?, layout: KVCacheLayout) throws(KestrelError) -> (EncodedRows, EncodedRows, Int) {
        guard keys.shape.dims == values.shape.dims else {
            throw .dimensionMismatch(expected: keys.shape.dims, actual: values.shape.dims)
        }
        let k = try encode(keys, name: "keys", layout: layout)
        let v = try encode(values, name: "values", layout: layout)
        let t = keys.shape.dims[1]
        if let tokens, tokens.count != t {
            throw .invalidArgument(name: "tokens", reason: "\(tokens.count) token ids for \(t) appended tokens")
        }
        return (k, v, t)
    }

    /// Checks the shape and finiteness and converts. Runs outside any lock.
    static func encode(_ x: Tensor, name: String, layout: KVCacheLayout) throws(KestrelError) -> EncodedRows {
        let dims = x.shape.dims
        guard dims.count == 3, dims[0] == layout.kvHeads, dims[2] == layout.headDimension else {
            throw .dimensionMismatch(expected: [layout.kvHeads, dims.count == 3 ? dims[1] : -1, layout.headDimension], actual: dims)
        }
        guard [.f32, .f16, .bf16].contains(x.dtype) else {
            throw .invalidArgument(name: name, reason: "must be f32, f16 or bf16, got \(x.dtype)")
        }
        let f = x.dtype == .f32 ? try x.contiguous() : try x.converted(to: .f32)
        let rows = dims[0] * dims[1]
        if rows == 0 { return EncodedRows(bytes: [], scales: []) }
        switch layout.storage {
        case .f32:
            if let i = try AttentionProblem.firstNonFinite(f, allowInfinity: false) { throw .nonFiniteValue(index: i) }
            let bytes = try f.withUnsafeBufferPointer { (p: UnsafeBufferPointer<Float>) -> [UInt8] in
                Array(UnsafeRawBufferPointer(p))
            }
            return EncodedRows(bytes: bytes, scales: [])
        case .f16:
            if let i = try AttentionProblem.firstNonFinite(f, allowInfinity: false) { throw .nonFiniteValue(index: i) }
            let h = try f.converted(to: .f16)
            let bytes = try h.withUnsafeBufferPointer(as: UInt16.self) { (p: UnsafeBufferPointer<UInt16>) -> [UInt8] in
                Array(UnsafeRawBufferPointer(p))
            }
            return EncodedRows(bytes: bytes, scales: [])
        case .int8:
            // One symmetric scale per (head, token) row: per-channel along axis 0 of [rows, D].
            let quantizer = try IntegerQuantizer(scheme: IntegerScheme(bits: 8, symmetric: true, granularity: .perChannel(axis: 0)))
            let q = try quantizer.quantize(try f.reshaped([rows, layout.headDimension]))
            let steps = try quantizer.parameters(of: q).steps
            let codes = Array(q.data[(4 * rows)...])
            return EncodedRows(bytes: codes, scales: steps)
        }
    }
}
