import Foundation
import KestrelTensor

/// The adapter's mathematics in Double, written from Documentation/Adaptation.md independently of
/// the C kernels: forward, the four losses and their gradients, the EWC penalty.
struct AdapterReference {
    var dIn: Int, dOut: Int, rank: Int, scale: Double
    var residual: Bool

    enum Loss {
        case squared(target: [Double])
        case binary(result: [Double], label: Double)
        case infoNCE(positive: [Double], negatives: [[Double]], temperature: Double)
    }

    /// y = base + s·Bᵀt(A x) for θ = [A (r × d_in) | Bt (r × d_out)].
    func forward(_ theta: [Double], _ x: [Double], base: [Double]?) -> (h: [Double], y: [Double]) {
        var h = [Double](repeating: 0, count: rank)
        for k in 0..<rank {
            var s = 0.0
            for i in 0..<dIn { s += theta[k * dIn + i] * x[i] }
            h[k] = scale * s
        }
        var y = residual ? x : (base ?? [Double](repeating: 0, count: dOut))
        for j in 0..<dOut { for k in 0..<rank { y[j] += h[k] * theta[rank * dIn + k * dOut + j] } }
        return (h, y)
    }

    /// L(y) and dL/dy.
    func loss(_ y: [Double], _ l: Loss) -> (Double, [Double]) {
        switch l {
        case .squared(let t):
            let g = zip(y, t).map { $0 - $1 }
            return (0.5 * g.reduce(0) { $0 + $1 * $1 }, g)
        case .binary(let r, let label):
            let u = zip(y, r).reduce(0) { $0 + $1.0 * $1.1 }
            let z = -label * u
            let sig = 1 / (1 + exp(-z))
            return (log1p(exp(z)), r.map { -label * sig * $0 })
        case .infoNCE(let p, let negs, let tau):
            let keys = [p] + negs
            let u = keys.map { k in zip(y, k).reduce(0) { $0 + $1.0 * $1.1 } / tau }
            let m = u.max()!
            let z = u.reduce(0) { $0 + exp($1 - m) }
            var g = [Double](repeating: 0, count: y.count)
            for (i, k) in keys.enumerated() {
                let c = (exp(u[i] - m) / z - (i == 0 ? 1 : 0)) / tau
                for j in 0..<y.count { g[j] += c * k[j] }
            }
            return (m + log(z) - u[0], g)
        }
    }

    /// Loss of θ and its analytic gradient.
    func lossAndGradient(_ theta: [Double], _ x: [Double], base: [Double]?, _ l: Loss) -> (Double, [Double]) {
        let (h, y) = forward(theta, x, base: base)
        let (L, gy) = loss(y, l)
        var g = [Double](repeating: 0, count: theta.count)
        for k in 0..<rank {
            var gh = 0.0
            for j in 0..<dOut { gh += theta[rank * dIn + k * dOut + j] * gy[j] }
            gh *= scale
            for i in 0..<dIn { g[k * dIn + i] = gh * x[i] }
            for j in 0..<dOut { g[rank * dIn + k * dOut + j] = h[k] * gy[j] }
        }
        return (L, g)
    }

    /// λ Σ F*(θ − θ*)² and its gradient.
    static func ewc(_ theta: [Double], anchor: [Double], fisher: [Double], lambda: Double) -> (Double, [Double]) {
        var p = 0.0
        var g = [Double](repeating: 0, count: theta.count)
        for i in theta.indices {
            let d = theta[i] - anchor[i]
            p += lambda * fisher[i] * d * d
            g[i] = 2 * lambda * fisher[i] * d
        }
        return (p, g)
    }
}

/// n values uniform in [-amp, amp), as Doubles that are exactly representable as Floats.
func randomDoubles(_ rng: inout SplitMix64, _ n: Int, _ amp: Double = 1) -> [Double] {
    (0..<n).map { _ in Double(Float(Double(rng.nextSignedUnit()) * amp)) }
}
