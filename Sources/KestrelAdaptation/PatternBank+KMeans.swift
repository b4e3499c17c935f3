import KestrelTensor

/// k-means pieces used by ``PatternBank``: k-means++ seeding and mini-batch updates over
/// row-major `Float` points. Distances are squared Euclidean, accumulated in `Double` so the
/// D² sampling weights do not depend on the summation order of a SIMD kernel.
///
/// Thread-safety: pure functions of their arguments (the generator is the caller's).
public enum KMeans {
    /// Squared distance between `a` and row `row` of `rows`, in `Double`.
    static func distance(_ a: ArraySlice<Float>, _ rows: [Float], row: Int, dimension d: Int) -> Double {
        var s = 0.0
        var j = a.startIndex
        for i in (row * d)..<((row + 1) * d) {
            let t = Double(a[j]) - Double(rows[i])
            s += t * t
            j += 1
        }
        return s
    }

    /// The nearest row of `centres` to `x` (ties: the lowest index).
    static func nearest(_ x: ArraySlice<Float>, _ centres: [Float], dimension d: Int) -> (index: Int, distance: Double) {
        var best = (index: 0, distance: Double.infinity)
        for c in 0..<(centres.count / d) {
            let dist = distance(x, centres, row: c, dimension: d)
            if dist < best.distance { best = (c, dist) }
        }
        return best
    }

    /// k-means++ seeding (Arthur & Vassilvitskii, 2007): the first seed is uniform over the
    /// points; each next one is drawn with probability proportional to D(x)², the squared
    /// distance from x to its nearest seed so far. When every remaining point coincides with a
    /// seed (all D² = 0), the next seed is uniform over the points not chosen yet.
    ///
    /// - Parameters:
    ///   - points: `n × dimension` floats, row-major.
    ///   - k: seeds wanted, 1…n.
    ///   - rng: the source of randomness (seeded by the caller for reproducibility).
    /// - Returns: `k` distinct row indices, in the order drawn.
    /// - Throws: `invalidArgument` for `dimension < 1`, no points, `k < 1` or `k > n`;
    ///   `dimensionMismatch` when `points.count` is not a multiple of `dimension`;
    ///   `nonFiniteValue(index:)` for a NaN or infinite component.
    /// - Complexity: O(k × n × dimension) time, O(n) extra memory.
    public static func plusPlusSeeds<G: RandomNumberGenerator>(
        _ points: [Float], dimension d: Int, k: Int, rng: inout G
    ) throws(KestrelError) -> [Int] {
        guard d >= 1 else { throw .invalidArgument(name: "dimension", reason: "must be ≥ 1, got \(d)") }
        guard points.count % d == 0 else { throw .dimensionMismatch(expected: [points.count / d + 1, d], actual: [points.count]) }
        for i in points.indices where !points[i].isFinite { throw .nonFiniteValue(index: i) }
        let n = points.count / d
        guard n > 0 else { throw .invalidArgument(name: "points", reason: "no points to seed from") }
        guard k >= 1, k <= n else { throw .invalidArgument(name: "k", reason: "must be in 1...\(n) (the point count), got \(k)") }
        var seeds = [Int.random(in: 0..<n, using: &rng)]
        var chosen = [Bool](repeating: false, count: n)
        chosen[seeds[0]] = true
        var d2 = (0..<n).map { distance(points[(seeds[0] * d)..<((seeds[0] + 1) * d)], points, row: $0, dimension: d) }
        while seeds.count < k {
            let total = d2.reduce(0, +)
            var pick = -1
            if total > 0 {
                // u in [0, total): the first row whose cumulative weight exceeds u.
                let u = Double(rng.next() >> 11) * 0x1p-53 * total
                var acc = 0.0
                for i in 0..<n where d2[i] > 0 {
                    acc += d2[i]
                    pick = i
                    if acc > u { break }
                }
            } else {
                let free = (0..<n).filter { !chosen[$0] }
                pick = free[Int.random(in: 0..<free.count, using: &rng)]
            }
            seeds.append(pick)
            chosen[pick] = true
            let row = points[(pick * d)..<((pick + 1) * d)]
            for i in 0..<n { d2[i] = Swift.min(d2[i], distance(row, points, row: i, dimension: d)) }
        }
        return seeds
    }

    /// Mini-batch k-means updates (Sculley 2010): each iteration draws `batchSize` points
    /// uniformly with replacement, assigns each to its nearest centre, then moves each centre
    /// towards its points with step 1/(points the centre has received so far).
    /// - Complexity: O(iterations × batchSize × k × dimension); no allocation beyond the counts.
    static func miniBatch<G: RandomNumberGenerator>(_ points: [Float], dimension d: Int, centres: inout [Float],
                                                    batchSize: Int, iterations: Int, rng: inout G) {
        let n = points.count / d
        let k = centres.count / d
        guard n > 0, k > 0 else { return }
        var seen = [Int](repeating: 0, count: k)
        var batch = [Int](repeating: 0, count: batchSize)
        var owner = [Int](repeating: 0, count: batchSize)
        for _ in 0..<iterations {
            for b in 0..<batchSize {
                batch[b] = Int.random(in: 0..<n, using: &rng)
                owner[b] = nearest(points[(batch[b] * d)..<((batch[b] + 1) * d)], centres, dimension: d).index
            }
            for b in 0..<batchSize {
                let c = owner[b]
                seen[c] += 1
                let eta = 1 / Float(seen[c])
                for i in 0..<d { centres[c * d + i] += (points[batch[b] * d + i] - centres[c * d + i]) * eta }
            }
        }
    }
}
