import Benchmark
import KestrelAttention
import KestrelBenchmarkSupport

// KestrelAttention re-exports KestrelTensor, which has its own `blackHole`, AlignedBuffer and
// SplitMix64: the harness's blackHole is used here.
import func Benchmark.blackHole

/// FlashAttention's forward pass at issue 17's package-benchmark shapes: B = 1, H = 8, D = 64,
/// N = 1024 and 4096, causal, one thread, on seeded uniform [-1, 1) inputs built in setup.
///
/// Names are `FlashAttention.forward.b<B>h<H>n<N>d<D>.causal`. `mallocCountTotal` is checked
/// against `Thresholds/` with zero tolerance at 0: `forward(…into:)` writes into the output made in
/// setup and takes its tile scratch from a pool, so on one thread a call allocates nothing after
/// the warm-up (issue 17). The allocating `forward(query:key:value:options:)` made 17 per call.
let benchmarks: @Sendable () -> Void = {
    BenchmarkDefaults.install()
    // One warm-up call: a call at N = 4096 takes about a second, and the allocation gate of
    // .ci/run runs every benchmark.
    var configuration = Benchmark.defaultConfiguration
    configuration.warmupIterations = 1
    for n in AttentionData.lengths {
        Benchmark("FlashAttention.forward.b1h\(AttentionData.heads)n\(n)d\(AttentionData.headDim).causal",
                  configuration: configuration) { benchmark, state in
            for _ in benchmark.scaledIterations {
                try state.kernel.forward(query: state.q, key: state.k, value: state.v, options: state.options, into: &state.out)
            }
            blackHole(state.out)
        } setup: { try AttentionData(n: n) }
    }
}

/// Seeded Q, K, V of one shape, the output every call writes into, and the options of every call.
final class AttentionData: @unchecked Sendable {  // one benchmark thread uses it
    static let lengths = [1024, 4096]
    static let heads = 8
    static let headDim = 64

    let q: Tensor, k: Tensor, v: Tensor
    var out: AttentionOutput
    let kernel = FlashAttention()
    /// Causal, one thread; the finiteness scan is skipped so only the attention itself is timed.
    let options = AttentionOptions(causal: true, threads: 1, checksFiniteness: false)

    init(n: Int) throws {
        let dims = [1, Self.heads, n, Self.headDim]
        q = try Tensor.random(dims, seed: 1)
        k = try Tensor.random(dims, seed: 2)
        v = try Tensor.random(dims, seed: 3)
        out = AttentionOutput(output: try Tensor.zeros(dims), logSumExp: try Tensor.zeros([1, Self.heads, n]))
    }
}
