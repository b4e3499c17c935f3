#if canImport(Accelerate)
import Accelerate
#else
import CKestrelBLAS
#endif
import Synchronization

/// Control of the BLAS library's own worker threads.
///
/// With OpenBLAS (Linux) this wraps `openblas_get_num_threads` / `openblas_set_num_threads`,
/// a process-wide setting. On Apple platforms Accelerate manages its threads itself: the count
/// reads as 1 and setting it is accepted but has no effect.
///
/// Thread-safety: the setting is global; ``parallelFor(_:threads:grain:_:)`` holds it at 1
/// while its workers run and restores it after (nested and concurrent regions are counted so
/// the value saved by the outermost region is the one restored).
public enum BLASThreads {
    /// The number of threads BLAS calls may use.
    public static var count: Int {
        #if canImport(Accelerate)
        return 1
        #else
        return Int(openblas_get_num_threads())
        #endif
    }

    /// Sets the number of threads BLAS calls may use (OpenBLAS caps it at its build limit).
    /// Inside a ``parallelFor(_:threads:grain:_:)`` region the change is overridden until the
    /// outermost region ends, which restores the value saved on entry.
    /// - Throws: `KestrelError.invalidArgument` unless `1 <= n <= 4096`.
    public static func setCount(_ n: Int) throws(KestrelError) {
        guard n >= 1 && n <= 4096 else {
            throw .invalidArgument(name: "n", reason: "BLAS thread count must be in 1...4096, got \(n)")
        }
        #if !canImport(Accelerate)
        openblas_set_num_threads(Int32(n))
        #endif
    }

    /// Nesting depth of single-threaded regions and the count to restore when it drops to 0.
    private static let region = Mutex<(depth: Int, saved: Int)>((0, 1))

    /// Enters a region in which BLAS runs on the calling thread only.
    static func enterSingleThreadedRegion() {
        region.withLock { r in
            if r.depth == 0 {
                r.saved = count
                if r.saved != 1 { try? setCount(1) }
            }
            r.depth += 1
        }
    }

    /// Leaves a region entered with ``enterSingleThreadedRegion()``.
    static func leaveSingleThreadedRegion() {
        region.withLock { r in
            r.depth -= 1
            if r.depth == 0 && r.saved != 1 { try? setCount(r.saved) }
        }
    }
}
