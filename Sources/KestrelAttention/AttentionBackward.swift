import CKestrelKernels
import KestrelTensor

/// The gradients of a scalar loss L with respect to the inputs of an attention forward pass,
/// given ∂L/∂O. All f32, whatever the K/V dtype was (see ``AttentionBackwardKernel``).
public struct AttentionGradients: Sendable {
    /// ∂L/∂Q, f32 [B, H, NQ, D].
    public var query: Tensor
    /// ∂L/∂K, f32 [B, HKV, NK, D]: with grouped-query attention, summed over the H / HKV query
    /// heads that share each K/V head. Rows of padding keys (at or past `keyLengths[b]`) are 0.
    public var key: Tensor
    /// ∂L/∂V, f32 [B, HKV, NK, D], summed over the query heads sharing each K/V head like `key`.
    public var value: Tensor
}

/// An attention kernel that also computes the backward pass.
///
/// With P = softmax(scale · Q·Kᵀ + bias + mask) row by row and O = P·V, given dO = ∂L/∂O:
/// dV = Pᵀ·dO, dP = dO·Vᵀ, dS = P ∘ (dP − D) with D_i = Σ_t dO_it · O_it, dQ = scale · dS·K,
/// dK = scale · dSᵀ·Q. A query row that sees no key (its log-sum-exp is −∞) contributes nothing,
/// and its dQ row is 0.
///
/// Not computed: the gradient with respect to `options.bias` (it would be dS itself, an
/// [NQ, NK] matrix per head — the storage the flash kernel exists to avoid); the bias is a
/// constant here. K and V in f16 or bf16 are converted to f32 once, as in the forward pass, and
/// dK, dV are the f32 gradients with respect to those converted values (round them yourself if
/// an f16 copy of the weights is what you update).
///
/// Conformers are stateless values: `Sendable`, callable from any thread.
public protocol AttentionBackwardKernel: AttentionKernel {
    /// Runs the backward pass of ``AttentionKernel/forward(query:key:value:options:)`` called with
    /// the same query, key, value and options.
    /// - Parameters:
    ///   - output: the forward pass's output O, f32 [B, H, NQ, D].
    ///   - logSumExp: the forward pass's log-sum-exp, f32 [B, H, NQ] (−∞ for rows that see no key).
    ///   - outputGradient: dO = ∂L/∂O, f32 [B, H, NQ, D].
    /// - Throws: everything `forward` throws for the same arguments; `dimensionMismatch` when
    ///   `output`, `outputGradient` or `logSumExp` does not have the shape above;
    ///   `invalidArgument` (naming it) when one is not f32, or, with `checksFiniteness` on, holds
    ///   a NaN or ±Inf (`logSumExp`: NaN or +Inf; −∞ is valid). With `checksFiniteness` off, a
    ///   NaN in row i of dO or O makes dQ row i NaN and the dK, dV rows of the keys row i sees;
    ///   dV rows of other keys computed in the same tile as row i may be NaN too (0 · NaN in the
    ///   GEMM); other heads and batch items are unaffected.
    func backward(query: Tensor, key: Tensor, value: Tensor, output: Tensor, logSumExp: Tensor,
                  outputGradient: Tensor, options: AttentionOptions) throws(KestrelError) -> AttentionGradients
}

/// A validated backward problem: the forward problem plus O, log-sum-exp and dO, contiguous f32.
struct AttentionBackwardProblem {
    let forward: AttentionProblem
    let o: Tensor, lse: Tensor, dO: Tensor

