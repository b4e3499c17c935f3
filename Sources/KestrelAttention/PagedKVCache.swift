import CKestrelKernels
import KestrelTensor

/// A KV cache in fixed-size blocks from one preallocated pool (PagedAttention, Kwon et al. 2023).
///
/// Layout: block b holds, for K and for V, [kvHeads, blockTokens, headDimension] elements (the
/// `k_pages` layout of the paged fixtures) and, for int8, [kvHeads, blockTokens] f32 scales. Each
/// sequence has a block table: its i-th block holds positions i·blockTokens ..< (i+1)·blockTokens.
///
/// Allocation: a free list and a reference count per block. ``fork(_:)`` shares every block of
/// the sequence (counts + 1); a write to a shared, partly filled last block first copies it
/// (copy-on-write), so forks never see each other's appends. ``release(_:)`` drops the counts; a
/// block reaching 0 returns to the free list, or, when it holds a registered prefix block, stays
/// cached (reusable by a later prompt) until the pool needs it (least recently freed first).
///
/// Prefix cache (vLLM's automatic prefix caching): when a block of a sequence whose token ids are
/// all known fills up, it is registered under a hash chained over the token contents of all
/// blocks up to it. ``addSequence(prompt:)`` walks the prompt's full blocks through the chain;
/// a hash hit counts only after its stored tokens and its predecessor block are compared equal,
/// so a hash collision can never serve a wrong block.
///
/// Sliding window: with a ``SlidingWindow``, after each append the blocks all of whose positions
/// are older than `length − tokens − 7` (the window of the earliest of up to 8 new query tokens)
/// and that hold no sink position are released.
///
/// Complexity: append O(T · kvHeads · D) plus O(1) per block; fork, release O(blocks of the
/// sequence); prefix lookup O(prompt length). Memory: the pool, allocated once.
/// Thread-safety: see ``KVCache``; one lock guards the tables, rows of shared blocks are never
/// written, so decodes of different sequences read concurrently without it.
public final class PagedKVCache: KVCache, @unchecked Sendable {  // mutable state guarded by `lock`
    /// Heads, head dimension, storage.
    public let layout: KVCacheLayout
    /// Tokens per block.
    public let blockTokens: Int
    /// Blocks in the pool.
    public let blockCount: Int
    /// The eviction policy, if any.
    public let window: SlidingWindow?

    private let lock = PlainLock()
    private let kPool: UnsafeMutableRawPointer, vPool: UnsafeMutableRawPointer
    private let kScalePool: UnsafeMutablePointer<Float>?, vScalePool: UnsafeMutablePointer<Float>?
    /// Bytes of one block's K (or V) rows; floats of its scales.
    private let blockBytes: Int, blockScales: Int

    private var refCount: [Int32]
    private var freeList: [Int32]
    /// Prefix cache: hash → block, and per block its hash, token ids and predecessor block.
    private var hashToBlock: [UInt64: Int32] = [:]
    private var blockHash: [UInt64?]
    private var blockTokenIDs: [Int32]
    private var blockParent: [Int32]
    /// Cached blocks no sequence references, least recently freed first (intrusive list).
    private var lruPrev: [Int32], lruNext: [Int32]
    private var lruHead: Int32 = -1, lruTail: Int32 = -1
    private var lruCount = 0

    private struct Sequence {
        var blocks: [Int32] = []  // -1: evicted
        var length = 0
        /// Token ids of the partial last block, while every id so far is known.
        var pendingTokens: [Int32]? = []
        /// Chain hash and block of the last full block (for the next block's hash).
        var chainHash: UInt64 = 0
        var chainBlock: Int32 = -1
    }
    private var sequences: [Int: Sequence] = [:]
    private var nextID = 0
    private var stats = KVCacheStatistics()

    /// The chained block hash; replaceable by tests to force collisions.
    var hashBlock: @Sendable (_ parent: UInt64, _ tokens: ArraySlice<Int32>) -> UInt64 = PagedKVCache.chainHash

