import CKestrelKernels
import KestrelTensor

/// A KV cache with one contiguous, growable buffer per sequence: token-major rows
/// [capacity, kvHeads, headDimension] for K and for V (and [capacity, kvHeads] int8 scales), so an
/// append is one copy at the end and growth one copy of the used prefix.
///
/// Growth doubles the capacity (amortised O(1) copies per token); with `maxTokens` set, appends
/// beyond it throw. ``fork(_:)`` copies the rows (no sharing); prompts are not looked up
/// (``addSequence(prompt:)`` always reports 0 cached tokens): use ``PagedKVCache`` for prefix
/// sharing.
///
/// Sliding window: with a ``SlidingWindow`` of W tokens and S sinks, a sequence's buffer stops
/// growing at `sinkRows + ringRows` rows and becomes a ring: the first `sinkRows` = S rounded up to
/// ``windowBlockTokens`` hold positions 0..<sinkRows for good, the other `ringRows` = W + 7 +
/// 15 rounded up to 16 rows hold the latest positions (position p ≥ sinkRows at row
/// sinkRows + (p − sinkRows) mod ringRows), so an append overwrites the oldest positions in place:
/// O(1) per token, no copy, memory bounded by the window. It keeps at least what
/// ``PagedKVCache`` keeps (the last W + 7 positions: the window of the earliest of up to 8 new
/// queries, and the sinks); decode masks exactly as there. The decode view splits the ring into
/// blocks of ``windowBlockTokens`` positions; a block any of whose positions was overwritten is
/// evicted (counted in ``KVCacheStatistics/windowEvictedBlocks``).
///
/// Thread-safety: see ``KVCache``. A growing sequence gets a new buffer; a decode that already
/// holds the old one keeps it alive and reads it unchanged.
public final class ContiguousKVCache: KVCache, @unchecked Sendable {  // mutable state guarded by `lock`
    /// Heads, head dimension, storage.
    public let layout: KVCacheLayout
    /// Most tokens one sequence may hold (nil: unlimited).
    public let maxTokens: Int?
    /// The eviction policy, or nil when every position is kept.
    public let window: SlidingWindow?
    /// Positions per block of a windowed sequence's decode view (and the rounding unit of its
    /// sink and ring rows): 16.
    public static let windowBlockTokens = 16

    /// Rows holding the sink positions (S rounded up to ``windowBlockTokens``; 0 without a window).
    let sinkRows: Int
    /// Rows of the ring holding the latest positions (Int.max without a window).
    let ringRows: Int
    /// Most rows a sequence's buffer holds: sinkRows + ringRows, or maxTokens, or unlimited.
    private let rowLimit: Int

    /// One sequence's rows. Immutable size; rows past `used` are written only by appends.
    final class Buffer: @unchecked Sendable {  // rows a reader sees are rewritten only by appends to its own sequence (the ring)
        let capacity: Int
        let k: UnsafeMutableRawPointer, v: UnsafeMutableRawPointer
        let ks: UnsafeMutablePointer<Float>?, vs: UnsafeMutablePointer<Float>?
        let bytes: Int

        init(capacity: Int, layout: KVCacheLayout) throws(KestrelError) {
            self.capacity = capacity
            let n = try SizeCheck.bytes(capacity, layout.kvHeads, layout.headDimension, layout.storage.elementBytes)
            k = .allocate(byteCount: max(1, n), alignment: 64)
            v = .allocate(byteCount: max(1, n), alignment: 64)
            if layout.storage == .int8 {
                let m = try SizeCheck.product(capacity, layout.kvHeads)
                ks = .allocate(capacity: max(1, m))
                vs = .allocate(capacity: max(1, m))
                bytes = 2 * n + 8 * m
            } else {
                ks = nil
                vs = nil
                bytes = 2 * n
            }
        }

        deinit {
            k.deallocate()
            v.deallocate()
            ks?.deallocate()
            vs?.deallocate()
        }
    }

    private struct Sequence {
        var buffer: Buffer
        var length: Int
    }

    private let lock = PlainLock()
    private var sequences: [Int: Sequence] = [:]
    private var nextID = 0
    private var tokens = 0
    private let initialCapacity: Int
    private var evictedBlocks = 0

