import Foundation

/// A fit of cost(n) = a·n^b + c to timings at growing sizes: the empirical complexity
/// exponent b, a fixed cost c, and predictions at larger n. `Codable`.
///
/// Method (plain Swift; this module uses no LAPACK): for a fixed b the model is linear in
/// (a, c), solved in closed form by weighted least squares; b is found by a grid over
/// [0, 4] refined by golden-section search on the residual. Weights are 1/cost², so every size
/// counts by its relative error (timings span decades; unweighted, the largest n would decide
/// alone). a and c are constrained to be ≥ 0 (a negative fixed cost is not physical).
public struct PowerLawFit: Codable, Sendable, Equatable {
    /// Scale factor a (cost units per n^b).
    public var a: Double
    /// Exponent b: 1 ≈ linear, 2 ≈ quadratic, slightly above 1 ≈ n log n.
    public var b: Double
    /// Fixed cost c (cost units).
    public var c: Double
    /// Coefficient of determination of the weighted fit (1 = perfect).
    public var rSquared: Double
    /// Root mean square relative error of the fit.
    public var rmsRelativeError: Double
    /// Number of points fitted.
    public var points: Int

    /// Fits the model.
    ///
    /// - Parameters:
    ///   - sizes: problem sizes n (positive, at least 3 distinct).
    ///   - costs: measured cost at each size (positive, e.g. median nanoseconds).
    /// - Throws: ``ProfilingError/insufficientData(needed:got:)`` with fewer than 3 distinct sizes,
    ///   ``ProfilingError/invalidArgument(name:reason:)`` for mismatched, non-positive or non-finite inputs.
    /// - Complexity: O(points × 500) time.
    public static func fit(sizes: [Double], costs: [Double]) throws(ProfilingError) -> PowerLawFit {
        guard sizes.count == costs.count else {
            throw .invalidArgument(name: "costs", reason: "\(costs.count) costs for \(sizes.count) sizes")
        }
        guard sizes.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw .invalidArgument(name: "sizes", reason: "must be positive and finite") }
        guard costs.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw .invalidArgument(name: "costs", reason: "must be positive and finite") }
        guard Set(sizes).count >= 3 else { throw .insufficientData(needed: 3, got: Set(sizes).count) }
        let w = costs.map { 1 / ($0 * $0) }
        // Scale n so n^b stays in range for b up to 4 with sizes up to 1e9.
        let scale = sizes.max()!
        let x = sizes.map { $0 / scale }

        func solve(_ b: Double) -> (a: Double, c: Double, sse: Double) {
            let xb = x.map { pow($0, b) }
            var sw = 0.0, sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0
            for i in 0..<xb.count {
                sw += w[i]; sx += w[i] * xb[i]; sy += w[i] * costs[i]
                sxx += w[i] * xb[i] * xb[i]; sxy += w[i] * xb[i] * costs[i]
            }
            let det = sw * sxx - sx * sx
            var a = det != 0 ? (sw * sxy - sx * sy) / det : 0
            var c = det != 0 ? (sy - a * sx) / sw : sy / sw
            if c < 0 { c = 0; a = sxx > 0 ? sxy / sxx : 0 }  // refit through the origin
            if a < 0 { a = 0; c = sy / sw }  // no growth at all: constant cost
            var sse = 0.0
            for i in 0..<xb.count {
                let r = costs[i] - (a * xb[i] + c)
                sse += w[i] * r * r
            }
            return (a, c, sse)
        }

        var bestB = 0.0, bestSSE = Double.infinity
        let steps = 400
        for k in 0...steps {
            let b = 4 * Double(k) / Double(steps)
            let s = solve(b).sse
            if s < bestSSE { bestSSE = s; bestB = b }
        }
        // Golden-section refinement within one grid step on each side.
        var lo = Swift.max(0, bestB - 0.01), hi = Swift.min(4, bestB + 0.01)
        let phi = (5.0.squareRoot() - 1) / 2
        var m1 = hi - phi * (hi - lo), m2 = lo + phi * (hi - lo)
        var f1 = solve(m1).sse, f2 = solve(m2).sse
        for _ in 0..<60 {
            if f1 < f2 { hi = m2; m2 = m1; f2 = f1; m1 = hi - phi * (hi - lo); f1 = solve(m1).sse } else {
                lo = m1; m1 = m2; f1 = f2; m2 = lo + phi * (hi - lo); f2 = solve(m2).sse
            }
        }
        let b = (lo + hi) / 2
        let (aScaled, c, sse) = solve(b)
        let meanW = Descriptive.sum(zip(w, costs).map { $0 * $1 }) / Descriptive.sum(w)
        let sst = zip(w, costs).reduce(0.0) { $0 + $1.0 * ($1.1 - meanW) * ($1.1 - meanW) }
        let a = aScaled / pow(scale, b)
        let rel = zip(sizes, costs).map { (n, y) in (a * pow(n, b) + c - y) / y }
        return PowerLawFit(a: a, b: b, c: c, rSquared: sst > 0 ? 1 - sse / sst : 1,
                           rmsRelativeError: (rel.reduce(0) { $0 + $1 * $1 } / Double(rel.count)).squareRoot(), points: sizes.count)
    }

    /// Fits cost(n) = a·n^b without a fixed cost, by ordinary least squares on (log n, log cost):
    /// every point counts by its relative error, and one noisy point moves b far less than in the
    /// three-parameter ``fit(sizes:costs:)``, whose offset can absorb it. With two sizes, b is the
    /// end-to-end growth log(y₂/y₁)/log(n₂/n₁). `rSquared` is that of the log-scale regression.
    ///
    /// - Parameters:
    ///   - sizes: problem sizes n (positive, at least 2 distinct).
    ///   - costs: the measured figure at each size (positive, finite).
    /// - Throws: ``ProfilingError/insufficientData(needed:got:)`` with fewer than 2 distinct sizes,
    ///   ``ProfilingError/invalidArgument(name:reason:)`` for mismatched, non-positive or non-finite inputs.
    /// - Complexity: O(points).
    public static func fitWithoutOffset(sizes: [Double], costs: [Double]) throws(ProfilingError) -> PowerLawFit {
        guard sizes.count == costs.count else {
            throw .invalidArgument(name: "costs", reason: "\(costs.count) costs for \(sizes.count) sizes")
        }
        guard sizes.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw .invalidArgument(name: "sizes", reason: "must be positive and finite") }
        guard costs.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw .invalidArgument(name: "costs", reason: "must be positive and finite") }
        guard Set(sizes).count >= 2 else { throw .insufficientData(needed: 2, got: Set(sizes).count) }
        let lx = sizes.map { log($0) }, ly = costs.map { log($0) }
        let n = Double(lx.count)
        let mx = lx.reduce(0, +) / n, my = ly.reduce(0, +) / n
        var sxx = 0.0, sxy = 0.0, syy = 0.0
        for i in 0..<lx.count {
            sxx += (lx[i] - mx) * (lx[i] - mx)
            sxy += (lx[i] - mx) * (ly[i] - my)
            syy += (ly[i] - my) * (ly[i] - my)
        }
        let b = sxy / sxx
        let a = exp(my - b * mx)
        let sse = zip(lx, ly).reduce(0.0) { acc, p in let r = p.1 - (log(a) + b * p.0); return acc + r * r }
        let rel = zip(sizes, costs).map { (x, y) in (a * pow(x, b) - y) / y }
        return PowerLawFit(a: a, b: b, c: 0, rSquared: syy > 0 ? 1 - sse / syy : 1,
                           rmsRelativeError: (rel.reduce(0) { $0 + $1 * $1 } / Double(rel.count)).squareRoot(), points: sizes.count)
    }

    /// Predicted cost at size `n`.
    public func predict(_ n: Double) -> Double { a * pow(n, b) + c }

    /// The nearest textbook complexity, e.g. `≈ O(n^1.02), close to linear`.
    public var complexity: String {
        let names: [(Double, String)] = [(0, "constant"), (0.5, "square root"), (1, "linear"), (1.5, "n^1.5"),
                                         (2, "quadratic"), (3, "cubic")]
        let nearest = names.min { abs($0.0 - b) < abs($1.0 - b) }!
        return String(format: "≈ O(n^%.2f), close to ", b) + nearest.1
    }
}

