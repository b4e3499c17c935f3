import Benchmark
import KestrelBenchmarkSupport

/// Registers the BlockFormat benchmarks (none yet).
func registerBlockFormatBenchmarks() {}