    /// A cache whose sequences start with room for `initialCapacity` tokens.
    /// - Parameters:
    ///   - maxTokens: most positions one sequence may hold (appended, evicted ones included).
    ///   - window: sliding-window eviction (see the type's documentation); nil keeps every position.
    /// - Throws: `invalidArgument` for a bad layout, `initialCapacity` < 1, `maxTokens` < 1, a
    ///   window of < 1 token or negative sinks; `capacityExceeded` when the window's rows overflow.
    public init(layout: KVCacheLayout, initialCapacity: Int = 256, maxTokens: Int? = nil,
                window: SlidingWindow? = nil) throws(KestrelError) {
        try layout.validate()
        guard initialCapacity >= 1 else {
            throw .invalidArgument(name: "initialCapacity", reason: "must be ≥ 1, got \(initialCapacity)")
        }
        if let m = maxTokens, m < 1 { throw .invalidArgument(name: "maxTokens", reason: "must be ≥ 1, got \(m)") }
        var limit = maxTokens ?? .max
        if let w = window {
            guard w.tokens >= 1 else { throw .invalidArgument(name: "window", reason: "tokens must be ≥ 1, got \(w.tokens)") }
            guard w.sinkTokens >= 0 else { throw .invalidArgument(name: "window", reason: "sinkTokens must be ≥ 0, got \(w.sinkTokens)") }
            let b = Self.windowBlockTokens
            // Kept: the last W + 7 positions (the earliest of 8 queries' window); the view block
            // holding the oldest of them may start 15 positions earlier and must not be overwritten.
            let need = try Self.sum(w.tokens, Int(KESTREL_DECODE_MAX_QUERIES) - 1 + b - 1)
            ringRows = try Self.sum(need, b - 1) / b * b
            sinkRows = try Self.sum(w.sinkTokens, b - 1) / b * b
            let rows = try Self.sum(sinkRows, ringRows)
            _ = try SizeCheck.bytes(rows, layout.kvHeads, layout.headDimension, layout.storage.elementBytes)
            limit = min(limit, rows)
        } else {
            sinkRows = 0
            ringRows = .max
        }
        self.layout = layout
        self.maxTokens = maxTokens
        self.window = window
        rowLimit = limit
        self.initialCapacity = min(initialCapacity, limit)
    }

    /// a + b, or `capacityExceeded` when it overflows.
    private static func sum(_ a: Int, _ b: Int) throws(KestrelError) -> Int {
        let (r, o) = a.addingReportingOverflow(b)
        guard !o else { throw .capacityExceeded(limit: .max, requested: .max) }
        return r
    }

    /// The buffer row of position p (p itself until the ring wraps).
    @inline(__always) private func row(_ p: Int) -> Int {
        p < sinkRows ? p : sinkRows + (p - sinkRows) % ringRows
    }

    /// Blocks of the decode view evicted at `length`: those of positions ≥ sinkRows any of whose
    /// positions the ring has overwritten (their first position < length − ringRows).
    private func evictedViewBlocks(_ length: Int) -> Int {
        guard window != nil, length > sinkRows + ringRows else { return 0 }
        let b = Self.windowBlockTokens
        return (length - ringRows + b - 1) / b - sinkRows / b
    }

    private func unknown(_ s: KVSequence) -> KestrelError {
        .invalidArgument(name: "sequence", reason: "\(s) is unknown or released")
    }

    /// See ``KVCache/addSequence(prompt:)``: allocates the initial buffer; never any cached tokens.
    public func addSequence(prompt: [Int32]?) throws(KestrelError) -> (sequence: KVSequence, cachedTokens: Int) {
        let buffer = try Buffer(capacity: initialCapacity, layout: layout)
        return lock.withLock {
            let id = nextID
            nextID += 1
            sequences[id] = Sequence(buffer: buffer, length: 0)
            return (KVSequence(id: id), 0)
        }
    }

