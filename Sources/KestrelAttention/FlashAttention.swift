import CKestrelKernels
import KestrelTensor
import Synchronization

/// Tile sizes of ``FlashAttention``: query rows and key rows per tile.
public struct AttentionBlockSizes: Sendable, Hashable {
    /// Query rows per tile (≥ 1).
    public var query: Int
    /// Key rows per tile (≥ 1).
    public var key: Int

    /// Explicit sizes.
    public init(query: Int, key: Int) {
        self.query = query
        self.key = key
    }

    /// The default for a head dimension on the CPU this runs on: its L1d and L2 sizes as reported
    /// by `kestrel_cpu_describe` (``CPUDescription``), read at run time; see
    /// ``standard(headDimension:l1dBytes:l2Bytes:)``.
    /// O(1), no allocation; thread-safe.
    public static func standard(headDimension d: Int) -> AttentionBlockSizes {
        let cpu = kestrel_cpu_describe().pointee
        return standard(headDimension: d, l1dBytes: Int(clamping: cpu.l1d_bytes), l2Bytes: Int(clamping: cpu.l2_bytes))
    }

    /// The rule behind ``standard(headDimension:)`` for given cache sizes (0 = unknown: 32 KiB L1d,
    /// 1 MiB L2). A query block streams every key and value row it can see through the caches once
    /// (from L3 when a head's K and V exceed the L2), so the bytes fetched per multiply-add fall
    /// with the query rows: query rows are 64, fewer only when the scaled, transposed query tile
    /// and the accumulator (2 · query · D floats, swept from L2) would exceed a quarter of the L2
    /// (a multiple of 16 in 16…64; above 64 a causal block's masked triangle costs more than the
    /// reuse gains at N = 1024). The score tile (key · query floats), read by every row group and
    /// head-dimension strip of the P·V step, gets a quarter of the L1d, the rest holding the K rows
    /// and V strip in flight: key rows a multiple of 16 in 32…512, shrunk until the K and V tiles
    /// (2 · key · D floats) fit half the L2. AMD EPYC (Zen 3, 32 KiB L1d, 512 KiB L2): 64 × 32 at
    /// D = 64…256; Emerald Rapids Xeon (48 KiB, 2 MiB): 64 × 48. Measured in Documentation/Attention.md.
    public static func standard(headDimension d: Int, l1dBytes: Int, l2Bytes: Int) -> AttentionBlockSizes {
        let l1 = l1dBytes > 0 ? l1dBytes : 32 << 10, l2 = l2Bytes > 0 ? l2Bytes : 1 << 20
        let dd = max(1, d)
        var query = 64
        while query > 16 && 2 * query * dd * 4 > l2 / 4 { query -= 16 }
        var key = min(512, max(32, l1 / 4 / 4 / query / 16 * 16))
        while key > 32 && 2 * key * dd * 4 > l2 / 2 { key -= 16 }
        return AttentionBlockSizes(query: query, key: key)
    }
}

/// Exact attention without the N×N score matrix: query blocks against key blocks with an
/// online softmax (running max and sum per row, the accumulator rescaled when the max grows),
/// the log-sum-exp saved per row (FlashAttention, Dao et al. 2022). Causal and sliding-window
/// key blocks that no row of a query block can see are skipped, not computed and masked.
///
/// Work is split over batch × heads × query blocks on `options.threads` workers; each worker
/// keeps one scratch of `kestrel_attention_scratch_floats(query, key, D)` floats (about
/// query · (key + 2D) + 2 · key · D), taken from a process-wide ``BufferPool`` and kept for the
/// next call, so a call with caller-provided outputs
/// (``forward(query:key:value:options:into:)``) allocates nothing on one thread after the first.
/// f16/bf16 K and V stay in their format and are converted one key block at a time into the
/// worker's scratch by the active tier's conversion kernel.
/// Complexity: O(B · H · NQ · NK · D) time (about half with a causal mask), O(threads · tile)
/// extra memory. Stateless value; thread-safe (concurrent calls each take their own scratch).
public struct FlashAttention: AttentionKernel {
    /// How the two tile products (S = Q·Kᵀ and acc += P·V) are computed.
    public enum TileProducts: Sendable, Hashable {
        /// Chosen per call by ``resolved(headDimension:blockSizes:isa:)`` (the default).
        case automatic
        /// BLAS SGEMM on each tile (the online softmax in between stays in C).
        case blas
        /// The C tile kernel of the active tier (`kestrel_attention_f32`: AVX2, AVX-512, NEON or
        /// scalar), with register-blocked micro-kernels for both products; no BLAS call.
        case cKernel

