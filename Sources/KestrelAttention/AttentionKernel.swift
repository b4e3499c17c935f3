import CKestrelKernels
@_exported import KestrelTensor

/// Which keys each query sees, and how the scores are scaled. Layout conventions are those of
/// ``AttentionKernel``. Value type; thread-safe to share.
public struct AttentionOptions: Sendable {
    /// Multiplies Q·Kᵀ; nil means 1/√headDim.
    public var scale: Float?
    /// Causal attention, bottom-right aligned: query i sees key j iff j ≤ i + (NK − NQ).
    public var causal: Bool
    /// Sliding window: query i also needs j ≥ i + (NK − NQ) − windowLeft (so it sees at most
    /// windowLeft + 1 keys when causal). nil: no window. Must be ≥ 0.
    public var windowLeft: Int?
    /// Valid keys per batch item (key padding): keys at or past `keyLengths[b]` are masked for
    /// item b. nil: all NK keys are valid. Each in 0…NK; a query that sees no key gets a zero output
    /// row and log-sum-exp −∞.
    public var keyLengths: [Int]?
    /// Additive f32 bias/mask of shape [B or 1, H or 1, NQ, NK], added to the scaled scores
    /// (−∞ masks a key). nil: none.
    public var bias: Tensor?
    /// Worker threads (≥ 1); work is split over batch × heads × query blocks.
    public var threads: Int
    /// Scan Q, K, V (and the bias) for NaN/±Inf first and throw naming the first one (the
    /// default). The scan reads every input once, which for one-token decoding is as much memory
    /// traffic as the attention itself; with `false` it is skipped, and a non-finite input yields
    /// NaN in the output rows it reaches (never a crash or an out-of-bounds access).
    public var checksFiniteness: Bool

    /// Options; every field as documented above.
    public init(scale: Float? = nil, causal: Bool = false, windowLeft: Int? = nil, keyLengths: [Int]? = nil,
                bias: Tensor? = nil, threads: Int = 1, checksFiniteness: Bool = true) {
        self.scale = scale
        self.causal = causal
        self.windowLeft = windowLeft
        self.keyLengths = keyLengths
        self.bias = bias
        self.threads = threads
        self.checksFiniteness = checksFiniteness
    }
}

/// The result of a forward pass.
public struct AttentionOutput: Sendable {
    /// f32 [B, H, NQ, D].
    public var output: Tensor
    /// f32 [B, H, NQ]: the natural log of the sum of exp of each query row's scaled, masked
    /// scores (−∞ for a row that sees no key). The backward pass recomputes from it.
    public var logSumExp: Tensor

    /// Wraps two tensors, for example zero ones of the right shapes to pass to
    /// ``FlashAttention/forward(query:key:value:options:into:)`` and reuse from call to call.
    public init(output: Tensor, logSumExp: Tensor) {
        self.output = output
        self.logSumExp = logSumExp
    }
}

/// An exact attention implementation: O = softmax(scale · Q·Kᵀ + bias + mask) · V.
///
/// Shapes: query [B, H, NQ, D] f32; key and value [B, HKV, NK, D] in f32, f16 or bf16, with
/// H a multiple of HKV (grouped-query; HKV = 1 is multi-query): query head h reads K/V head
/// h / (H / HKV), without copying K/V. NQ and NK may differ.
///
/// Conformers are stateless values: `Sendable`, callable from any thread.
public protocol AttentionKernel: Sendable {
    /// Runs the forward pass.
    /// - Throws: `dimensionMismatch` for inconsistent shapes; `invalidArgument` (naming the
    ///   argument) for a head count not a multiple of the K/V heads, an empty sequence or head
    ///   dimension, a negative window, bad key lengths, a bias of the wrong shape, non-finite
    ///   inputs (NaN/±Inf in Q, K or V, NaN in the bias; unless `checksFiniteness` is off), or
    ///   threads < 1.
    func forward(query: Tensor, key: Tensor, value: Tensor, options: AttentionOptions) throws(KestrelError) -> AttentionOutput
}

/// A validated problem: sizes, f32 contiguous operands, resolved options.
struct AttentionProblem {
    let batch: Int, heads: Int, kvHeads: Int, nq: Int, nk: Int, d: Int
    let scale: Float
    let causal: Bool
    let windowLeft: Int?
    let keyLengths: [Int]?
    let threads: Int
    let q: Tensor, k: Tensor, v: Tensor
    /// Contiguous f32 bias and its broadcast strides (in elements) over batch and head.
    let bias: Tensor?
    let biasBatchStride: Int, biasHeadStride: Int