    /// See ``KVCache/append(to:keys:values:tokens:)`` (token ids are checked and not kept).
    /// - Throws: also `capacityExceeded(limit: maxTokens, requested: new length)` past `maxTokens`.
    public func append(to sequence: KVSequence, keys: Tensor, values: Tensor, tokens ids: [Int32]?) throws(KestrelError) {
        let (k, v, t) = try EncodedRows.encode(keys: keys, values: values, tokens: ids, layout: layout)
        try lock.withLock { () throws(KestrelError) in
            guard var s = sequences[sequence.id] else { throw unknown(sequence) }
            guard t > 0 else { return }
            let (newLength, o) = s.length.addingReportingOverflow(t)
            guard !o else { throw .capacityExceeded(limit: maxTokens ?? .max, requested: .max) }
            if let m = maxTokens, newLength > m { throw .capacityExceeded(limit: m, requested: newLength) }
            let rows = min(newLength, rowLimit)  // a windowed buffer stops growing at the ring's end
            if rows > s.buffer.capacity {
                var cap = s.buffer.capacity
                while cap < rows { cap = cap > Int.max / 2 ? rows : cap * 2 }
                cap = min(cap, rowLimit)
                let grown = try Buffer(capacity: cap, layout: layout)
                // Before the ring is full no position has wrapped: rows 0..<length are positions.
                copyRows(from: s.buffer, to: grown, count: s.length)
                s.buffer = grown
            }
            write(k, v, tokenCount: t, into: s.buffer, at: s.length)
            evictedBlocks += evictedViewBlocks(newLength) - evictedViewBlocks(s.length)
            s.length = newLength
            sequences[sequence.id] = s
            tokens += t
        }
    }

    private func copyRows(from a: Buffer, to b: Buffer, count: Int) {
        let row = layout.kvHeads * layout.headDimension * layout.storage.elementBytes
        b.k.copyMemory(from: a.k, byteCount: count * row)
        b.v.copyMemory(from: a.v, byteCount: count * row)
        if let aks = a.ks, let avs = a.vs, let bks = b.ks, let bvs = b.vs {
            bks.update(from: aks, count: count * layout.kvHeads)
            bvs.update(from: avs, count: count * layout.kvHeads)
        }
    }

    /// Source rows are [kvHeads, T, D]; the buffer is token-major [capacity, kvHeads, D], position
    /// p at ``row(_:)``. Positions this append would itself overwrite in the ring are skipped.
    private func write(_ k: EncodedRows, _ v: EncodedRows, tokenCount t: Int, into b: Buffer, at start: Int) {
        let hk = layout.kvHeads, rowBytes = layout.headDimension * layout.storage.elementBytes
        let end = start + t
        var overwritten = 0..<0
        if window != nil {
            let lo = max(start, sinkRows)
            overwritten = lo..<max(lo, end - ringRows)
        }
        k.bytes.withUnsafeBytes { kb in
            v.bytes.withUnsafeBytes { vb in
                for i in 0..<t where !overwritten.contains(start + i) {
                    let r = row(start + i)
                    for h in 0..<hk {
                        let dst = (r * hk + h) * rowBytes, src = (h * t + i) * rowBytes
                        (b.k + dst).copyMemory(from: kb.baseAddress! + src, byteCount: rowBytes)
                        (b.v + dst).copyMemory(from: vb.baseAddress! + src, byteCount: rowBytes)
                        if let ks = b.ks, let vs = b.vs {
                            ks[r * hk + h] = k.scales[h * t + i]
                            vs[r * hk + h] = v.scales[h * t + i]
                        }
                    }
                }
            }
        }
    }

    /// See ``KVCache/fork(_:)``: copies the rows into a new buffer of the same capacity. O(length).
    public func fork(_ sequence: KVSequence) throws(KestrelError) -> KVSequence {
        try lock.withLock { () throws(KestrelError) -> KVSequence in
            guard let s = sequences[sequence.id] else { throw unknown(sequence) }
            let copy = try Buffer(capacity: s.buffer.capacity, layout: layout)
            copyRows(from: s.buffer, to: copy, count: min(s.length, s.buffer.capacity))
            let id = nextID
            nextID += 1
            sequences[id] = Sequence(buffer: copy, length: s.length)
            tokens += s.length
            return KVSequence(id: id)
        }
    }

