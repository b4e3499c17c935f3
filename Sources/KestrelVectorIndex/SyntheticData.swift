import Foundation
import KestrelTensor

/// Reproducible clustered vectors for tests and built-in benchmarks: `clusters` centres drawn
/// from N(0, 1)^dim, each point a centre plus N(0, spread²)^dim noise, centres picked with
/// uneven (but fixed) weights. Base vectors and queries come from the same mixture, as in the
/// peer benchmark generator (Benchmarks/peers/make_clustered.py, same recipe, different RNG).
///
/// Thread-safety: a value type; generation is deterministic for a given seed on every platform.
public struct SyntheticClusters: Sendable {
    /// Components per vector.
    public let dimension: Int
    /// Noise standard deviation around each centre.
    public let spread: Float
    let centres: [Float]
    let cumulative: [Double]

    /// Creates the mixture.
    /// - Throws: `invalidArgument` for non-positive sizes or spread; `capacityExceeded` when the
    ///   centres (`clusters × dimension` floats) would not fit in physical memory.
    public init(dimension: Int, clusters: Int = 64, spread: Float = 0.6, seed: UInt64 = 7) throws(KestrelError) {
        guard dimension > 0, clusters > 0 else { throw .invalidArgument(name: "dimension/clusters", reason: "must be positive") }
        guard spread > 0, spread.isFinite else { throw .invalidArgument(name: "spread", reason: "must be positive") }
        _ = try SizeCheck.bytes(clusters, dimension, 4)
        self.dimension = dimension
        self.spread = spread
        var rng = SplitMix(seed: seed)
        centres = (0..<(clusters * dimension)).map { _ in rng.gaussian() }
        var w = (0..<clusters).map { _ in 0.2 + rng.unit() }
        let total = w.reduce(0, +)
        var acc = 0.0
        for i in w.indices {
            acc += w[i] / total
            w[i] = acc
        }
        cumulative = w
    }

    /// `count` row-major vectors drawn with `seed` (different seeds give independent samples;
    /// a negative count gives none).
    /// - Throws: `capacityExceeded` when `count × dimension` floats would not fit in physical memory.
    public func sample(count: Int, seed: UInt64) throws(KestrelError) -> [Float] {
        _ = try SizeCheck.bytes(max(0, count), dimension, 4)
        var rng = SplitMix(seed: seed ^ 0xA5A5_5A5A_F00D_CAFE)
        var out = [Float](repeating: 0, count: max(0, count) * dimension)
        let k = cumulative.count
        for r in 0..<max(0, count) {
            let u = rng.unit()
            var c = 0
            while c < k - 1 && cumulative[c] < u { c += 1 }
            for i in 0..<dimension {
                out[r * dimension + i] = centres[c * dimension + i] + spread * rng.gaussian()
            }
        }
        return out
    }
}

/// SplitMix64 with Box–Muller normals (deterministic, dependency-free).
struct SplitMix {
    var state: UInt64
    var spare: Float? = nil

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    mutating func unit() -> Double { (Double(next() >> 11) + 1) / 9_007_199_254_740_992.0 }

    mutating func gaussian() -> Float {
        if let s = spare {
            spare = nil
            return s
        }
        let r = (-2 * log(unit())).squareRoot()
        let t = 2 * Double.pi * unit()
        spare = Float(r * sin(t))
        return Float(r * cos(t))
    }
}
