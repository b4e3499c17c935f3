/// SplitMix64: reproducible inputs for the tests (the module's own generator is tested separately).
struct TestRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Log-uniform latencies between 100 ns and 100 ms, with a tail: realistic spread over 6 decades.
    mutating func latency() -> UInt64 {
        let e = Double.random(in: 2...8, using: &self)
        return UInt64(pow10(e))
    }
}

func pow10(_ e: Double) -> Double {
    var r = 1.0
    var k = e
    while k >= 1 { r *= 10; k -= 1 }
    // 10^k for k in [0, 1) by exp(k·ln 10)
    return r * exp(k * 2.302585092994046)
}

func exp(_ x: Double) -> Double {
    // Taylor series is enough for |x| ≤ 2.31 at the precision the tests need.
    var term = 1.0, sum = 1.0
    for i in 1..<30 { term *= x / Double(i); sum += term }
    return sum
}

/// Exact nearest-rank percentile of sorted values: the smallest value with at least p % at or below it.
func exactPercentile(_ sorted: [UInt64], _ p: Double) -> UInt64 {
    if p >= 100 { return sorted.last! }
    // p·n/100 is an integer more often than Double shows (99.9 % of 1000 = 999.0000000000001):
    // remove the rounding excess before rounding up, as HdrHistogram does with `nextDown`.
    let x = p * Double(sorted.count) / 100
    let rank = max(1, Int((x - 1e-9 * max(1, x)).rounded(.up)))
    return sorted[rank - 1]
}

/// A deterministic, data-dependent loop of `n` steps (a multiply-xorshift chain that cannot be
/// vectorised or folded): the work of `2n` steps is twice that of `n`.
@inline(never)
func spin(_ n: Int, seed: UInt64 = 0x1234_5678) -> UInt64 {
    var x = seed
    for _ in 0..<n {
        x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        x ^= x >> 29
    }
    return x
}