        /// The concrete choice (never `.automatic`) for a problem on a kernel tier. The rule,
        /// from measurements at B = 1, H = 8, D = 64…256, N = 512…4096, 1 and 2 threads
        /// (Documentation/Attention.md): on a SIMD tier (AVX2, AVX-512, NEON) the C kernel, 3.5–11×
        /// faster than per-tile SGEMM calls (OpenBLAS pays a per-call packing and dispatch cost
        /// that tiles of a few hundred thousand FLOPs cannot amortise, and the BLAS path passes
        /// the probabilities through memory once more); on the scalar tier, BLAS, whose own
        /// vector code beats portable C by about 2.5×. A tile whose GEMMs are large enough to
        /// amortise BLAS's overhead (query · key · D ≥ 2²⁴ multiply-adds, far above the default
        /// tiles) also goes to BLAS. Explicit `.blas` / `.cKernel` override the rule. O(1).
        public static func resolved(headDimension d: Int, blockSizes b: AttentionBlockSizes, isa: ISALevel = .active) -> TileProducts {
            if isa == .scalar { return .blas }
            let (product, overflow) = b.query.multipliedReportingOverflow(by: b.key)
            let (macs, overflow2) = product.multipliedReportingOverflow(by: max(1, d))
            return overflow || overflow2 || macs >= 1 << 24 ? .blas : .cKernel
        }
    }

    /// Tile sizes; nil chooses ``AttentionBlockSizes/standard(headDimension:)``.
    public var blockSizes: AttentionBlockSizes?
    /// Tile-product implementation.
    public var tileProducts: TileProducts

    /// A kernel with the given tile sizes (nil: the default for the head dimension and this CPU's
    /// caches) and tile products (default `.automatic`).
    public init(blockSizes: AttentionBlockSizes? = nil, tileProducts: TileProducts = .automatic) {
        self.blockSizes = blockSizes
        self.tileProducts = tileProducts
    }

    /// Bytes of scratch a forward pass holds besides its inputs and outputs.
    /// - Throws: `invalidArgument` when a size is below 1 or the total overflows `Int`.
    public static func workspaceBytes(headDimension d: Int, blockSizes b: AttentionBlockSizes, threads: Int) throws(KestrelError) -> Int {
        try SizeCheck.bytes(scratchFloats(headDimension: d, blockSizes: b), 4, max(1, threads))
    }

    /// Floats of one worker's scratch (`kestrel_attention_scratch_floats`), checked.
    static func scratchFloats(headDimension d: Int, blockSizes b: AttentionBlockSizes) throws(KestrelError) -> Int {
        guard d >= 1, b.query >= 1, b.key >= 1 else {
            throw .invalidArgument(name: "blockSizes", reason: "tile sizes and head dimension must be ≥ 1, got \(b.query) × \(b.key), D \(d)")
        }
        let n = kestrel_attention_scratch_floats(b.query, b.key, d)
        guard n > 0, n <= Int.max / 4 else {
            throw .invalidArgument(name: "blockSizes", reason: "scratch for \(b.query) × \(b.key) tiles at D \(d) overflows")
        }
        return n
    }

    /// See ``AttentionKernel/forward(query:key:value:options:)``.
    /// - Throws: also `invalidArgument(name: "blockSizes")` for a tile size below 1.
    public func forward(query: Tensor, key: Tensor, value: Tensor, options: AttentionOptions) throws(KestrelError) -> AttentionOutput {
        // The tile kernel takes one K/V format: mixed ones are widened to f32 up front.
        let p = try AttentionProblem(query: query, key: key, value: value, options: options, widensKeyValue: key.dtype != value.dtype)
        var result = AttentionOutput(output: try Tensor.zeros([p.batch, p.heads, p.nq, p.d]),
                                     logSumExp: try Tensor.zeros([p.batch, p.heads, p.nq]))
        try run(p, into: &result)
        return result
    }