    /// A pool of `blockCount` blocks of `blockTokens` tokens.
    /// - Throws: `invalidArgument` for a bad layout, block size or count < 1, a window of < 1
    ///   token or negative sinks; `capacityExceeded` when the pool size overflows or cannot be
    ///   allocated.
    public init(layout: KVCacheLayout, blockTokens: Int = 16, blockCount: Int, window: SlidingWindow? = nil) throws(KestrelError) {
        try layout.validate()
        guard blockTokens >= 1 else { throw .invalidArgument(name: "blockTokens", reason: "must be ≥ 1, got \(blockTokens)") }
        guard blockCount >= 1, blockCount < Int(Int32.max) else {
            throw .invalidArgument(name: "blockCount", reason: "must be in 1..<\(Int32.max), got \(blockCount)")
        }
        if let w = window {
            guard w.tokens >= 1 else { throw .invalidArgument(name: "window", reason: "tokens must be ≥ 1, got \(w.tokens)") }
            guard w.sinkTokens >= 0 else { throw .invalidArgument(name: "window", reason: "sinkTokens must be ≥ 0, got \(w.sinkTokens)") }
        }
        self.layout = layout
        self.blockTokens = blockTokens
        self.blockCount = blockCount
        self.window = window
        blockBytes = try SizeCheck.bytes(layout.kvHeads, blockTokens, layout.headDimension, layout.storage.elementBytes)
        blockScales = layout.storage == .int8 ? try SizeCheck.product(layout.kvHeads, blockTokens) : 0
        let poolBytes = try SizeCheck.product(blockBytes, blockCount)
        _ = try SizeCheck.product(blockCount, blockTokens)
        kPool = .allocate(byteCount: max(1, poolBytes), alignment: 64)
        vPool = .allocate(byteCount: max(1, poolBytes), alignment: 64)
        if blockScales > 0 {
            let n = try SizeCheck.product(blockScales, blockCount)
            kScalePool = .allocate(capacity: n)
            vScalePool = .allocate(capacity: n)
        } else {
            kScalePool = nil
            vScalePool = nil
        }
        refCount = Array(repeating: 0, count: blockCount)
        freeList = (0..<Int32(blockCount)).reversed()
        blockHash = Array(repeating: nil, count: blockCount)
        blockTokenIDs = Array(repeating: 0, count: blockCount * blockTokens)
        blockParent = Array(repeating: -1, count: blockCount)
        lruPrev = Array(repeating: -1, count: blockCount)
        lruNext = Array(repeating: -1, count: blockCount)
        let scaleBytes = layout.storage == .int8 ? 2 * blockScales * 4 : 0
        stats.bytesAllocated = try SizeCheck.product(2 * blockBytes + scaleBytes, blockCount)
        stats.blocksFree = blockCount
    }

    deinit {
        kPool.deallocate()
        vPool.deallocate()
        kScalePool?.deallocate()
        vScalePool?.deallocate()
    }

    /// Bytes one cached token occupies (``KVCacheLayout/bytesPerToken``).
    public var bytesPerToken: Int { layout.bytesPerToken }

    // MARK: Hashing

    /// FNV-1a over the parent hash and the token ids, finished by SplitMix64's mixer.
    static func chainHash(parent: UInt64, tokens: ArraySlice<Int32>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ parent
        for t in tokens {
            h = (h ^ UInt64(UInt32(bitPattern: t))) &* 0x0000_0100_0000_01b3
        }
        h = (h ^ (h >> 30)) &* 0xbf58_476d_1ce4_e5b9
        h = (h ^ (h >> 27)) &* 0x94d0_49bb_1331_11eb
        return h ^ (h >> 31)
    }

    // MARK: Block allocator (lock held)

    private func lruRemove(_ b: Int32) {
        let p = lruPrev[Int(b)], n = lruNext[Int(b)]
        if p >= 0 { lruNext[Int(p)] = n } else { lruHead = n }
        if n >= 0 { lruPrev[Int(n)] = p } else { lruTail = p }
        lruPrev[Int(b)] = -1
        lruNext[Int(b)] = -1
        lruCount -= 1
    }

