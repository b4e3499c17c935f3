#if canImport(Accelerate)
import Accelerate
#else
import CKestrelBLAS
#endif

/// Control of the BLAS library's own worker threads: the one place in Kestrel that reads or
/// changes them.
///
/// With OpenBLAS (Linux) this wraps `openblas_get_num_threads` / `openblas_set_num_threads`,
/// a process-wide setting. On Apple platforms Accelerate manages its threads itself: the count
/// reads as 1 and setting it is accepted but has no effect.
///
/// Kestrel's own parallel regions (``parallelFor(_:threads:grain:_:)``, batch index searches and
/// builds) run inside ``singleThreaded(_:)`` so BLAS calls made by their workers do not
/// oversubscribe the cores.
///
/// Thread-safety: every member may be called from any thread. Entering and leaving
/// single-threaded regions is counted under one process-wide lock, so nested and concurrent
/// regions (from any number of threads) leave the count as it was before the first one began.
public enum BLASThreads {
    /// Nesting depth of single-threaded regions, and the count the last region to leave restores.
    private static let regionLock = PlainLock()
    // Guarded by regionLock (a pthread mutex, which ThreadSanitizer sees; see PlainLock).
    nonisolated(unsafe) private static var regionState: (depth: Int, saved: Int) = (0, 1)

    private static func withRegion<R>(_ body: (inout (depth: Int, saved: Int)) -> R) -> R {
        regionLock.withLock { body(&regionState) }
    }

    /// The number of threads BLAS calls may use right now (1 inside a single-threaded region).
    public static var count: Int {
        #if canImport(Accelerate)
        return 1
        #else
        return Int(openblas_get_num_threads())
        #endif
    }

    /// The count BLAS calls use outside single-threaded regions: ``count`` when none is active,
    /// else the value the last region to leave will restore. Tests compare it before and after
    /// concurrent work that other tests' regions may overlap.
    package static var countOutsideRegions: Int {
        withRegion { r in r.depth > 0 ? r.saved : count }
    }

    /// Sets the number of threads BLAS calls may use (OpenBLAS caps it at its build limit).
    ///
    /// Inside a single-threaded region (``singleThreaded(_:)``, ``parallelFor(_:threads:grain:_:)``)
    /// BLAS stays at 1 thread and `n` becomes the count restored when the last region ends.
    /// - Throws: `KestrelError.invalidArgument(name: "n", …)` unless `1 <= n <= 4096`.
    public static func setCount(_ n: Int) throws(KestrelError) {
        guard n >= 1 && n <= 4096 else {
            throw .invalidArgument(name: "n", reason: "BLAS thread count must be in 1...4096, got \(n)")
        }
        withRegion { r in
            if r.depth > 0 {
                r.saved = n
            } else {
                apply(n)
            }
        }
    }

    /// Runs `body` with BLAS held to the calling thread, and returns what it returns.
    ///
    /// Regions nest and may overlap across threads: the first to enter saves the current count
    /// and sets 1, the last to leave restores the saved count. Meanwhile every BLAS call in the
    /// process, from any thread, runs single-threaded.
    /// - Throws: whatever `body` throws (the count is restored all the same).
    /// - Complexity: one lock acquisition on entry and one on exit, plus `body`.
    public static func singleThreaded<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        enter()
        defer { leave() }
        return try body()
    }

    private static func enter() {
        withRegion { r in
            if r.depth == 0 {
                r.saved = count
                if r.saved != 1 { apply(1) }
            }
            r.depth += 1
        }
    }

    private static func leave() {
        withRegion { r in
            r.depth -= 1
            if r.depth == 0 && r.saved != 1 { apply(r.saved) }
        }
    }

    /// Sets the library's count; callers hold `region`.
    private static func apply(_ n: Int) {
        #if !canImport(Accelerate)
        openblas_set_num_threads(Int32(n))
        #endif
    }
}