    /// The forward pass into caller-provided tensors: `into.output` f32 [B, H, NQ, D] and
    /// `into.logSumExp` f32 [B, H, NQ], both overwritten. With a contiguous, uniquely held output
    /// (for example the result of a previous call, kept and passed again) and f32 or f16/bf16 K/V,
    /// a call on one thread allocates nothing after the first (scratch is pooled); with more
    /// threads the package's parallel loop starts its worker threads per call.
    /// - Throws: as ``forward(query:key:value:options:)``; `dimensionMismatch` when an output
    ///   tensor's shape is wrong; `invalidArgument(name: "into")` when one is not f32.
    /// - Complexity: as ``forward(query:key:value:options:)``. Thread-safe for distinct `into`.
    public func forward(query: Tensor, key: Tensor, value: Tensor, options: AttentionOptions,
                        into result: inout AttentionOutput) throws(KestrelError) {
        // The tile kernel takes one K/V format: mixed ones are widened to f32 up front.
        let p = try AttentionProblem(query: query, key: key, value: value, options: options, widensKeyValue: key.dtype != value.dtype)
        let od = result.output.shape.dims, ld = result.logSumExp.shape.dims
        guard result.output.dtype == .f32, result.logSumExp.dtype == .f32 else {
            throw .invalidArgument(name: "into", reason: "output and logSumExp must be f32, got \(result.output.dtype), \(result.logSumExp.dtype)")
        }
        guard od.count == 4, od[0] == p.batch, od[1] == p.heads, od[2] == p.nq, od[3] == p.d else {
            throw .dimensionMismatch(expected: [p.batch, p.heads, p.nq, p.d], actual: od)
        }
        guard ld.count == 3, ld[0] == p.batch, ld[1] == p.heads, ld[2] == p.nq else {
            throw .dimensionMismatch(expected: [p.batch, p.heads, p.nq], actual: ld)
        }
        try run(p, into: &result)
    }

    /// Block sizes and tile products for a problem, validated.
    private func plan(_ p: AttentionProblem) throws(KestrelError) -> (AttentionBlockSizes, TileProducts) {
        let blocks = blockSizes ?? .standard(headDimension: p.d)
        guard blocks.query >= 1, blocks.key >= 1 else {
            throw .invalidArgument(name: "blockSizes", reason: "tile sizes must be ≥ 1, got \(blocks.query) × \(blocks.key)")
        }
        var products = tileProducts == .automatic ? TileProducts.resolved(headDimension: p.d, blockSizes: blocks) : tileProducts
        // BLAS tiles need f32 K/V: f16/bf16 ones always take the C kernel (converted per key block).
        if p.k.dtype != .f32 { products = .cKernel }
        return (blocks, products)
    }

