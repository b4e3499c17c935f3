import CKestrelKernels
import KestrelTensor

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

    /// The default for a head dimension: a key tile of K and V rows (2 · key · D floats) plus the
    /// query tile and its accumulator (2 · query · D floats) within about half of a 48 KiB-class
    /// L1 data cache per core, rounded to multiples of 8; the scores tile is query × key floats.
    public static func standard(headDimension d: Int) -> AttentionBlockSizes {
        let budgetFloats = 24 * 1024 / 4
        let perRow = 2 * max(1, d)
        let rows = max(8, min(128, (budgetFloats / perRow) / 8 * 8))
        return AttentionBlockSizes(query: max(8, min(64, rows / 2 / 8 * 8)), key: rows)
    }
}

/// Exact attention without the N×N score matrix: query blocks against key blocks with an
/// online softmax (running max and sum per row, the accumulator rescaled when the max grows),
/// the log-sum-exp saved per row (FlashAttention, Dao et al. 2022). Causal and sliding-window
/// key blocks that no row of a query block can see are skipped, not computed and masked.
///
/// Work is split over batch × heads × query blocks on `options.threads` workers; each worker
/// keeps one scratch of query × (key + D + 2) floats. Complexity: O(B · H · NQ · NK · D) time
/// (about half with a causal mask), O(threads · tile) extra memory. Stateless; thread-safe.
public struct FlashAttention: AttentionKernel {
    /// How the two tile products (S = Q·Kᵀ and acc += P·V) are computed.
    public enum TileProducts: Sendable, Hashable {
        /// BLAS SGEMM on each tile (the online softmax in between stays in C).
        case blas
        /// The C tile kernel of the active tier (`kestrel_attention_f32`: AVX2, AVX-512, NEON or
        /// scalar), with register-blocked micro-kernels for both products; no BLAS call.
        case cKernel
    }

    /// Tile sizes; nil chooses ``AttentionBlockSizes/standard(headDimension:)``.
    public var blockSizes: AttentionBlockSizes?
    /// Tile-product implementation.
    public var tileProducts: TileProducts

    /// A kernel with the given tile sizes (nil: the default for the head dimension).
    public init(blockSizes: AttentionBlockSizes? = nil, tileProducts: TileProducts = .blas) {
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
        let p = try AttentionProblem(query: query, key: key, value: value, options: options)
        let blocks = blockSizes ?? .standard(headDimension: p.d)
        guard blocks.query >= 1, blocks.key >= 1 else {
            throw .invalidArgument(name: "blockSizes", reason: "tile sizes must be ≥ 1, got \(blocks.query) × \(blocks.key)")
        }
        let (nq, nk, d) = (p.nq, p.nk, p.d)
        let queryBlocks = (nq + blocks.query - 1) / blocks.query
        let tasks = try SizeCheck.product(p.batch, p.heads, queryBlocks)
        let workers = min(p.threads, tasks)
        let scratchFloats = try Self.scratchFloats(headDimension: d, blockSizes: blocks)
        let failure = FirstError()
        let result = try p.run(scratchFloats: try Self.workspaceBytes(headDimension: d, blockSizes: blocks, threads: workers) / 4) { ptr in
            parallelForEach(tasks, threads: workers) { task, worker in
                let bh = task / queryBlocks, qb = task % queryBlocks
                let b = bh / p.heads, h = bh % p.heads, kvh = h / p.group
                let i0 = qb * blocks.query, rows = min(blocks.query, nq - i0)
                let kvOff = (b * p.kvHeads + kvh) * nk * d
                var a = kestrel_attention_args()
                a.nq = rows; a.nk = nk; a.d = d
                a.q = ptr.q + (bh * nq + i0) * d; a.q_stride = d
                a.k = ptr.k + kvOff; a.k_stride = d
                a.v = ptr.v + kvOff; a.v_stride = d
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
                a.scratch = ptr.scratch + worker * scratchFloats
                if tileProducts == .blas {
                    let r = Result { () throws(KestrelError) in try Self.blasTiles(&a, rows: rows, k: ptr.k + kvOff, v: ptr.v + kvOff) }
                    if case .failure(let e) = r { failure.record(e) }
                    return
                }
                let status = kestrel_attention_f32(&a)
                if status != KESTREL_OK {
                    failure.record(.backendFailure(routine: "kestrel_attention_f32", code: Int(status.rawValue)))
                }
            }
        }
        if let e = failure.error { throw e }
        return result
    }

    /// One query block by BLAS tile products and the C online-softmax pieces; `a` describes the
    /// block (its rows, mask fields, output) and holds the scratch.
    private static func blasTiles(_ a: inout kestrel_attention_args, rows: Int, k: UnsafePointer<Float>,
                                  v: UnsafePointer<Float>) throws(KestrelError) {
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