    var group: Int { heads / kvHeads }

    /// - Parameter widensKeyValue: convert f16/bf16 K and V to f32 here (the naive kernel and the
    ///   BLAS tiles); `false` keeps them (contiguous) for kernels that convert per key block.
    init(query: Tensor, key: Tensor, value: Tensor, options o: AttentionOptions, widensKeyValue: Bool = true) throws(KestrelError) {
        let qd = query.shape.dims, kd = key.shape.dims, vd = value.shape.dims
        guard qd.count == 4 else { throw .invalidArgument(name: "query", reason: "must be [B, H, NQ, D], got rank \(qd.count)") }
        guard kd.count == 4 else { throw .invalidArgument(name: "key", reason: "must be [B, HKV, NK, D], got rank \(kd.count)") }
        guard kd == vd else { throw .dimensionMismatch(expected: kd, actual: vd) }
        guard kd[0] == qd[0], kd[3] == qd[3] else {
            throw .dimensionMismatch(expected: [qd[0], kd[1], kd[2], qd[3]], actual: kd)
        }
        batch = qd[0]; heads = qd[1]; nq = qd[2]; d = qd[3]; kvHeads = kd[1]; nk = kd[2]
        guard batch >= 1, heads >= 1, kvHeads >= 1 else {
            throw .invalidArgument(name: "query", reason: "batch, heads and K/V heads must be ≥ 1 (got \(batch), \(heads), \(kvHeads))")
        }
        guard heads % kvHeads == 0 else {
            throw .invalidArgument(name: "key", reason: "\(heads) query heads are not a multiple of \(kvHeads) K/V heads")
        }
        guard nq >= 1, nk >= 1 else { throw .invalidArgument(name: "query", reason: "empty sequence (NQ \(nq), NK \(nk))") }
        guard d >= 1 else { throw .invalidArgument(name: "query", reason: "head dimension must be ≥ 1") }
        guard query.dtype == .f32 else { throw .invalidArgument(name: "query", reason: "must be f32, got \(query.dtype)") }
        // Plain tests, no array literals: a warm FlashAttention call allocates nothing.
        func isFloat(_ t: DType) -> Bool { t == .f32 || t == .f16 || t == .bf16 }
        guard isFloat(key.dtype) else { throw .invalidArgument(name: "key", reason: "must be f32, f16 or bf16, got \(key.dtype)") }
        guard isFloat(value.dtype) else { throw .invalidArgument(name: "value", reason: "must be f32, f16 or bf16, got \(value.dtype)") }
        if let w = o.windowLeft, w < 0 { throw .invalidArgument(name: "windowLeft", reason: "must be ≥ 0, got \(w)") }
        guard o.threads >= 1 else { throw .invalidArgument(name: "threads", reason: "must be ≥ 1, got \(o.threads)") }
        if let lengths = o.keyLengths {
            guard lengths.count == batch else {
                throw .invalidArgument(name: "keyLengths", reason: "\(lengths.count) lengths for batch \(batch)")
            }
            let keys = kd[2]
            if let bad = lengths.firstIndex(where: { $0 < 0 || $0 > keys }) {
                throw .invalidArgument(name: "keyLengths", reason: "keyLengths[\(bad)] = \(lengths[bad]) is outside 0...\(nk)")
            }
        }
        if let s = o.scale, !s.isFinite { throw .invalidArgument(name: "scale", reason: "must be finite, got \(s)") }
        scale = o.scale ?? 1 / Float(d).squareRoot()
        causal = o.causal
        windowLeft = o.windowLeft
        keyLengths = o.keyLengths
        threads = o.threads
        let qc = try query.contiguous()
        let kc = key.dtype == .f32 || !widensKeyValue ? try key.contiguous() : try key.converted(to: .f32)
        let vc = value.dtype == .f32 || !widensKeyValue ? try value.contiguous() : try value.converted(to: .f32)
        if o.checksFiniteness {
            try Self.requireFinite(qc, name: "query")
            try Self.requireFinite(kc, name: "key")
            try Self.requireFinite(vc, name: "value")
        }
        q = qc
        k = kc
        v = vc
        if let b = o.bias {
            let bd = b.shape.dims
            guard bd.count == 4, bd[0] == 1 || bd[0] == batch, bd[1] == 1 || bd[1] == heads, bd[2] == nq, bd[3] == nk else {
                throw .invalidArgument(name: "bias", reason: "shape \(bd) does not broadcast to [\(batch), \(heads), \(nq), \(nk)]")
            }
            guard b.dtype == .f32 else { throw .invalidArgument(name: "bias", reason: "must be f32, got \(b.dtype)") }
            let c = try b.contiguous()
            if o.checksFiniteness, let i = try Self.firstNonFinite(c, allowInfinity: true) {
                throw .invalidArgument(name: "bias", reason: "NaN at flat index \(i)")
            }
            bias = c
            biasHeadStride = bd[1] == 1 ? 0 : nq * nk
            biasBatchStride = bd[0] == 1 ? 0 : bd[1] * nq * nk
        } else {
            bias = nil
            biasHeadStride = 0
            biasBatchStride = 0
        }
    }

