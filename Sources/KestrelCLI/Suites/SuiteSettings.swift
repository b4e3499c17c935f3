import Kestrel

/// Sizes and measurement effort of the built-in benchmark suites: the full run (the issue's
/// sizes, about 20–40 s on 2 cores) or a quick smoke run (`--quick`: smaller data,
/// fewer samples; ratios are indicative only, and the int8 scan then fits in the last-level
/// cache, so its speedup is inflated).
struct SuiteSettings: Sendable, Equatable {
    /// Elements per vector of every distance case (the 768).
    var dim = 768
    /// Rows of the one-to-many scans (the 100k × 768 scan: 307 MB of f32).
    var scanRows = 100_000
    /// Rows of the per-query latency case (one query against these rows per call).
    var queryRows = 10_000
    /// Queries timed one by one in the latency case.
    var queries = 1_000
    /// Elements per call of the exp/softmax cases.
    var mathLength = 4096
    /// Vector lengths of the speedup-against-size sweep.
    var sweepDims = [16, 64, 256, 768, 1536, 4096]
    /// Square matmul size of the Tensor-vs-sgemm case.
    var matmulSize = 512
    /// BLAS threads of the matmul case: 1, so a busy core elsewhere cannot stall one of two
    /// BLAS threads at a barrier and swing the ratio (the overhead measured does not depend on it).
    var matmulThreads = 1
    /// Interleaved comparison of the matmul contenders (milliseconds per call, one call per
    /// sample): enough rounds that the medians hold on a loaded machine.
    var matmulComparison = ComparisonOptions.benchmark(rounds: 80, maxRounds: 240)
    /// Timing of the absolute (not compared) measurements, the kernel-bench policy.
    var policy = TimingPolicy(minSeconds: 0.5, repetitions: 9)
    /// Timing of each point of the sweep.
    var sweepPolicy = TimingPolicy(minSeconds: 0.05, repetitions: 7)
    /// Interleaved comparison of fast kernels (sub-millisecond calls).
    var fastComparison = ComparisonOptions.benchmark(rounds: 60, maxRounds: 240)
    /// Interleaved comparison of the scans (tens of milliseconds per call, one call per sample).
    var scanComparison = ComparisonOptions.benchmark(rounds: 25, maxRounds: 60)
    /// STREAM triad arrays (bytes each; three of them, far above the last-level cache).
    var streamArrayBytes = 64 << 20
    /// Elements of one storage-reduction tensor (rows × dim).
    var storageRows = 10_000
    /// Requests of the buffer-pool workload.
    var poolRequests = 1_000
    /// `kestrel --help` launches timed by the start-up case.
    var startupRuns = 7
    /// kernel_info round trips per transport of the `mcp` cases.
    var mcpCalls = 1_000
    /// Interleaved rounds of the `wasm-simd` cases (each round times every variant once).
    var wasmReps = 15
    /// Index sizes of the built-in HNSW benchmark, ascending: the speedup over exact search
    /// grows with N, so it is measured at each and its growth is fitted (at least 3 sizes).
    /// Recall, QPS and build time are reported at the largest.
    var hnswCounts = [10_000, 30_000, 100_000]
    /// Dimension and queries of the built-in HNSW benchmark.
    var hnswDim = 64
    var hnswQueries = 1_000
    /// Seed of every synthetic input.
    var seed: UInt64 = 42

    /// The full run.
    static let full = SuiteSettings()

    /// The smoke run of `--quick`.
    static let quick: SuiteSettings = {
        var s = SuiteSettings()
        s.scanRows = 20_000
        s.queryRows = 2_000
        s.queries = 100
        s.sweepDims = [64, 768, 4096]
        s.matmulSize = 256
        s.matmulComparison = .benchmark(rounds: 10, maxRounds: 10)
        s.policy = TimingPolicy(minSeconds: 0.05, repetitions: 3)
        s.sweepPolicy = TimingPolicy(minSeconds: 0.01, repetitions: 3)
        s.fastComparison = .benchmark(rounds: 10, maxRounds: 10)
        s.scanComparison = .benchmark(rounds: 6, maxRounds: 6)
        s.streamArrayBytes = 16 << 20
        s.storageRows = 1_000
        s.poolRequests = 200
        s.startupRuns = 3
        s.mcpCalls = 200
        s.wasmReps = 3
        s.hnswCounts = [1_000, 2_000, 5_000]
        s.hnswQueries = 200
        return s
    }()
}

extension ComparisonOptions {
    /// Options for a benchmark case: `rounds` interleaved rounds, extended up to `maxRounds`
    /// while the verdict is undecided; 20 ms warm-up per subject.
    static func benchmark(rounds: Int, maxRounds: Int) -> ComparisonOptions {
        var o = ComparisonOptions()
        o.rounds = rounds
        o.maxRounds = max(rounds, maxRounds)
        o.warmUpNanoseconds = 20_000_000
        return o
    }
}
