/// The Mann–Whitney U (Wilcoxon rank-sum) test of two independent samples: does one tend to
/// give larger values than the other? No normality assumption — timings are skewed.
public struct MannWhitneyU: Codable, Sendable, Equatable {
    /// U statistic of the first sample: the number of (a, b) pairs with a > b, ties counting ½.
    public var u: Double
    /// Normal-approximation z score (tie- and continuity-corrected); 0 when the exact test was used.
    public var z: Double
    /// Two-sided p-value.
    public var pValue: Double
    /// U / (n_a·n_b): the probability that a value of the first sample exceeds one of the second
    /// (0.5 = no tendency).
    public var probabilityOfSuperiority: Double
    /// True when the p-value comes from the exact null distribution (small samples, no ties).
    public var exact: Bool

    /// Runs the two-sided test.
    ///
    /// The p-value is exact (by counting arrangements) when n_a·n_b ≤ 2500 and there are no
    /// ties, and otherwise comes from the normal approximation with tie correction.
    /// - Throws: ``ProfilingError/insufficientData(needed:got:)`` if a sample is empty.
    /// - Complexity: O((n_a + n_b) log(n_a + n_b)); the exact path O(n_a·n_b·min(n_a, n_b)).
    public init(_ a: [Double], _ b: [Double]) throws(ProfilingError) {
        guard !a.isEmpty else { throw .insufficientData(needed: 1, got: 0) }
        guard !b.isEmpty else { throw .insufficientData(needed: 1, got: 0) }
        let na = a.count, nb = b.count, n = na + nb
        var pooled = a.map { ($0, true) } + b.map { ($0, false) }
        pooled.sort { $0.0 < $1.0 }
        var rankSumA = 0.0
        var tieTerm = 0.0
        var i = 0
        while i < n {
            var j = i
            while j + 1 < n && pooled[j + 1].0 == pooled[i].0 { j += 1 }
            let rank = Double(i + j + 2) / 2  // average of ranks i+1 ... j+1
            for k in i...j where pooled[k].1 { rankSumA += rank }
            let t = Double(j - i + 1)
            tieTerm += t * t * t - t
            i = j + 1
        }
        let uA = rankSumA - Double(na * (na + 1)) / 2
        u = uA
        probabilityOfSuperiority = uA / Double(na * nb)
        let mean = Double(na * nb) / 2
        if tieTerm == 0 && na * nb <= 2500 {
            exact = true
            z = 0
            pValue = MannWhitneyU.exactTwoSided(u: uA, na: na, nb: nb)
        } else {
            exact = false
            let variance = Double(na * nb) / 12 * (Double(n + 1) - tieTerm / Double(n * (n - 1)))
            if variance <= 0 {
                z = 0
                pValue = 1
            } else {
                let d = uA - mean
                let corrected = d == 0 ? 0 : (abs(d) - 0.5) * (d > 0 ? 1 : -1)
                z = corrected / variance.squareRoot()
                pValue = Swift.min(1, 2 * Descriptive.normalUpperTail(abs(z)))
            }
        }
    }

    /// Two-sided exact p-value: 2·P(U ≤ min(u, n_a·n_b − u)) under the null, from the counts of
    /// arrangements with each U (the recurrence f(u; m, n) = f(u − n; m − 1, n) + f(u; m, n − 1)).
    static func exactTwoSided(u: Double, na: Int, nb: Int) -> Double {
        let maxU = na * nb
        // counts[m][u] for the current n, built up one value of n at a time, in Doubles (no overflow).
        let small = Swift.min(na, nb), large = Swift.max(na, nb)
        var prev = [[Double]](repeating: [], count: small + 1)  // n = 0: only U = 0
        for m in 0...small { prev[m] = [1] }
        for nn in 1...large {
            var cur = [[Double]](repeating: [], count: small + 1)
            cur[0] = [1]
            for m in 1...small {
                let size = m * nn + 1
                var row = [Double](repeating: 0, count: size)
                for uu in 0..<size {
                    var v = 0.0
                    if uu - nn >= 0 && uu - nn < cur[m - 1].count { v += cur[m - 1][uu - nn] }
                    if uu < prev[m].count { v += prev[m][uu] }
                    row[uu] = v
                }
                cur[m] = row
            }
            prev = cur
        }
        let dist = prev[small]
        let total = dist.reduce(0, +)
        let tail = Swift.min(u, Double(maxU) - u)
        var cumulative = 0.0
        for uu in 0...Int(tail.rounded(.down)) where uu < dist.count { cumulative += dist[uu] }
        return Swift.min(1, 2 * cumulative / total)
    }
}