/// A fit of Amdahl's law to timings at 1…T threads: t(T) = t₁·(s + (1 − s)/T), giving the
/// serial fraction s and predicted speedups at more threads. `Codable`.
///
/// Method: t(T) = A + B/T is linear in (A, B); solved by least squares weighted by 1/t²
/// (relative errors), then s = A / (A + B), t₁ = A + B. s is clamped to [0, 1].
public struct AmdahlFit: Codable, Sendable, Equatable {
    /// Serial fraction s (0 = perfectly parallel, 1 = no parallelism).
    public var serialFraction: Double
    /// Fitted single-thread cost t₁ (cost units).
    public var singleThreadCost: Double
    /// Root mean square relative error of the fit.
    public var rmsRelativeError: Double
    /// Number of points fitted.
    public var points: Int

    /// Fits the model.
    ///
    /// - Parameters:
    ///   - threads: thread counts (≥ 1, at least 2 distinct).
    ///   - costs: measured cost at each count (positive).
    /// - Throws: ``ProfilingError/insufficientData(needed:got:)`` or ``ProfilingError/invalidArgument(name:reason:)``.
    public static func fit(threads: [Int], costs: [Double]) throws(ProfilingError) -> AmdahlFit {
        guard threads.count == costs.count else {
            throw .invalidArgument(name: "costs", reason: "\(costs.count) costs for \(threads.count) thread counts")
        }
        guard threads.allSatisfy({ $0 >= 1 }) else { throw .invalidArgument(name: "threads", reason: "must be ≥ 1") }
        guard costs.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw .invalidArgument(name: "costs", reason: "must be positive and finite") }
        guard Set(threads).count >= 2 else { throw .insufficientData(needed: 2, got: Set(threads).count) }
        let x = threads.map { 1 / Double($0) }
        let w = costs.map { 1 / ($0 * $0) }
        var sw = 0.0, sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0
        for i in 0..<x.count {
            sw += w[i]; sx += w[i] * x[i]; sy += w[i] * costs[i]
            sxx += w[i] * x[i] * x[i]; sxy += w[i] * x[i] * costs[i]
        }
        let det = sw * sxx - sx * sx
        var bCoef = det != 0 ? (sw * sxy - sx * sy) / det : 0
        var aCoef = (sy - bCoef * sx) / sw
        if aCoef < 0 { aCoef = 0; bCoef = sxy / sxx }  // perfectly parallel
        if bCoef < 0 { bCoef = 0; aCoef = sy / sw }  // no speedup at all
        let t1 = aCoef + bCoef
        let s = t1 > 0 ? Swift.min(1, Swift.max(0, aCoef / t1)) : 1
        let rel = zip(x, costs).map { (xi, y) in (aCoef + bCoef * xi - y) / y }
        return AmdahlFit(serialFraction: s, singleThreadCost: t1,
                         rmsRelativeError: (rel.reduce(0) { $0 + $1 * $1 } / Double(rel.count)).squareRoot(), points: threads.count)
    }

    /// Predicted speedup over one thread at `threads` threads: 1 / (s + (1 − s)/T).
    public func speedup(threads: Int) -> Double {
        1 / (serialFraction + (1 - serialFraction) / Double(Swift.max(threads, 1)))
    }

    /// Predicted cost at `threads` threads.
    public func predictedCost(threads: Int) -> Double { singleThreadCost / speedup(threads: threads) }

    /// The speedup limit with unlimited threads, 1/s (infinity for s = 0).
    public var maximumSpeedup: Double { serialFraction > 0 ? 1 / serialFraction : .infinity }
}
