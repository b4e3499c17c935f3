import CKestrelKernels
import KestrelTensor
import Synchronization

/// The raw views of a routed single-query forward pass (workers write disjoint partials and scratch).
private struct SingleQueryPointers: @unchecked Sendable {
    let q: UnsafePointer<Float>
    let blocks: UnsafeMutablePointer<UnsafeRawPointer?>  // per batch item: K, then (at + batch) V
    let partials: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
}

extension FlashAttention {
    /// Whether ``forward(query:key:value:options:)`` sends this problem to the KV-cache decode
    /// kernel (`kestrel_decode_partial`, the kernel behind ``KVCache/decode(query:sequence:options:)``)
    /// instead of the tile kernel: one query row (NQ = 1), `tileProducts` `.automatic`, f32 K and V,
    /// no additive bias, a SIMD tier. With a single query the tile kernel fills one lane of each
    /// query vector, while decode scores each K row against the query as one dot product; on an
    /// AMD EPYC (Zen 3, AVX2 tier) decode took 0.68–0.79× the tile kernel's CPU time at D = 64 and
    /// 128, NK = 4096 and 16 384 (Documentation/Attention.md § Few queries). From NQ = 2 on the
    /// tile kernel's reuse of each K/V element across query rows wins. Causal, window and key
    /// padding masks are the decode kernel's own. O(1).
    static func routesToDecode(_ p: AttentionProblem, tileProducts: TileProducts, isa: ISALevel = .active) -> Bool {
        p.nq == 1 && tileProducts == .automatic && p.bias == nil && p.k.dtype == .f32 && p.v.dtype == .f32 && isa != .scalar
    }

    /// The forward pass of a single-query problem through the decode kernel: per batch item, all
    /// heads in one call per position range (one range on one thread; otherwise up to two per
    /// thread, each of at least 256 keys, as ``KVCache/decode(query:sequence:options:)`` splits),
    /// the ranges merged by their log-sum-exp (`kestrel_decode_merge_f32`). Output and
    /// log-sum-exp mean what the tile kernel's do (−∞ and a zero row for a row that sees no key).
    /// K [B, HKV, NK, D] is read in place as one block of NK tokens per batch item (token stride
    /// D, head stride NK · D). Partials and scratch come from the pooled worker scratch, so a call
    /// on one thread allocates nothing after the first.
    func forwardSingleQuery(_ p: AttentionProblem, into result: inout AttentionOutput) throws(KestrelError) {
        let (nk, d, heads) = (p.nk, p.d, p.heads)
        let parts = p.threads == 1 ? 1 : max(1, min((nk + 255) / 256, 2 * p.threads))
        let step = (nk + parts - 1) / parts
        let tasks = try SizeCheck.product(p.batch, parts)
        let workers = min(p.threads, tasks)
        let part = try SizeCheck.product(heads, d + 2)
        let scratchFloats = kestrel_decode_scratch_floats(heads, d)
        guard scratchFloats > 0 else { throw .capacityExceeded(limit: .max, requested: .max) }
        let partialFloats = try SizeCheck.product(tasks, part)
        let perWorker = (scratchFloats + 15) / 16 * 16
        let buffer = try ScratchCache.shared.take(floats: partialFloats + (try SizeCheck.product(perWorker, workers)))
        defer { ScratchCache.shared.give(buffer) }
        let base = buffer.baseAddress.assumingMemoryBound(to: Float.self)
        let status = Atomic<Int32>(0)
        let batch = p.batch
        try result.output.withUnsafeMutableBufferPointer { (o: UnsafeMutableBufferPointer<Float>) throws(KestrelError) in
            try result.logSumExp.withUnsafeMutableBufferPointer { (l: UnsafeMutableBufferPointer<Float>) throws(KestrelError) in
                try p.q.withUnsafeBufferPointer { (qp: UnsafeBufferPointer<Float>) throws(KestrelError) in
                    try p.k.withUnsafeBufferPointer { (kp: UnsafeBufferPointer<Float>) throws(KestrelError) in
                        try p.v.withUnsafeBufferPointer { (vp: UnsafeBufferPointer<Float>) throws(KestrelError) in
                            withUnsafeTemporaryAllocation(of: UnsafeRawPointer?.self, capacity: 2 * batch) { blocks in
                                for b in 0..<batch {
                                    blocks[b] = UnsafeRawPointer(kp.baseAddress! + b * p.kvHeads * nk * d)
                                    blocks[batch + b] = UnsafeRawPointer(vp.baseAddress! + b * p.kvHeads * nk * d)
                                }
                                let ptr = SingleQueryPointers(q: qp.baseAddress!, blocks: blocks.baseAddress!, partials: base,
                                                              scratch: base + partialFloats)
                                parallelForEach(tasks, threads: workers) { task, worker in
                                    let b = task / parts, r = task % parts
                                    var a = kestrel_decode_args()
                                    a.d = d; a.nq = 1; a.group = p.group; a.kv_heads = p.kvHeads
                                    a.q = ptr.q + b * heads * d; a.q_stride = d
                                    a.dtype = Int32(KESTREL_KV_F32.rawValue)
                                    a.k_blocks = UnsafePointer(ptr.blocks + b)
                                    a.v_blocks = UnsafePointer(ptr.blocks + batch + b)
                                    a.block_tokens = nk; a.row_stride = d; a.head_stride = nk * d
                                    // Keys at or past the item's length are padding: outside every range.
                                    let len = p.keyLength(b)
                                    a.lo = min(len, r * step); a.hi = min(len, (r + 1) * step)
                                    a.scale = p.scale
                                    a.causal = p.causal ? 1 : 0
                                    a.diag = p.diagonal(row: 0)
                                    a.window_left = p.windowLeft ?? -1
                                    let out = ptr.partials + task * part
                                    a.acc = out; a.m = out + heads * d; a.l = out + heads * d + heads
                                    a.scratch = ptr.scratch + worker * perWorker
                                    let s = kestrel_decode_partial(&a)
                                    if s != KESTREL_OK { status.store(Int32(s.rawValue), ordering: .relaxed) }
                                }
                            }
                        }
                    }
                }
                let st = status.load(ordering: .relaxed)
                if st != 0 { throw .backendFailure(routine: "kestrel_decode_partial", code: Int(st)) }
                for b in 0..<batch {
                    kestrel_decode_merge_f32(heads, d, parts, base + b * parts * part, o.baseAddress! + b * heads * d, d,
                                             l.baseAddress! + b * heads)
                }
            }
        }
    }
}