    private func run(_ p: AttentionProblem, into result: inout AttentionOutput) throws(KestrelError) {
        let (blocks, products) = try plan(p)
        // One query row: the decode kernel is faster (FlashAttention+FewQueries.swift).
        if Self.routesToDecode(p, tileProducts: tileProducts) { return try forwardSingleQuery(p, into: &result) }
        let (nq, nk, d) = (p.nq, p.nk, p.d)
        let queryBlocks = (nq + blocks.query - 1) / blocks.query
        let tasks = try SizeCheck.product(try SizeCheck.product(p.batch, p.heads), queryBlocks)
        let workers = min(p.threads, tasks)
        // Per-worker slices start on 64-byte boundaries (no false sharing between workers).
        let perWorker = (try Self.scratchFloats(headDimension: d, blockSizes: blocks) + 15) / 16 * 16
        let scratch = try ScratchCache.shared.take(floats: try SizeCheck.product(perWorker, workers))
        defer { ScratchCache.shared.give(scratch) }
        // Errors: the C kernel's status in an atomic (no allocation); BLAS errors, only on the
        // BLAS path, in a FirstError.
        let cStatus = Atomic<Int32>(0)
        let failure: FirstError? = products == .blas ? FirstError() : nil
        let half = p.k.dtype != .f32
        let format: Int32 = p.k.dtype == .f16 ? Int32(KESTREL_ATTENTION_KV_F16.rawValue)
            : p.k.dtype == .bf16 ? Int32(KESTREL_ATTENTION_KV_BF16.rawValue) : Int32(KESTREL_ATTENTION_KV_F32.rawValue)
        let bias = p.bias ?? p.q  // any f32 tensor; only passed on when there is a bias
        try result.output.withUnsafeMutableBufferPointer { (o: UnsafeMutableBufferPointer<Float>) throws(KestrelError) in
            try result.logSumExp.withUnsafeMutableBufferPointer { (l: UnsafeMutableBufferPointer<Float>) throws(KestrelError) in
                try p.q.withUnsafeBufferPointer { (qp: UnsafeBufferPointer<Float>) throws(KestrelError) in
                    try Self.withRawElements(p.k) { (kp: UnsafeRawPointer) throws(KestrelError) in
                        try Self.withRawElements(p.v) { (vp: UnsafeRawPointer) throws(KestrelError) in
                            try bias.withUnsafeBufferPointer { (bp: UnsafeBufferPointer<Float>) throws(KestrelError) in
                                let ptr = FlashPointers(o: o.baseAddress!, lse: l.baseAddress!,
                                                        scratch: scratch.baseAddress.assumingMemoryBound(to: Float.self),
                                                        q: qp.baseAddress!, k: kp, v: vp,
                                                        bias: p.bias == nil ? nil : bp.baseAddress!)
                                parallelForEach(tasks, threads: workers) { task, worker in
                                    // Causal: a head's query blocks from the last (sees every key) to the
                                    // first, so the tasks workers claim shrink towards the end and the
                                    // last one to finish is short (dynamic scheduling's imbalance is at
                                    // most the smallest block, not the largest).
                                    let bh = task / queryBlocks
                                    let qb = p.causal ? queryBlocks - 1 - task % queryBlocks : task % queryBlocks
                                    let b = bh / p.heads, h = bh % p.heads, kvh = h / p.group
                                    let i0 = qb * blocks.query, rows = min(blocks.query, nq - i0)
                                    let kvOff = (b * p.kvHeads + kvh) * nk * d
                                    var a = kestrel_attention_args()
                                    a.nq = rows; a.nk = nk; a.d = d
                                    a.q = ptr.q + (bh * nq + i0) * d; a.q_stride = d
                                    a.k_stride = d; a.v_stride = d
                                    a.kv_format = format
                                    if half {
                                        a.k16 = ptr.k.assumingMemoryBound(to: UInt16.self) + kvOff
                                        a.v16 = ptr.v.assumingMemoryBound(to: UInt16.self) + kvOff
                                    } else {
                                        a.k = ptr.k.assumingMemoryBound(to: Float.self) + kvOff
                                        a.v = ptr.v.assumingMemoryBound(to: Float.self) + kvOff
                                    }
                                    a.o = ptr.o + (bh * nq + i0) * d; a.o_stride = d
                                    a.lse = ptr.lse + bh * nq + i0
                                    if let bias = ptr.bias {
                                        a.bias = bias + b * p.biasBatchStride + h * p.biasHeadStride + i0 * nk
                                        a.bias_stride = nk
                                    }
                                    a.scale = p.scale
                                    a.causal = p.causal ? 1 : 0
                                    a.diag = p.diagonal(row: i0)
                                    a.window_left = p.windowLeft ?? -1
                                    a.kv_len = p.keyLength(b)
                                    a.block_q = blocks.query; a.block_k = blocks.key
                                    a.scratch = ptr.scratch + worker * perWorker
                                    if products == .blas {
                                        let (kf, vf) = (a.k, a.v)
                                        let r = Result { () throws(KestrelError) in
                                            try Self.blasTiles(&a, rows: rows, k: kf, v: vf)
                                        }
                                        if case .failure(let e) = r { failure?.record(e) }
                                        return
                                    }
                                    let status = kestrel_attention_f32(&a)
                                    if status != KESTREL_OK {
                                        _ = cStatus.compareExchange(expected: 0, desired: Int32(status.rawValue), ordering: .relaxed)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if let e = failure?.error { throw e }
        let status = cStatus.load(ordering: .relaxed)
        if status != 0 { throw .backendFailure(routine: "kestrel_attention_f32", code: Int(status)) }
    }

    /// Calls `body` with the first element of a contiguous f32, f16 or bf16 tensor.
    private static func withRawElements(_ t: Tensor, _ body: (UnsafeRawPointer) throws(KestrelError) -> Void) throws(KestrelError) {
        if t.dtype == .f32 {
            try t.withUnsafeBufferPointer { (b: UnsafeBufferPointer<Float>) throws(KestrelError) in try body(UnsafeRawPointer(b.baseAddress!)) }
        } else {
            try t.withUnsafeBufferPointer(as: UInt16.self) { (b: UnsafeBufferPointer<UInt16>) throws(KestrelError) in try body(UnsafeRawPointer(b.baseAddress!)) }
        }
    }
    /// One query block by BLAS tile products and the C online-softmax pieces; `a` describes the
    /// block (its rows, mask fields, output) and holds the scratch.
    private static func blasTiles(_ a: inout kestrel_attention_args, rows: Int, k: UnsafePointer<Float>?,
                                  v: UnsafePointer<Float>?) throws(KestrelError) {
        guard let k, let v else { return }
        let d = a.d, bk = a.block_k, bq = a.block_q
        let sTile = a.scratch!, acc = sTile + bq * bk, m = acc + bq * d, l = m + bq
        var lo = 0, hi = 0
        kestrel_attention_key_range(&a, rows, &lo, &hi)
        for r in 0..<rows { m[r] = -.infinity; l[r] = 0 }
        acc.update(repeating: 0, count: rows * d)
        var j0 = lo
        while j0 < hi {
            let cols = min(bk, hi - j0)
            try BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: cols, k: d, alpha: a.scale,
                           a: a.q, lda: a.q_stride, b: k + j0 * a.k_stride, ldb: a.k_stride, beta: 0, c: sTile, ldc: bk)
            kestrel_attention_block_update_f32(&a, rows, j0, cols, sTile, bk, acc, d, m, l)
            try BLAS.sgemm(transposeA: false, transposeB: false, m: rows, n: d, k: cols, alpha: 1,
                           a: sTile, lda: bk, b: v + j0 * a.v_stride, ldb: a.v_stride, beta: 1, c: acc, ldc: d)
            j0 += bk
        }
        kestrel_attention_block_finish_f32(rows, d, acc, m, l, a.o, a.o_stride, a.lse)
    }
}

/// The raw views FlashAttention's workers use; K and V are f32 or u16 (f16/bf16) by the problem.
private struct FlashPointers: @unchecked Sendable {  // workers write disjoint parts of o, lse, scratch
    let o: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
    let q: UnsafePointer<Float>, k: UnsafeRawPointer, v: UnsafeRawPointer, bias: UnsafePointer<Float>?
}

/// Worker scratch kept between calls. ``BufferPool`` recycles the memory, but each acquire
/// wraps it in a new ``AlignedBuffer`` object (one heap allocation); keeping the buffers
/// themselves here makes a warm call allocation-free. At most `limit` buffers (one per
/// concurrent forward pass) are kept; a larger request replaces a smaller buffer.
final class ScratchCache: @unchecked Sendable {  // `free` guarded by `lock`
    static let shared = ScratchCache()
    // Capacity a non-negative constant: the initialiser cannot throw here.
    private static let pool = try! BufferPool(capacity: 256 << 20)
    private let lock = PlainLock()
    private var free: [AlignedBuffer] = []
    private let limit = 8

    private init() { free.reserveCapacity(limit) }

    /// A buffer of at least `floats` f32 values (64-byte aligned).
    func take(floats: Int) throws(KestrelError) -> AlignedBuffer {
        let bytes = try SizeCheck.product(max(1, floats), 4, limit: SizeCheck.physicalMemory)
        // Explicit lock/unlock and loops: closures here could cost an allocation per call.
        lock.lock()
        var i = free.count - 1
        while i >= 0 && free[i].byteCount < bytes { i -= 1 }
        let cached: AlignedBuffer? = i >= 0 ? free.remove(at: i) : nil
        lock.unlock()
        if let cached { return cached }
        return try Self.pool.acquire(byteCount: bytes)
    }

    /// Returns a buffer for later calls (dropped, back to the pool, when the cache is full).
    func give(_ buffer: AlignedBuffer) {
        lock.lock()
        defer { lock.unlock() }
        if free.count < limit {
            free.append(buffer)
            return
        }
        var smallest = 0
        for i in free.indices where free[i].byteCount < free[smallest].byteCount { smallest = i }
        if free[smallest].byteCount < buffer.byteCount { free[smallest] = buffer }
    }
}
