import Benchmark
import KestrelBenchmarkSupport

/// Matrix-product benchmarks. Each implementation lives in its own file with one
/// `register…(_ shape:)` function, called here for every shape in ``MatmulShape/standard``,
/// and shares the operands of ``MatmulOperands``; names are `<implementation>.<MxNxK>[.<variant>]`
/// so `--filter '.*\.512x512x512.*'` lines up every implementation at one size.
let benchmarks: @Sendable () -> Void = {
    BenchmarkDefaults.install()
    for shape in MatmulShape.standard {
        registerBLASSgemm(shape)
        registerTensorMatmul(shape)
    }
}
