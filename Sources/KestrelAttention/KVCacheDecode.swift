import CKestrelKernels
import KestrelTensor

/// Options of ``KVCache/decode(query:sequence:options:)``. Value type.
public struct DecodeOptions: Sendable {
    /// Multiplies q·k; nil means 1/√headDimension.
    public var scale: Float?
    /// The new query tokens are the sequence's last NQ positions, and query i sees only positions
    /// up to its own (bottom-right aligned causal mask, as ``AttentionOptions/causal``). With
    /// `false` every query sees the whole sequence.
    public var causal: Bool
    /// Worker threads (≥ 1).
    public var threads: Int
    /// Position ranges (flash-decoding splits, ≥ 1), each covering every K/V head; nil picks one
    /// range on one thread and two per thread otherwise, each of at least 256 positions.
    public var splits: Int?
    /// Refuse a query holding NaN/±Inf (the cached rows were checked when appended).
    public var checksFiniteness: Bool

    /// Options; every field as documented above.
    public init(scale: Float? = nil, causal: Bool = true, threads: Int = 1, splits: Int? = nil, checksFiniteness: Bool = true) {
        self.scale = scale
        self.causal = causal
        self.threads = threads
        self.splits = splits
        self.checksFiniteness = checksFiniteness
    }
}

/// The block tables the decode workers read (valid while the view's arrays are borrowed).
private struct DecodeBlocks: @unchecked Sendable {  // read-only pointers into the view's arrays
    let k: UnsafePointer<UnsafeRawPointer?>, v: UnsafePointer<UnsafeRawPointer?>
    let kScales: UnsafePointer<UnsafePointer<Float>?>?, vScales: UnsafePointer<UnsafePointer<Float>?>?
}

/// The raw views the decode workers use.
private struct DecodePointers: @unchecked Sendable {  // workers write disjoint partials and scratch
    let q: UnsafePointer<Float>, partials: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
}

