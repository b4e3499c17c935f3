import Benchmark
import KestrelBenchmarkSupport

/// Every C kernel family at every tier this CPU runs (tiers it lacks are not registered).
/// Names are `<kernel>.<shape>.<tier>`, e.g. `dot_f32.768.avx2`. `--filter` must match a whole
/// name: `--filter 'dot_f32\.768\..*'` compares one kernel across tiers, `--filter '.*\.avx512'`
/// selects one tier.
let benchmarks: @Sendable () -> Void = {
    BenchmarkDefaults.install()
    for tier in KernelTier.supported {
        registerPairBenchmarks(tier)
        registerScanBenchmarks(tier)
        registerConversionBenchmarks(tier)
        registerMathBenchmarks(tier)
    }
}