    init(query: Tensor, key: Tensor, value: Tensor, output: Tensor, logSumExp: Tensor, outputGradient: Tensor,
         options: AttentionOptions) throws(KestrelError) {
        let p = try AttentionProblem(query: query, key: key, value: value, options: options)
        let rows = [p.batch, p.heads, p.nq, p.d]
        for (t, expected) in [(output, rows), (outputGradient, rows), (logSumExp, Array(rows.dropLast()))]
            where t.shape.dims != expected {
            throw .dimensionMismatch(expected: expected, actual: t.shape.dims)
        }
        for (name, t) in [("output", output), ("outputGradient", outputGradient), ("logSumExp", logSumExp)] where t.dtype != .f32 {
            throw .invalidArgument(name: name, reason: "must be f32, got \(t.dtype)")
        }
        forward = p
        o = try output.contiguous()
        dO = try outputGradient.contiguous()
        lse = try logSumExp.contiguous()
        guard options.checksFiniteness else { return }
        for (name, t) in [("output", o), ("outputGradient", dO)] {
            if let i = try AttentionProblem.firstNonFinite(t, allowInfinity: false) {
                throw .invalidArgument(name: name, reason: "non-finite value at flat index \(i)")
            }
        }
        let bad = try lse.withUnsafeBufferPointer { (l: UnsafeBufferPointer<Float>) -> Int? in
            l.firstIndex { $0.isNaN || $0 == .infinity }
        }
        if let bad { throw .invalidArgument(name: "logSumExp", reason: "NaN or +infinity at flat index \(bad)") }
    }

    /// Allocates zeroed dQ, dK, dV and `scratchFloats` of zeroed scratch, pins every operand and
    /// runs `body` with their pointers.
    func run(scratchFloats: Int, _ body: (AttentionBackwardPointers) -> Void) throws(KestrelError) -> AttentionGradients {
        let p = forward
        var dq = try Tensor.zeros([p.batch, p.heads, p.nq, p.d])
        var dk = try Tensor.zeros([p.batch, p.kvHeads, p.nk, p.d])
        var dv = try Tensor.zeros([p.batch, p.kvHeads, p.nk, p.d])
        var scratch = [Float](repeating: 0, count: max(1, scratchFloats))
        let inputs = [p.q, p.k, p.v, o, lse, dO] + (p.bias.map { [$0] } ?? [])
        try Self.withPointers(inputs[...]) { (x: [UnsafePointer<Float>]) throws(KestrelError) in
            try dq.withUnsafeMutableBufferPointer { (gq: UnsafeMutableBufferPointer<Float>) throws(KestrelError) in
                try dk.withUnsafeMutableBufferPointer { (gk: UnsafeMutableBufferPointer<Float>) throws(KestrelError) in
                    try dv.withUnsafeMutableBufferPointer { (gv: UnsafeMutableBufferPointer<Float>) throws(KestrelError) in
                        scratch.withUnsafeMutableBufferPointer { sp in
                            body(AttentionBackwardPointers(q: x[0], k: x[1], v: x[2], o: x[3], lse: x[4], dO: x[5],
                                                           bias: x.count > 6 ? x[6] : nil, dq: gq.baseAddress!,
                                                           dk: gk.baseAddress!, dv: gv.baseAddress!, scratch: sp.baseAddress!))
                        }
                    }
                }
            }
        }
        return AttentionGradients(query: dq, key: dk, value: dv)
    }

    /// Pins each contiguous f32 tensor in turn and calls `body` with all their base addresses.
    private static func withPointers(_ tensors: ArraySlice<Tensor>, pinned: [UnsafePointer<Float>] = [],
                                     _ body: ([UnsafePointer<Float>]) throws(KestrelError) -> Void) throws(KestrelError) {
        guard let first = tensors.first else { return try body(pinned) }
        try first.withUnsafeBufferPointer { (b: UnsafeBufferPointer<Float>) throws(KestrelError) in
            try withPointers(tensors.dropFirst(), pinned: pinned + [b.baseAddress!], body)
        }
    }
}

/// The raw views the backward workers use. Workers write disjoint parts of dK, dV, the scratch and
/// (per worker) dQ.
struct AttentionBackwardPointers: @unchecked Sendable {
    let q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>
    let o: UnsafePointer<Float>, lse: UnsafePointer<Float>, dO: UnsafePointer<Float>, bias: UnsafePointer<Float>?
    let dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>
    let scratch: UnsafeMutablePointer<Float>
}

