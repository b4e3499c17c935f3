import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The number of processors currently online, at least 1 (the default thread count of
/// ``parallelFor(_:threads:grain:_:)``).
public var activeProcessorCount: Int {
    Swift.max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}

/// Runs `body` over `range` split into chunks, on `threads` workers, and returns when all
/// chunks are done. Every index of `range` is passed exactly once, inside exactly one chunk.
///
/// Workers take chunks of `grain` consecutive indices from a shared atomic counter (dynamic
/// scheduling, so uneven chunks balance out). The calling thread is one of the workers; the
/// others are Dispatch's worker threads (created lazily by the system, never at import), so
/// at most as many run at once as Dispatch allows (the online processors).
/// While the region runs, BLAS is held to one thread (``BLASThreads``) so BLAS calls inside
/// `body` do not oversubscribe the cores; the previous BLAS thread count is restored after.
///
/// - Parameters:
///   - range: the indices to cover; an empty range returns at once.
///   - threads: workers to use (default: ``activeProcessorCount``); capped at the chunk count.
///   - grain: indices per chunk, >= 1 (larger chunks cost less scheduling).
///   - body: called with disjoint sub-ranges, possibly concurrently: it must be thread-safe.
/// - Throws: `KestrelError.invalidArgument` when `threads` or `grain` is below 1.
/// - Complexity: O(range.count / grain) scheduling steps plus the work.
public func parallelFor(_ range: Range<Int>, threads: Int = activeProcessorCount, grain: Int = 1,
                        _ body: @Sendable (Range<Int>) -> Void) throws(KestrelError) {
    guard threads >= 1 else {
        throw .invalidArgument(name: "threads", reason: "must be >= 1, got \(threads)")
    }
    guard grain >= 1 else {
        throw .invalidArgument(name: "grain", reason: "must be >= 1, got \(grain)")
    }
    if range.isEmpty { return }
    let count = range.count
    let chunks = (count - 1) / grain + 1
    let workers = Swift.min(threads, chunks)
    BLASThreads.enterSingleThreadedRegion()
    defer { BLASThreads.leaveSingleThreadedRegion() }
    if workers == 1 {
        var start = range.lowerBound
        while start < range.upperBound {
            let end = start + Swift.min(grain, range.upperBound - start)
            body(start..<end)
            start = end
        }
        return
    }
    let next = Atomic<Int>(0)
    DispatchQueue.concurrentPerform(iterations: workers) { _ in
        while true {
            let chunk = next.wrappingAdd(1, ordering: .relaxed).oldValue
            if chunk >= chunks { return }
            let start = range.lowerBound + chunk * grain
            body(start..<(start + Swift.min(grain, range.upperBound - start)))
        }
    }
}
