import KestrelKernels

/// EWC++ (Chaudhry et al. 2018; Kirkpatrick et al. 2017): protection of what an adapter learned
/// before a task boundary.
///
/// Every step updates a running diagonal Fisher F ← γ·F + (1 − γ)·g² from the loss gradient g
/// (the mean gradient of a committed mini-batch); ``Adapter/consolidate()`` copies θ into the
/// anchor θ* and F into the penalty's F*; from then on each step adds the penalty
/// λ·Σ F*(θ − θ*)², whose gradient 2λ·F*(θ − θ*) pulls the weights back, inside the fused step.
public struct EWCConfiguration: Sendable, Equatable {
    /// λ ≥ 0, the weight of the penalty.
    public var lambda: Float
    /// γ in [0, 1], the decay of the running Fisher (0.99 averages over about 100 steps).
    public var fisherDecay: Float

    /// A configuration with these values.
    public init(lambda: Float, fisherDecay: Float = 0.99) {
        self.lambda = lambda
        self.fisherDecay = fisherDecay
    }

    func validate() throws(KestrelError) {
        guard lambda >= 0, lambda.isFinite else { throw .invalidArgument(name: "lambda", reason: "must be finite and >= 0, got \(lambda)") }
        guard fisherDecay >= 0, fisherDecay <= 1 else {
            throw .invalidArgument(name: "fisherDecay", reason: "must be in [0, 1], got \(fisherDecay)")
        }
    }
}