extension NaiveAttention: AttentionBackwardKernel {
    /// Bytes of workspace ``backward(query:key:value:output:logSumExp:outputGradient:options:)``
    /// holds besides its inputs and outputs: per worker, the NQ × NK probabilities and their
    /// gradient, and 2 · NQ row values.
    public static func backwardWorkspaceBytes(nq: Int, nk: Int, threads: Int) throws(KestrelError) -> Int {
        try SizeCheck.bytes(2, nq, nk + 1, 4, max(1, threads))  // 2·NQ·NK + 2·NQ floats
    }

    /// The materialised backward pass, the oracle of ``FlashAttention``'s: per batch item and K/V
    /// head, for each query head sharing it, P is recomputed from scratch (score GEMM and the
    /// forward's softmax; `logSumExp` is only checked for its shape and finiteness, so this path
    /// does not trust it), then dV += Pᵀ·dO, dP = dO·Vᵀ, dS = P ∘ (dP − D), dQ = scale · dS·K,
    /// dK += scale · dSᵀ·Q by BLAS GEMMs.
    ///
    /// Parallel over batch × K/V heads (each worker owns the dK, dV rows it accumulates).
    /// Memory: ``backwardWorkspaceBytes(nq:nk:threads:)``. Complexity: O(B · H · NQ · NK · D) time.
    /// See ``AttentionBackwardKernel/backward(query:key:value:output:logSumExp:outputGradient:options:)``.
    public func backward(query: Tensor, key: Tensor, value: Tensor, output: Tensor, logSumExp: Tensor,
                         outputGradient: Tensor, options: AttentionOptions) throws(KestrelError) -> AttentionGradients {
        let bp = try AttentionBackwardProblem(query: query, key: key, value: value, output: output, logSumExp: logSumExp,
                                              outputGradient: outputGradient, options: options)
        let p = bp.forward
        let (nq, nk, d) = (p.nq, p.nk, p.d)
        let workers = min(p.threads, p.batch * p.kvHeads)
        let perWorker = try Self.backwardWorkspaceBytes(nq: nq, nk: nk, threads: 1) / 4
        let failure = FirstError()
        let result = try bp.run(scratchFloats: try Self.backwardWorkspaceBytes(nq: nq, nk: nk, threads: workers) / 4) { ptr in
            parallelForEach(p.batch * p.kvHeads, threads: workers) { bkv, worker in
                let b = bkv / p.kvHeads, kvOff = bkv * nk * d
                let probs = ptr.scratch + worker * perWorker, dP = probs + nq * nk
                let rowLSE = dP + nq * nk, delta = rowLSE + nq
                let r = Result { () throws(KestrelError) in
                    for h in (bkv % p.kvHeads) * p.group..<(bkv % p.kvHeads + 1) * p.group {
                        let bh = b * p.heads + h, qOff = bh * nq * d
                        try BLAS.sgemm(transposeA: false, transposeB: true, m: nq, n: nk, k: d, alpha: p.scale,
                                       a: ptr.q + qOff, lda: d, b: ptr.k + kvOff, ldb: d, beta: 0, c: probs, ldc: nk)
                        let bias = ptr.bias.map { $0 + b * p.biasBatchStride + h * p.biasHeadStride }
                        Self.softmaxRows(p, batch: b, scores: probs, bias: bias, lse: rowLSE)
                        try BLAS.sgemm(transposeA: true, transposeB: false, m: nk, n: d, k: nq, alpha: 1,
                                       a: probs, lda: nk, b: ptr.dO + qOff, ldb: d, beta: 1, c: ptr.dv + kvOff, ldc: d)
                        try BLAS.sgemm(transposeA: false, transposeB: true, m: nq, n: nk, k: d, alpha: 1,
                                       a: ptr.dO + qOff, lda: d, b: ptr.v + kvOff, ldb: d, beta: 0, c: dP, ldc: nk)
                        kestrel_attention_bwd_delta_f32(nq, d, ptr.dO + qOff, d, ptr.o + qOff, d, delta)
                        kestrel_attention_bwd_dscores_f32(nq, nk, probs, nk, dP, nk, delta)
                        try BLAS.sgemm(transposeA: false, transposeB: false, m: nq, n: d, k: nk, alpha: p.scale,
                                       a: dP, lda: nk, b: ptr.k + kvOff, ldb: d, beta: 0, c: ptr.dq + qOff, ldc: d)
                        try BLAS.sgemm(transposeA: true, transposeB: false, m: nk, n: d, k: nq, alpha: p.scale,
                                       a: dP, lda: nk, b: ptr.q + qOff, ldb: d, beta: 1, c: ptr.dk + kvOff, ldc: d)
                    }
                }
                if case .failure(let e) = r { failure.record(e) }
            }
        }
        if let e = failure.error { throw e }
        return result
    }
}

