import Benchmark
import KestrelBenchmarkSupport

/// Registers the IntegerScheme benchmarks (none yet).
func registerIntegerSchemeBenchmarks() {}