extension KVCache {
    /// Attention of NQ = 1…8 new query tokens against a cached sequence (whose last NQ positions
    /// are those tokens' own K/V, appended before the call), reading the rows in place through the
    /// block table.
    ///
    /// `query` is f32 [H, NQ, headDimension] with H a multiple of the cache's K/V heads; query head
    /// h reads K/V head h / (H / kvHeads), and each K/V row is read once for all the query heads
    /// and tokens sharing it. The positions are split into ranges computed on `options.threads`
    /// threads and combined by their log-sum-exp (flash-decoding). A cache with a
    /// ``SlidingWindow`` masks as ``AttentionOptions/windowLeft`` = `tokens − 1` plus the sink
    /// positions.
    ///
    /// Returns the output [H, NQ, headDimension] and log-sum-exp [H, NQ] (as FlashAttention's
    /// forward would on the same rows). Complexity: O(H · NQ · length · D) arithmetic, K and V read
    /// once: O(length · kvHeads · D) bytes of the storage type. Thread-safe as ``KVCache`` says.
    /// - Throws: `invalidArgument(name: "sequence")` for an unknown/released sequence or one
    ///   shorter than NQ (an empty cache included); `invalidArgument(name: "query")` for a rank
    ///   other than 3, a non-f32 query, NQ outside 1…8, H not a multiple of kvHeads, or a
    ///   non-finite value; `dimensionMismatch` for the wrong head dimension;
    ///   `invalidArgument` for threads or splits < 1 or a non-finite scale.
    public func decode(query: Tensor, sequence: KVSequence, options: DecodeOptions = DecodeOptions()) throws(KestrelError) -> AttentionOutput {
        let dims = query.shape.dims
        guard dims.count == 3 else { throw .invalidArgument(name: "query", reason: "must be [H, NQ, D], got rank \(dims.count)") }
        let lay = layout
        let (heads, nq, d) = (dims[0], dims[1], dims[2])
        guard d == lay.headDimension else { throw .dimensionMismatch(expected: [heads, nq, lay.headDimension], actual: dims) }
        guard query.dtype == .f32 else { throw .invalidArgument(name: "query", reason: "must be f32, got \(query.dtype)") }
        guard heads >= 1, heads % lay.kvHeads == 0 else {
            throw .invalidArgument(name: "query", reason: "\(heads) query heads are not a multiple of \(lay.kvHeads) K/V heads")
        }
        guard nq >= 1, nq <= Int(KESTREL_DECODE_MAX_QUERIES) else {
            throw .invalidArgument(name: "query", reason: "NQ must be in 1...\(KESTREL_DECODE_MAX_QUERIES), got \(nq)")
        }
        guard options.threads >= 1 else { throw .invalidArgument(name: "threads", reason: "must be ≥ 1, got \(options.threads)") }
        if let s = options.splits, s < 1 { throw .invalidArgument(name: "splits", reason: "must be ≥ 1, got \(s)") }
        if let s = options.scale, !s.isFinite { throw .invalidArgument(name: "scale", reason: "must be finite, got \(s)") }
        let q = try query.contiguous()
        if options.checksFiniteness, let i = try AttentionProblem.firstNonFinite(q, allowInfinity: false) {
            throw .invalidArgument(name: "query", reason: "non-finite value at flat index \(i)")
        }
        let v = try view(of: sequence)
        guard v.length >= nq else {
            throw .invalidArgument(name: "sequence", reason: "\(sequence) holds \(v.length) tokens, fewer than the \(nq) query tokens")
        }
        let scale = options.scale ?? 1 / Float(d).squareRoot()
        let group = heads / lay.kvHeads, rows = group * nq
        let length = v.length, diag = length - nq

        // Position ranges: the sinks (when the window leaves a gap), then equal parts of the rest.
        var rangeList: [Range<Int>] = []
        var start = 0
        if let w = v.window {
            start = max(0, diag - (w.tokens - 1))
            if w.sinkTokens > 0 && start > 0 { rangeList.append(0..<min(w.sinkTokens, start)) }
        }
        let span = length - start
        // One task covers every K/V head of a position range (each token's rows of all heads are
        // read together); one range per thread on one thread, else two per thread for balance.
        let perThread = options.threads == 1 ? 1 : 2
        let parts = options.splits ?? max(1, min((span + 255) / 256, perThread * options.threads))
        let step = max(1, (span + parts - 1) / parts)
        var lo = start
        while lo < length {
            rangeList.append(lo..<min(length, lo + step))
            lo += step
        }
        let ranges = rangeList
        let tasks = ranges.count
        let allRows = try SizeCheck.product(lay.kvHeads, rows)
        let part = try SizeCheck.product(allRows, d + 2)
        let scratchFloats = kestrel_decode_scratch_floats(allRows, d)
        guard scratchFloats > 0 else { throw .capacityExceeded(limit: .max, requested: .max) }
        let workers = min(options.threads, tasks)
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: try SizeCheck.product(tasks, part))
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: try SizeCheck.product(workers, scratchFloats))
        defer {
            partials.deallocate()
            scratch.deallocate()
        }
        let failure = FirstError()
        var out = try Tensor.zeros([heads, nq, d])
        var lse = try Tensor.zeros([heads, nq])
        let windowLeft = v.window.map { $0.tokens - 1 } ?? -1, sink = v.window?.sinkTokens ?? 0
        try q.withUnsafeBufferPointer { (qp: UnsafeBufferPointer<Float>) throws(KestrelError) in
            let ptr = DecodePointers(q: qp.baseAddress!, partials: partials, scratch: scratch)
            v.kBlocks.withUnsafeBufferPointer { kb in
                v.vBlocks.withUnsafeBufferPointer { vb in
                    v.kScales.withUnsafeBufferPointer { ks in
                        v.vScales.withUnsafeBufferPointer { vs in
                            let blocks = DecodeBlocks(k: kb.baseAddress!, v: vb.baseAddress!, kScales: ks.baseAddress, vScales: vs.baseAddress)
                            parallelForEach(tasks, threads: workers) { task, worker in
                                let r = ranges[task]
                                var a = kestrel_decode_args()
                                a.d = d; a.nq = nq; a.group = group; a.kv_heads = lay.kvHeads
                                a.q = ptr.q; a.q_stride = d
                                a.dtype = lay.storage.kernelType
                                a.k_blocks = blocks.k; a.v_blocks = blocks.v
                                a.k_scales = blocks.kScales; a.v_scales = blocks.vScales
                                a.block_tokens = v.blockTokens; a.row_stride = v.rowStride; a.head_stride = v.headStride
                                a.scale_stride = v.scaleStride; a.head_scale_stride = v.headScaleStride
                                a.lo = r.lowerBound; a.hi = r.upperBound
                                a.scale = scale
                                a.causal = options.causal ? 1 : 0
                                a.diag = diag
                                a.window_left = windowLeft
                                a.sink = sink
                                let p = ptr.partials + task * part
                                a.acc = p; a.m = p + allRows * d; a.l = p + allRows * d + allRows
                                a.scratch = ptr.scratch + worker * scratchFloats
                                let status = kestrel_decode_partial(&a)
                                if status != KESTREL_OK {
                                    failure.record(.backendFailure(routine: "kestrel_decode_partial", code: Int(status.rawValue)))
                                }
                            }
                        }
                    }
                }
            }
        }
        if let e = failure.error { throw e }
        try out.withUnsafeMutableBufferPointer { (o: UnsafeMutableBufferPointer<Float>) throws(KestrelError) in
            try lse.withUnsafeMutableBufferPointer { (l: UnsafeMutableBufferPointer<Float>) throws(KestrelError) in
                kestrel_decode_merge_f32(allRows, d, ranges.count, partials, o.baseAddress!, d, l.baseAddress!)
            }
        }
        withExtendedLifetime(v.owner) {}
        return AttentionOutput(output: out, logSumExp: lse)
    }
}