extension AttentionBlockSizes {
    /// The default tiles of ``FlashAttention``'s backward pass for a head dimension: 64 query
    /// rows × 64 key rows for D ≤ 64, 32 × 64 above. The C backward tile keeps scale·Qᵀ and dOᵀ of
    /// the query block (2 · rows · D floats) next to Pᵀ and dPᵀ; 64 rows at D = 128 (64 KiB) spill
    /// a 48 KiB L1d, and 32 × 64 measured 0.74× the time of 64 × 64 there (B=1, H=8, N=2048, CPU
    /// time, Documentation/Attention.md). At D = 64, 64×128 and 32×64 measured slower than 64 × 64.
    /// The autotuner may override.
    public static func standardBackward(headDimension d: Int) -> AttentionBlockSizes {
        AttentionBlockSizes(query: d <= 64 ? 64 : 32, key: 64)
    }

    /// These sizes, or `invalidArgument(name: "blockSizes")` when a tile size is below 1.
    func validated() throws(KestrelError) -> AttentionBlockSizes {
        guard query >= 1, key >= 1 else {
            throw .invalidArgument(name: "blockSizes", reason: "tile sizes must be ≥ 1, got \(query) × \(key)")
        }
        return self
    }
}

extension FlashAttention: AttentionBackwardKernel {
    /// Bytes of workspace ``backward(query:key:value:output:logSumExp:outputGradient:options:)``
    /// holds besides its inputs and outputs, for `threads` workers: per worker one tile scratch
    /// (``backwardTileFloats(headDimension:blockSizes:products:)`` floats); per worker past the
    /// first a private dQ accumulator of `queryElements` floats (B · H · NQ · D); and `rows`
    /// (B · H · NQ) floats of D_i.
    public static func backwardWorkspaceBytes(queryElements: Int, rows: Int, headDimension d: Int,
                                              blockSizes b: AttentionBlockSizes, products: TileProducts,
                                              threads: Int) throws(KestrelError) -> Int {
        let workers = max(1, threads)
        let tile = try backwardTileFloats(headDimension: d, blockSizes: b, products: products)
        // Each part is at most the physical memory, so their sum cannot overflow.
        let total = try SizeCheck.bytes(tile, workers, 4) + SizeCheck.bytes(queryElements, workers - 1, 4)
            + SizeCheck.bytes(rows, 4)
        guard total <= SizeCheck.physicalMemory else {
            throw .capacityExceeded(limit: SizeCheck.physicalMemory, requested: total)
        }
        return total
    }