    /// See ``KVCache/release(_:)``. O(1).
    public func release(_ sequence: KVSequence) throws(KestrelError) {
        try lock.withLock { () throws(KestrelError) in
            guard let s = sequences.removeValue(forKey: sequence.id) else { throw unknown(sequence) }
            tokens -= s.length
        }
    }

    /// See ``KVCache/length(of:)``.
    public func length(of sequence: KVSequence) throws(KestrelError) -> Int {
        try lock.withLock { () throws(KestrelError) -> Int in
            guard let s = sequences[sequence.id] else { throw unknown(sequence) }
            return s.length
        }
    }

    /// See ``KVCache/statistics``: tokens, sequences and bytes (allocated: the buffers' capacity;
    /// used: their filled rows), window-evicted view blocks; other block and prefix counters stay
    /// 0. O(sequences).
    public var statistics: KVCacheStatistics {
        lock.withLock {
            var st = KVCacheStatistics()
            st.sequences = sequences.count
            st.tokens = tokens
            st.windowEvictedBlocks = evictedBlocks
            for s in sequences.values {
                st.bytesAllocated += s.buffer.bytes
                st.bytesUsed += min(s.length, s.buffer.capacity) * layout.bytesPerToken
            }
            return st
        }
    }

    /// See ``KVCache/view(of:)``: one block spanning the buffer, O(1); with a window, blocks of
    /// ``windowBlockTokens`` positions through the ring (evicted ones nil), O(length / 16).
    public func view(of sequence: KVSequence) throws(KestrelError) -> KVCacheView {
        try lock.withLock { () throws(KestrelError) -> KVCacheView in
            guard let s = sequences[sequence.id] else { throw unknown(sequence) }
            let b = s.buffer, d = layout.headDimension
            if let w = window { return ringView(s, window: w) }
            var ks: [UnsafePointer<Float>?] = [], vs: [UnsafePointer<Float>?] = []
            if let k = b.ks, let v = b.vs {
                ks = [UnsafePointer(k)]
                vs = [UnsafePointer(v)]
            }
            return KVCacheView(owner: b, layout: layout, length: s.length, kBlocks: [UnsafeRawPointer(b.k)],
                               vBlocks: [UnsafeRawPointer(b.v)], kScales: ks, vScales: vs, blockTokens: b.capacity,
                               rowStride: layout.kvHeads * d, headStride: d, scaleStride: layout.kvHeads,
                               headScaleStride: 1, window: nil)
        }
    }

    /// The view of a windowed sequence (lock held): block i holds positions 16i..<16i + 16 at row
    /// row(16i) onwards — contiguous, as sinkRows and ringRows are multiples of 16.
    private func ringView(_ s: Sequence, window w: SlidingWindow) -> KVCacheView {
        let bt = Self.windowBlockTokens, hk = layout.kvHeads, d = layout.headDimension
        let rowBytes = hk * d * layout.storage.elementBytes, b = s.buffer
        let blocks = (s.length + bt - 1) / bt
        let firstKept = s.length > sinkRows + ringRows ? (s.length - ringRows + bt - 1) / bt : 0
        var kb = [UnsafeRawPointer?](repeating: nil, count: blocks), vb = kb
        var ks: [UnsafePointer<Float>?] = [], vs: [UnsafePointer<Float>?] = []
        if b.ks != nil {
            ks = Array(repeating: nil, count: blocks)
            vs = ks
        }
        for i in 0..<blocks where i * bt < sinkRows || i >= firstKept {
            let r = row(i * bt)
            kb[i] = UnsafeRawPointer(b.k + r * rowBytes)
            vb[i] = UnsafeRawPointer(b.v + r * rowBytes)
            if let k = b.ks, let v = b.vs {
                ks[i] = UnsafePointer(k + r * hk)
                vs[i] = UnsafePointer(v + r * hk)
            }
        }
        return KVCacheView(owner: b, layout: layout, length: s.length, kBlocks: kb, vBlocks: vb, kScales: ks, vScales: vs,
                           blockTokens: bt, rowStride: hk * d, headStride: d, scaleStride: hk, headScaleStride: 1, window: w)
    }
}