    private func lruAppend(_ b: Int32) {
        lruPrev[Int(b)] = lruTail
        lruNext[Int(b)] = -1
        if lruTail >= 0 { lruNext[Int(lruTail)] = b } else { lruHead = b }
        lruTail = b
        lruCount += 1
    }

    private var availableBlocks: Int { freeList.count + lruCount }

    /// A block with count 1: from the free list, else the least recently freed cached block.
    private func allocate() -> Int32 {
        if let b = freeList.popLast() {
            refCount[Int(b)] = 1
            return b
        }
        let b = lruHead
        precondition(b >= 0, "allocate() called without an available block")  // callers check availableBlocks
        lruRemove(b)
        unregister(b)
        stats.prefixEvictedBlocks += 1
        refCount[Int(b)] = 1
        return b
    }

    private func unregister(_ b: Int32) {
        if let h = blockHash[Int(b)] {
            if hashToBlock[h] == b { hashToBlock[h] = nil }
            blockHash[Int(b)] = nil
        }
    }

    private func retain(_ b: Int32) {
        if refCount[Int(b)] == 0 { lruRemove(b) }  // a cached block comes back into use
        refCount[Int(b)] += 1
    }

    private func releaseBlock(_ b: Int32) {
        refCount[Int(b)] -= 1
        guard refCount[Int(b)] == 0 else { return }
        if blockHash[Int(b)] != nil { lruAppend(b) } else { freeList.append(b) }
    }

    // MARK: KVCache

    /// See ``KVCache/addSequence(prompt:)``. Counts the lookup, hit blocks and served tokens.
    public func addSequence(prompt: [Int32]?) throws(KestrelError) -> (sequence: KVSequence, cachedTokens: Int) {
        lock.withLock {
            var s = Sequence()
            if let prompt {
                stats.prefixLookups += 1
                let full = prompt.isEmpty ? 0 : (prompt.count - 1) / blockTokens
                for i in 0..<full {
                    let slice = prompt[(i * blockTokens)..<((i + 1) * blockTokens)]
                    let h = hashBlock(s.chainHash, slice)
                    guard let b = hashToBlock[h], blockParent[Int(b)] == s.chainBlock,
                          blockTokenIDs[(Int(b) * blockTokens)..<((Int(b) + 1) * blockTokens)].elementsEqual(slice)
                    else { break }
                    retain(b)
                    s.blocks.append(b)
                    s.chainHash = h
                    s.chainBlock = b
                }
                s.length = s.blocks.count * blockTokens
                stats.prefixHitBlocks += s.blocks.count
                stats.tokensServedFromCache += s.length
                stats.tokens += s.length
            }
            let id = nextID
            nextID += 1
            sequences[id] = s
            return (KVSequence(id: id), s.length)
        }
    }

    private func unknown(_ s: KVSequence) -> KestrelError {
        .invalidArgument(name: "sequence", reason: "\(s) is unknown or released")
    }