    /// Floats of one worker's backward tile scratch: two query × key tiles (P and dS) for `.blas`;
    /// `kestrel_attention_bwd_scratch_floats(query, key, D)` (transposed Q and dO, Pᵀ and dPᵀ with
    /// queries padded to 16) for `.cKernel`; `.automatic` resolves first. O(1).
    /// - Throws: `invalidArgument(name: "blockSizes")` when a size is below 1 or the count overflows.
    public static func backwardTileFloats(headDimension d: Int, blockSizes b: AttentionBlockSizes,
                                          products: TileProducts) throws(KestrelError) -> Int {
        guard d >= 1, b.query >= 1, b.key >= 1 else {
            throw .invalidArgument(name: "blockSizes", reason: "tile sizes and head dimension must be ≥ 1, got \(b.query) × \(b.key), D \(d)")
        }
        switch products == .automatic ? TileProducts.resolvedBackward(headDimension: d, blockSizes: b) : products {
        case .blas, .automatic:
            return try SizeCheck.product(2, b.query, b.key)
        case .cKernel:
            let n = kestrel_attention_bwd_scratch_floats(b.query, b.key, d)
            guard n > 0, n <= Int.max / 4 else {
                throw .invalidArgument(name: "blockSizes", reason: "backward scratch for \(b.query) × \(b.key) tiles at D \(d) overflows")
            }
            return n
        }
    }

    /// The FlashAttention-2 backward pass: nothing larger than a query × key tile of scores is
    /// ever stored. D_i = Σ_t dO_it · O_it is computed once per row; then for each (batch item,
    /// K/V head, key block) task, for each query head sharing that K/V head and each query block
    /// that can see the key block, the score tile is recomputed by GEMM, turned into P with the
    /// saved log-sum-exp (masks and bias applied in C), and five GEMMs follow: dV_j += Pᵀ·dO_i,
    /// dP = dO_i·V_jᵀ, (C: dS = P ∘ (dP − D_i)), dK_j += scale · dSᵀ·Q_i, dQ_i += scale · dS·K_j.
    /// Causal and window masks restrict each key block to the query rows that see it; padding keys
    /// (past `keyLengths[b]`) are never visited, so their dK, dV rows stay 0.
    ///
    /// Parallel split: tasks are (batch item, K/V head, key block) on `options.threads` workers, so
    /// dK and dV rows are owned by exactly one task and need no locking; dQ rows receive
    /// contributions from every key block, so worker 0 accumulates into dQ itself and every other
    /// worker into a private zeroed copy, summed into dQ at the end (O(threads · B·H·NQ·D) memory,
    /// O(threads · B·H·NQ·D) time, no atomics). Grouped-query heads read and accumulate into their
    /// shared K/V head in place — no K/V copy.
    ///
    /// Tiles: `blockSizes`, or ``AttentionBlockSizes/standardBackward(headDimension:)`` when nil.
    /// Memory: ``backwardWorkspaceBytes(queryElements:rows:blockSizes:threads:)``.
    /// Complexity: O(B · H · NQ · NK · D) time, about 2.5 × the forward's GEMM work (five tile
    /// products to its two); about half of it with a causal mask.
    /// See ``AttentionBackwardKernel/backward(query:key:value:output:logSumExp:outputGradient:options:)``.
    /// - Throws: also `invalidArgument(name: "blockSizes")` for a tile size below 1.
    public func backward(query: Tensor, key: Tensor, value: Tensor, output: Tensor, logSumExp: Tensor,
                         outputGradient: Tensor, options: AttentionOptions) throws(KestrelError) -> AttentionGradients {
        let bp = try AttentionBackwardProblem(query: query, key: key, value: value, output: output, logSumExp: logSumExp,
                                              outputGradient: outputGradient, options: options)
        let p = bp.forward
        let blocks = try (blockSizes ?? .standardBackward(headDimension: p.d)).validated()
        let (nq, nk, d) = (p.nq, p.nk, p.d)
        let keyBlocks = (nk + blocks.key - 1) / blocks.key
        let tasks = try SizeCheck.product(p.batch, p.kvHeads, keyBlocks)
        let workers = min(p.threads, tasks)
        let rows = try SizeCheck.product(p.batch, p.heads, nq)
        let queryElements = try SizeCheck.product(rows, d)
        let products = tileProducts == .automatic
            ? TileProducts.resolvedBackward(headDimension: d, blockSizes: blocks) : tileProducts
        let tileFloats = try Self.backwardTileFloats(headDimension: d, blockSizes: blocks, products: products)
        let scratchFloats = try Self.backwardWorkspaceBytes(queryElements: queryElements, rows: rows, headDimension: d,
                                                            blockSizes: blocks, products: products, threads: workers) / 4
        let failure = FirstError()
        let result = try bp.run(scratchFloats: scratchFloats) { ptr in
            // Scratch: D_i for every row, then the private dQ copies of workers 1..., then the tiles.
            kestrel_attention_bwd_delta_f32(rows, d, ptr.dO, d, ptr.o, d, ptr.scratch)
            let privateDQ = rows, tiles = rows + (workers - 1) * queryElements
            parallelForEach(tasks, threads: workers) { task, worker in
                let kb = task % keyBlocks, bkv = task / keyBlocks
                let dq = worker == 0 ? ptr.dq : ptr.scratch + privateDQ + (worker - 1) * queryElements
                let r = Result { () throws(KestrelError) in
                    try Self.keyBlock(p, ptr, batchKVHead: bkv, j0: kb * blocks.key, blocks: blocks, delta: ptr.scratch, dq: dq,
                                      tiles: ptr.scratch + tiles + worker * tileFloats, cKernel: products == .cKernel)
                }
                if case .failure(let e) = r { failure.record(e) }
            }
            // The private dQ copies are disjoint from dQ and each other: add them in.
            for w in 0..<(workers - 1) {
                let src = ptr.scratch + privateDQ + w * queryElements
                for i in 0..<queryElements { ptr.dq[i] += src[i] }
            }
        }
        if let e = failure.error { throw e }
        return result
    }

