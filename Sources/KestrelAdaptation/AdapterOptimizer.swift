import KestrelKernels

/// The update rule of an adapter's training steps.
public enum AdapterOptimizer: Sendable, Equatable {
    /// θ −= lr · g.
    case sgd
    /// Heavy ball: m = μ·m + g; θ −= lr · m.
    case momentum(Float)
    /// Adam (Kingma & Ba 2015) with bias correction.
    case adam(beta1: Float, beta2: Float, epsilon: Float)

    /// Adam with the usual β1 = 0.9, β2 = 0.999, ε = 1e-8.
    public static let adamDefault = AdapterOptimizer.adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8)
}

/// Learning rate, optimizer and gradient clipping of an adapter.
public struct AdapterTraining: Sendable, Equatable {
    /// Step size, ≥ 0 (0 leaves the parameters bit for bit).
    public var learningRate: Float
    /// The update rule.
    public var optimizer: AdapterOptimizer
    /// When set, a gradient whose L2 norm exceeds it is scaled down to it.
    public var clipNorm: Float?

    /// Settings with these values.
    public init(learningRate: Float = 1e-2, optimizer: AdapterOptimizer = .sgd, clipNorm: Float? = nil) {
        self.learningRate = learningRate
        self.optimizer = optimizer
        self.clipNorm = clipNorm
    }

    func validate() throws(KestrelError) {
        guard learningRate >= 0, learningRate.isFinite else {
            throw .invalidArgument(name: "learningRate", reason: "must be finite and >= 0, got \(learningRate)")
        }
        if let c = clipNorm, !(c > 0) || c.isNaN {
            throw .invalidArgument(name: "clipNorm", reason: "must be > 0, got \(c)")
        }
        switch optimizer {
        case .sgd: break
        case .momentum(let mu):
            guard mu >= 0, mu < 1 else { throw .invalidArgument(name: "momentum", reason: "must be in [0, 1), got \(mu)") }
        case .adam(let b1, let b2, let eps):
            guard b1 >= 0, b1 < 1, b2 >= 0, b2 < 1, eps > 0, eps.isFinite else {
                throw .invalidArgument(name: "adam", reason: "needs 0 <= beta1, beta2 < 1 and epsilon > 0")
            }
        }
    }
}
