import KestrelTensor

/// A KV cache with one contiguous, growable buffer per sequence: token-major rows
/// [capacity, kvHeads, headDimension] for K and for V (and [capacity, kvHeads] int8 scales), so an
/// append is one copy at the end and growth one copy of the used prefix.
///
/// Growth doubles the capacity (amortised O(1) copies per token); with `maxTokens` set, appends
/// beyond it throw. ``fork(_:)`` copies the rows (no sharing); prompts are not looked up
/// (``addSequence(prompt:)`` always reports 0 cached tokens) and nothing is evicted: use
/// ``PagedKVCache`` for prefix sharing and sliding windows.
///
/// Thread-safety: see ``KVCache``. A growing sequence gets a new buffer; a decode that already
/// holds the old one keeps it alive and reads it unchanged.
public final class ContiguousKVCache: KVCache, @unchecked Sendable {  // mutable state guarded by `lock`
    /// Heads, head dimension, storage.
    public let layout: KVCacheLayout
    /// Most tokens one sequence may hold (nil: unlimited).
    public let maxTokens: Int?
    /// Always nil: this cache keeps every position.
    public var window: SlidingWindow? { nil }

    /// One sequence's rows. Immutable size; rows past `used` are written only by appends.
    final class Buffer: @unchecked Sendable {  // rows below a reader's length are never rewritten
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

    /// A cache whose sequences start with room for `initialCapacity` tokens.
    /// - Throws: `invalidArgument` for a bad layout, `initialCapacity` < 1 or `maxTokens` < 1.
    public init(layout: KVCacheLayout, initialCapacity: Int = 256, maxTokens: Int? = nil) throws(KestrelError) {
        try layout.validate()
        guard initialCapacity >= 1 else {
            throw .invalidArgument(name: "initialCapacity", reason: "must be ≥ 1, got \(initialCapacity)")
        }
        if let m = maxTokens, m < 1 { throw .invalidArgument(name: "maxTokens", reason: "must be ≥ 1, got \(m)") }
        self.layout = layout
        self.maxTokens = maxTokens
        self.initialCapacity = min(initialCapacity, maxTokens ?? initialCapacity)
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
            if newLength > s.buffer.capacity {
                var cap = s.buffer.capacity
                while cap < newLength { cap = cap > Int.max / 2 ? newLength : cap * 2 }
                if let m = maxTokens { cap = min(cap, m) }
                let grown = try Buffer(capacity: cap, layout: layout)
                copyRows(from: s.buffer, to: grown, count: s.length)
                s.buffer = grown
            }
            write(k, v, tokenCount: t, into: s.buffer, at: s.length)
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

    /// Source rows are [kvHeads, T, D]; the buffer is token-major [capacity, kvHeads, D].
    private func write(_ k: EncodedRows, _ v: EncodedRows, tokenCount t: Int, into b: Buffer, at start: Int) {
        let hk = layout.kvHeads, rowBytes = layout.headDimension * layout.storage.elementBytes
        k.bytes.withUnsafeBytes { kb in
            v.bytes.withUnsafeBytes { vb in
                for h in 0..<hk {
                    for i in 0..<t {
                        let dst = ((start + i) * hk + h) * rowBytes, src = (h * t + i) * rowBytes
                        (b.k + dst).copyMemory(from: kb.baseAddress! + src, byteCount: rowBytes)
                        (b.v + dst).copyMemory(from: vb.baseAddress! + src, byteCount: rowBytes)
                        if let ks = b.ks, let vs = b.vs {
                            ks[(start + i) * hk + h] = k.scales[h * t + i]
                            vs[(start + i) * hk + h] = v.scales[h * t + i]
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
            copyRows(from: s.buffer, to: copy, count: s.length)
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
    /// used: their filled rows); block and prefix counters stay 0. O(sequences).
    public var statistics: KVCacheStatistics {
        lock.withLock {
            var st = KVCacheStatistics()
            st.sequences = sequences.count
            st.tokens = tokens
            for s in sequences.values {
                st.bytesAllocated += s.buffer.bytes
                st.bytesUsed += s.length * layout.bytesPerToken
            }
            return st
        }
    }

    /// See ``KVCache/view(of:)``: one block spanning the buffer. O(1).
    public func view(of sequence: KVSequence) throws(KestrelError) -> KVCacheView {
        try lock.withLock { () throws(KestrelError) -> KVCacheView in
            guard let s = sequences[sequence.id] else { throw unknown(sequence) }
            let b = s.buffer, d = layout.headDimension
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
}
