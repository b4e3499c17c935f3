import Benchmark
import KestrelBenchmarkSupport

/// KestrelQuantization's benchmarks, one function per part of the module (each in its own file).
let benchmarks: @Sendable () -> Void = {
    BenchmarkDefaults.install()
    registerBlockFormatBenchmarks()
    registerIntegerSchemeBenchmarks()
    registerQuantizedKernelBenchmarks()
}