    /// See ``KVCache/append(to:keys:values:tokens:)``.
    /// - Throws: also `capacityExceeded(limit: blocks available, requested: blocks needed)` when
    ///   the pool cannot hold the new rows (the sequence is unchanged).
    public func append(to sequence: KVSequence, keys: Tensor, values: Tensor, tokens: [Int32]?) throws(KestrelError) {
        let (k, v, t) = try EncodedRows.encode(keys: keys, values: values, tokens: tokens, layout: layout)
        try lock.withLock { () throws(KestrelError) in
            guard var s = sequences[sequence.id] else { throw unknown(sequence) }
            guard t > 0 else { return }
            let (newLength, o) = s.length.addingReportingOverflow(t)
            guard !o else { throw .capacityExceeded(limit: .max, requested: .max) }
            // Blocks needed: new ones past the table, plus a copy of a shared partial last block.
            let haveBlocks = s.blocks.count
            let needBlocks = newLength / blockTokens + (newLength % blockTokens == 0 ? 0 : 1)  // no overflow near Int.max
            var need = needBlocks - haveBlocks
            let fill = s.length % blockTokens
            let cow = fill != 0 && refCount[Int(s.blocks[haveBlocks - 1])] > 1
            if cow { need += 1 }
            guard need <= availableBlocks else { throw .capacityExceeded(limit: availableBlocks, requested: need) }
            if cow {
                let old = s.blocks[haveBlocks - 1], new = allocate()
                copyBlock(from: old, to: new)
                releaseBlock(old)
                s.blocks[haveBlocks - 1] = new
                stats.copiedOnWriteBlocks += 1
            }
            while s.blocks.count < needBlocks { s.blocks.append(allocate()) }
            write(k, v, tokenCount: t, into: s, from: s.length)
            // Token ids: register each block that fills while every id is known.
            if let tokens, s.pendingTokens != nil {
                var pos = s.length
                for tok in tokens {
                    s.pendingTokens!.append(tok)
                    pos += 1
                    if pos % blockTokens == 0 {
                        let b = s.blocks[pos / blockTokens - 1]
                        let pending = s.pendingTokens!
                        let h = hashBlock(s.chainHash, pending[...])
                        if blockHash[Int(b)] == nil && hashToBlock[h] == nil {
                            hashToBlock[h] = b
                            blockHash[Int(b)] = h
                            blockParent[Int(b)] = s.chainBlock
                            for (i, x) in pending.enumerated() { blockTokenIDs[Int(b) * blockTokens + i] = x }
                        }
                        s.chainHash = h
                        s.chainBlock = b
                        s.pendingTokens = []
                    }
                }
            } else {
                s.pendingTokens = nil
            }
            s.length = newLength
            evict(&s)
            sequences[sequence.id] = s
            stats.tokens += t
        }
    }

    /// Copies T rows per head into the sequence's blocks from position `start` (lock held; the
    /// target blocks have count 1).
    private func write(_ k: EncodedRows, _ v: EncodedRows, tokenCount t: Int, into s: Sequence, from start: Int) {
        let d = layout.headDimension, e = layout.storage.elementBytes, rowBytes = d * e
        k.bytes.withUnsafeBytes { kb in
            v.bytes.withUnsafeBytes { vb in
                for h in 0..<layout.kvHeads {
                    var i = 0
                    while i < t {
                        let pos = start + i
                        let b = Int(s.blocks[pos / blockTokens]), r = pos % blockTokens
                        let run = min(t - i, blockTokens - r)  // rows contiguous in both source and block
                        let dst = b * blockBytes + (h * blockTokens + r) * rowBytes
                        let src = (h * t + i) * rowBytes
                        (kPool + dst).copyMemory(from: kb.baseAddress! + src, byteCount: run * rowBytes)
                        (vPool + dst).copyMemory(from: vb.baseAddress! + src, byteCount: run * rowBytes)
                        if let ks = kScalePool, let vs = vScalePool {
                            let sd = b * blockScales + h * blockTokens + r
                            for j in 0..<run {
                                ks[sd + j] = k.scales[h * t + i + j]
                                vs[sd + j] = v.scales[h * t + i + j]
                            }
                        }
                        i += run
                    }
                }
            }
        }
    }

    private func copyBlock(from a: Int32, to b: Int32) {
        (kPool + Int(b) * blockBytes).copyMemory(from: kPool + Int(a) * blockBytes, byteCount: blockBytes)
        (vPool + Int(b) * blockBytes).copyMemory(from: vPool + Int(a) * blockBytes, byteCount: blockBytes)
        if let ks = kScalePool, let vs = vScalePool {
            (ks + Int(b) * blockScales).update(from: ks + Int(a) * blockScales, count: blockScales)
            (vs + Int(b) * blockScales).update(from: vs + Int(a) * blockScales, count: blockScales)
        }
    }

