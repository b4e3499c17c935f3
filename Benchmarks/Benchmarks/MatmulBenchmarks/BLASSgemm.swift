import Benchmark

#if canImport(CKestrelBLAS)
import CKestrelBLAS
#elseif canImport(Accelerate)
import Accelerate
#endif

/// `cblas_sgemm` called directly: the BLAS baseline the Tensor matmul is measured against.
/// On OpenBLAS it runs once on one thread (like Kestrel's single-threaded kernels) and once
/// with OpenBLAS's default thread count.
func registerBLASSgemm(_ shape: MatmulShape) {
    #if canImport(CKestrelBLAS)
    let variants: [(label: String, threads: Int32)] = [("threads1", 1), ("threadsDefault", 0)]
    #else
    let variants: [(label: String, threads: Int32)] = [("threadsDefault", 0)]
    #endif
    for variant in variants {
        var configuration = Benchmark.defaultConfiguration
        if variant.threads == 0 {
            // OpenBLAS's threaded driver mallocs a work buffer per call; tolerate that one.
            configuration.thresholds = [.mallocCountTotal: BenchmarkThresholds(absolute: [.p90: 1])]
        }
        Benchmark("sgemm.blas.\(shape.label).\(variant.label)", configuration: configuration) {
            (benchmark: Benchmark, ops: MatmulOperands) in
            let s = ops.shape
            for _ in benchmark.scaledIterations {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(s.m), Int32(s.n), Int32(s.k),
                            1, ops.a.readOnly, Int32(s.k), ops.b.readOnly, Int32(s.n), 0, ops.c.pointer, Int32(s.n))
            }
            blackHole(ops.c.pointer[0])
        } setup: {
            #if canImport(CKestrelBLAS)
            // 0 keeps OpenBLAS's default (OPENBLAS_NUM_THREADS or the core count).
            if variant.threads > 0 { openblas_set_num_threads(variant.threads) }
            #endif
            return MatmulOperands(shape)
        }
    }
}
