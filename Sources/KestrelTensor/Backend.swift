/// Matrix and reduction operations on ``Tensor``s; every implementation must agree with
/// ``ReferenceBackend`` within the tolerances its documentation states.
///
/// Conventions for every method:
/// - Computation is f32. f16 and bf16 inputs are converted to f32 first (exact); int8 and
///   uint8 inputs throw `KestrelError.unsupported` (quantized math lives in KestrelQuantization).
///   Results are new contiguous f32 tensors.
/// - Inputs may be any views (slices, transposes, permutations): non-contiguous operands are
///   handled, by strides where the implementation can and by a packed copy otherwise.
/// - Shape errors throw `KestrelError.dimensionMismatch` naming both shapes; bad ranks, axes
///   or parameters throw `KestrelError.invalidArgument`. Empty tensors are valid wherever the
///   result is defined (an empty sum is 0, an empty max is -Inf).
/// - Implementations are `Sendable` and may be used from several threads at once.
public protocol Backend: Sendable {
    /// Short name for reports ("reference", "accelerated").
    var name: String { get }

    /// Matrix product `op(a) · op(b)`, where `op(x)` transposes the last two axes when asked.
    ///
    /// Ranks: `[M, K] · [K, N] -> [M, N]`; batched `[B, M, K] · [B, K, N] -> [B, M, N]`;
    /// a rank-2 operand on either side is broadcast over the other's batch
    /// (`[B, M, K] · [K, N] -> [B, M, N]`). Shapes are those after `op`.
    /// - Throws: `dimensionMismatch` for inner (K) or batch mismatches; `invalidArgument` for ranks other than 2 and 3.
    func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) throws(KestrelError) -> Tensor

    /// Matrix-vector product `op(a) · x`: `[M, K] · [K] -> [M]`.
    /// - Throws: `dimensionMismatch` when K differs; `invalidArgument` unless `a` has rank 2 and `x` rank 1.
    func matvec(_ a: Tensor, _ x: Tensor, transposeA: Bool) throws(KestrelError) -> Tensor

    /// Softmax along `axis`: `exp(x - max) / sum(exp(x - max))` over each lane.
    /// A lane that is entirely -Inf becomes all zeros; a lane with NaN or +Inf becomes all NaN.
    /// - Throws: `invalidArgument` for an axis out of range.
    func softmax(_ x: Tensor, axis: Int) throws(KestrelError) -> Tensor

    /// Element-wise sum `a + b`. `b` must have `a`'s shape or a trailing part of it
    /// (`[N]` against `[M, N]`: `b` is repeated for every leading index) — the only broadcasting.
    /// - Throws: `dimensionMismatch` naming both shapes otherwise.
    func add(_ a: Tensor, _ b: Tensor) throws(KestrelError) -> Tensor

    /// Element-wise product `a * b`, with the same broadcasting rule as ``add(_:_:)``.
    /// - Throws: `dimensionMismatch` naming both shapes.
    func mul(_ a: Tensor, _ b: Tensor) throws(KestrelError) -> Tensor

    /// `alpha * x`, element-wise.
    func scale(_ x: Tensor, by alpha: Float) throws(KestrelError) -> Tensor

    /// RMSNorm over the last axis: `y = x / sqrt(mean(x^2) + eps) * weight`.
    /// - Parameters:
    ///   - weight: `[N]` (the last extent) or nil for 1.
    ///   - eps: added to the mean square; finite and >= 0.
    /// - Throws: `dimensionMismatch` for a weight of the wrong shape; `invalidArgument` for rank 0 or a bad eps.
    func rmsNorm(_ x: Tensor, weight: Tensor?, eps: Float) throws(KestrelError) -> Tensor

    /// LayerNorm over the last axis: `y = (x - mean) / sqrt(var + eps) * weight + bias`
    /// (biased variance, as in the usual definition).
    /// - Throws: `dimensionMismatch` for weight/bias of the wrong shape; `invalidArgument` for rank 0 or a bad eps.
    func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float) throws(KestrelError) -> Tensor

    /// Sum along `axis` (the axis is removed from the shape).
    /// - Throws: `invalidArgument` for an axis out of range.
    func sum(_ x: Tensor, axis: Int) throws(KestrelError) -> Tensor

    /// Maximum along `axis` (removed from the shape); NaN if the lane holds NaN, -Inf for an empty lane.
    /// - Throws: `invalidArgument` for an axis out of range.
    func max(_ x: Tensor, axis: Int) throws(KestrelError) -> Tensor

    /// Sum of every element (0 for an empty tensor).
    func sum(_ x: Tensor) throws(KestrelError) -> Float

    /// Maximum of every element (NaN if any is NaN, -Inf for an empty tensor).
    func max(_ x: Tensor) throws(KestrelError) -> Float
}

extension Backend {
    /// `a · b` without transposes; see ``Backend/matmul(_:_:transposeA:transposeB:)``.
    /// - Throws: as ``Backend/matmul(_:_:transposeA:transposeB:)``.
    public func matmul(_ a: Tensor, _ b: Tensor) throws(KestrelError) -> Tensor {
        try matmul(a, b, transposeA: false, transposeB: false)
    }

    /// `a · x` without transpose; see ``Backend/matvec(_:_:transposeA:)``.
    /// - Throws: as ``Backend/matvec(_:_:transposeA:)``.
    public func matvec(_ a: Tensor, _ x: Tensor) throws(KestrelError) -> Tensor {
        try matvec(a, x, transposeA: false)
    }
}