    /// Drops the blocks the window no longer needs (lock held).
    private func evict(_ s: inout Sequence) {
        guard let w = window else { return }
        let keepFrom = s.length - w.tokens - (Int(KESTREL_DECODE_MAX_QUERIES) - 1)
        guard keepFrom > 0 else { return }
        let firstNonSink = (w.sinkTokens + blockTokens - 1) / blockTokens
        let lastDroppable = keepFrom / blockTokens  // blocks below this index end before keepFrom
        guard firstNonSink < lastDroppable else { return }
        for i in firstNonSink..<lastDroppable where s.blocks[i] >= 0 {
            releaseBlock(s.blocks[i])
            s.blocks[i] = -1
            stats.windowEvictedBlocks += 1
        }
    }

    /// See ``KVCache/fork(_:)``: shares every block (copy-on-write). O(blocks).
    public func fork(_ sequence: KVSequence) throws(KestrelError) -> KVSequence {
        try lock.withLock { () throws(KestrelError) -> KVSequence in
            guard let s = sequences[sequence.id] else { throw unknown(sequence) }
            for b in s.blocks where b >= 0 { retain(b) }
            let id = nextID
            nextID += 1
            sequences[id] = s
            stats.tokens += s.length
            return KVSequence(id: id)
        }
    }

    /// See ``KVCache/release(_:)``. O(blocks).
    public func release(_ sequence: KVSequence) throws(KestrelError) {
        try lock.withLock { () throws(KestrelError) in
            guard let s = sequences.removeValue(forKey: sequence.id) else { throw unknown(sequence) }
            for b in s.blocks where b >= 0 { releaseBlock(b) }
            stats.tokens -= s.length
        }
    }

    /// See ``KVCache/length(of:)``.
    public func length(of sequence: KVSequence) throws(KestrelError) -> Int {
        try lock.withLock { () throws(KestrelError) -> Int in
            guard let s = sequences[sequence.id] else { throw unknown(sequence) }
            return s.length
        }
    }

    /// The sequence's block table (-1 for evicted blocks). O(blocks).
    public func blockTable(of sequence: KVSequence) throws(KestrelError) -> [Int] {
        try lock.withLock { () throws(KestrelError) -> [Int] in
            guard let s = sequences[sequence.id] else { throw unknown(sequence) }
            return s.blocks.map(Int.init)
        }
    }

    /// See ``KVCache/statistics``. O(1).
    public var statistics: KVCacheStatistics {
        lock.withLock {
            var st = stats
            st.sequences = sequences.count
            st.blocksFree = availableBlocks
            st.blocksCached = lruCount
            st.blocksUsed = blockCount - availableBlocks
            st.bytesUsed = st.blocksUsed * (st.bytesAllocated / blockCount)
            return st
        }
    }

    /// See ``KVCache/view(of:)``. O(blocks).
    public func view(of sequence: KVSequence) throws(KestrelError) -> KVCacheView {
        try lock.withLock { () throws(KestrelError) -> KVCacheView in
            guard let s = sequences[sequence.id] else { throw unknown(sequence) }
            let kb = s.blocks.map { $0 < 0 ? nil : UnsafeRawPointer(kPool + Int($0) * blockBytes) }
            let vb = s.blocks.map { $0 < 0 ? nil : UnsafeRawPointer(vPool + Int($0) * blockBytes) }
            var ks: [UnsafePointer<Float>?] = [], vs: [UnsafePointer<Float>?] = []
            if let kp = kScalePool, let vp = vScalePool {
                ks = s.blocks.map { $0 < 0 ? nil : UnsafePointer(kp + Int($0) * blockScales) }
                vs = s.blocks.map { $0 < 0 ? nil : UnsafePointer(vp + Int($0) * blockScales) }
            }
            return KVCacheView(owner: self, layout: layout, length: s.length, kBlocks: kb, vBlocks: vb,
                               kScales: ks, vScales: vs, blockTokens: blockTokens,
                               rowStride: layout.headDimension, headStride: blockTokens * layout.headDimension,
                               scaleStride: 1, headScaleStride: blockTokens, window: window)
        }
    }
}