    /// Index of the first NaN (or ±Inf unless allowed) in a contiguous f32 tensor.
    static func firstNonFinite(_ t: Tensor, allowInfinity: Bool) throws(KestrelError) -> Int? {
        try t.withUnsafeBufferPointer { (p: UnsafeBufferPointer<Float>) -> Int? in
            allowInfinity ? p.firstIndex { $0.isNaN } : p.firstIndex { !$0.isFinite }
        }
    }

    /// Throws naming `name` at the first NaN/±Inf of a contiguous f32, f16 or bf16 tensor.
    static func requireFinite(_ t: Tensor, name: String) throws(KestrelError) {
        let bad: Int?
        switch t.dtype {
        case .f16:  // exponent bits all ones: Inf or NaN
            bad = try t.withUnsafeBufferPointer(as: UInt16.self) { p in p.firstIndex { $0 & 0x7c00 == 0x7c00 } }
        case .bf16:
            bad = try t.withUnsafeBufferPointer(as: UInt16.self) { p in p.firstIndex { $0 & 0x7f80 == 0x7f80 } }
        default:
            bad = try firstNonFinite(t, allowInfinity: false)
        }
        if let i = bad { throw .invalidArgument(name: name, reason: "non-finite value at flat index \(i)") }
    }

    /// Key position of query row `row` (the causal diagonal, bottom-right aligned).
    func diagonal(row: Int) -> Int { nk - nq + row }

    /// Valid keys of batch item `b`.
    func keyLength(_ b: Int) -> Int { keyLengths?[b] ?? nk }
}

/// The raw views a kernel's workers write through: output, log-sum-exp, scratch, Q, K, V, bias.
struct AttentionPointers: @unchecked Sendable {  // workers write disjoint parts
    let o: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
    let q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, bias: UnsafePointer<Float>?
}

extension AttentionProblem {
    /// Allocates the output and log-sum-exp and `scratchFloats` of scratch, pins every operand,
    /// and runs `body` with their pointers (one place for both kernels' buffer plumbing).
    func run(scratchFloats: Int, _ body: (AttentionPointers) -> Void) throws(KestrelError) -> AttentionOutput {
        var out = try Tensor.zeros([batch, heads, nq, d])
        var lse = try Tensor.zeros([batch, heads, nq])
        var scratch = [Float](repeating: 0, count: max(1, scratchFloats))
        let bias = self.bias ?? q  // any f32 tensor; only passed on when there is a bias
        try out.withUnsafeMutableBufferPointer { (o: UnsafeMutableBufferPointer<Float>) throws(KestrelError) in
            try lse.withUnsafeMutableBufferPointer { (l: UnsafeMutableBufferPointer<Float>) throws(KestrelError) in
                try q.withUnsafeBufferPointer { (qp: UnsafeBufferPointer<Float>) throws(KestrelError) in
                    try k.withUnsafeBufferPointer { (kp: UnsafeBufferPointer<Float>) throws(KestrelError) in
                        try v.withUnsafeBufferPointer { (vp: UnsafeBufferPointer<Float>) throws(KestrelError) in
                            try bias.withUnsafeBufferPointer { (bp: UnsafeBufferPointer<Float>) throws(KestrelError) in
                                scratch.withUnsafeMutableBufferPointer { sp in
                                    body(AttentionPointers(o: o.baseAddress!, lse: l.baseAddress!, scratch: sp.baseAddress!,
                                                           q: qp.baseAddress!, k: kp.baseAddress!, v: vp.baseAddress!,
                                                           bias: self.bias == nil ? nil : bp.baseAddress!))
                                }
                            }
                        }
                    }
                }
            }
        }
        return AttentionOutput(output: out, logSumExp: lse)
    }
}
