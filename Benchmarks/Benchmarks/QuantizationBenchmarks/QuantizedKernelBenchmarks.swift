import Benchmark
import KestrelBenchmarkSupport

/// Registers the QuantizedKernel benchmarks (none yet).
func registerQuantizedKernelBenchmarks() {}