    /// One task: key block [j0, j0 + block.key) of K/V head `bkv` (= b · HKV + kvh) against every
    /// query row of its query heads that can see it. Accumulates into dK, dV (owned by this task)
    /// and `dq` (this worker's).
    private static func keyBlock(_ p: AttentionProblem, _ ptr: AttentionBackwardPointers, batchKVHead bkv: Int, j0: Int,
                                 blocks: AttentionBlockSizes, delta: UnsafePointer<Float>, dq: UnsafeMutablePointer<Float>,
                                 tiles: UnsafeMutablePointer<Float>, cKernel: Bool) throws(KestrelError) {
        let (nq, nk, d) = (p.nq, p.nk, p.d)
        let b = bkv / p.kvHeads, kvh = bkv % p.kvHeads
        let kvLen = p.keyLength(b)
        guard j0 < kvLen else { return }  // padding keys: gradients stay 0
        let cols = min(blocks.key, kvLen - j0), bk = blocks.key
        let offset = nk - nq  // query row i sits at key position i + offset
        // Rows that see some key of [j0, j0 + cols): causal needs j0 ≤ i + offset, the window
        // needs j0 + cols − 1 ≥ i + offset − windowLeft.
        let iLo = p.causal ? max(0, j0 - offset) : 0
        let iHi = p.windowLeft.map { min(nq, j0 + cols + $0 - offset) } ?? nq
        guard iLo < iHi else { return }
        let kvOff = (bkv * nk + j0) * d
        let kj = ptr.k + kvOff, vj = ptr.v + kvOff, dkj = ptr.dk + kvOff, dvj = ptr.dv + kvOff
        let pTile = tiles, dpTile = tiles + blocks.query * bk
        var a = kestrel_attention_args()
        a.nq = nq; a.nk = nk; a.d = d
        a.causal = p.causal ? 1 : 0
        a.window_left = p.windowLeft ?? -1
        a.kv_len = kvLen
        a.bias_stride = nk
        if cKernel {
            var t = kestrel_attention_bwd_args()
            t.cols = cols; t.d = d
            t.k = kj; t.k_stride = d; t.v = vj; t.v_stride = d
            t.q_stride = d; t.dout_stride = d; t.dq_stride = d
            t.dk = dkj; t.dk_stride = d; t.dv = dvj; t.dv_stride = d
            t.scale = p.scale; t.j0 = j0
            t.causal = p.causal ? 1 : 0
            t.window_left = p.windowLeft ?? -1
            t.kv_len = kvLen
            t.bias_stride = nk
            t.scratch = tiles
            for h in kvh * p.group..<(kvh + 1) * p.group {
                let bh = b * p.heads + h
                var i0 = iLo
                while i0 < iHi {
                    let rows = min(blocks.query, iHi - i0)
                    let rowOff = bh * nq + i0
                    t.rows = rows
                    t.q = ptr.q + rowOff * d; t.dout = ptr.dO + rowOff * d
                    t.lse = ptr.lse + rowOff; t.delta = delta + rowOff
                    t.dq = dq + rowOff * d
                    t.diag = offset + i0
                    t.bias = ptr.bias.map { UnsafePointer($0 + b * p.biasBatchStride + h * p.biasHeadStride + i0 * nk) }
                    let status = kestrel_attention_bwd_tile_f32(&t)
                    if status != KESTREL_OK { throw .backendFailure(routine: "kestrel_attention_bwd_tile_f32", code: Int(status.rawValue)) }
                    i0 += rows
                }
            }
            return
        }
        for h in kvh * p.group..<(kvh + 1) * p.group {
            let bh = b * p.heads + h
            var i0 = iLo
            while i0 < iHi {
                let rows = min(blocks.query, iHi - i0)
                let rowOff = bh * nq + i0
                let qi = ptr.q + rowOff * d, doi = ptr.dO + rowOff * d
                a.diag = offset + i0
                a.bias = ptr.bias.map { UnsafePointer($0 + b * p.biasBatchStride + h * p.biasHeadStride + i0 * nk) }
                try BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: cols, k: d, alpha: p.scale,
                               a: qi, lda: d, b: kj, ldb: d, beta: 0, c: pTile, ldc: bk)
                kestrel_attention_bwd_probs_f32(&a, rows, j0, cols, pTile, bk, ptr.lse + rowOff)
                try BLAS.sgemm(transposeA: true, transposeB: false, m: cols, n: d, k: rows, alpha: 1,
                               a: pTile, lda: bk, b: doi, ldb: d, beta: 1, c: dvj, ldc: d)
                try BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: cols, k: d, alpha: 1,
                               a: doi, lda: d, b: vj, ldb: d, beta: 0, c: dpTile, ldc: bk)
                kestrel_attention_bwd_dscores_f32(rows, cols, pTile, bk, dpTile, bk, delta + rowOff)
                try BLAS.sgemm(transposeA: true, transposeB: false, m: cols, n: d, k: rows, alpha: p.scale,
                               a: dpTile, lda: bk, b: qi, ldb: d, beta: 1, c: dkj, ldc: d)
                try BLAS.sgemm(transposeA: false, transposeB: false, m: rows, n: d, k: cols, alpha: p.scale,
                               a: dpTile, lda: bk, b: kj, ldb: d, beta: 1, c: dq + rowOff * d, ldc: d)
                i0 += rows
            }
        }
    }
}

extension FlashAttention.TileProducts {
    /// The concrete choice (never `.automatic`) for the backward pass's five tile products on a
    /// kernel tier: the C backward tile (`kestrel_attention_bwd_tile_f32`) on a SIMD tier (AVX2,
    /// AVX-512, NEON), BLAS SGEMM per product on the scalar tier, whose portable C loses to BLAS's
    /// own vector code. Measured per shape in Documentation/Attention.md (§ Backward pass). O(1).
    public static func resolvedBackward(headDimension d: Int, blockSizes b: AttentionBlockSizes,
                                        isa: ISALevel = .active) -> FlashAttention.TileProducts {
        isa == .scalar ? .blas : .cKernel
    }
}
