import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The number of processors this process may run on right now, at least 1: the CPU affinity
/// mask and (on Linux) the cgroup CPU quota are honoured, as by
/// `ProcessInfo.activeProcessorCount`.
///
/// Pass it as `threads:` to spread an operation over every core; Kestrel never does so by
/// itself (see "Threads" in Documentation/Architecture.md).
public var activeProcessorCount: Int {
    Swift.max(1, ProcessInfo.processInfo.activeProcessorCount)
}

/// Limits of the package's parallel loop.
package enum Parallel {
    /// Most threads one call starts, whatever the caller asks: each costs a 4 MiB stack (and a
    /// search scratch), so a thread count of millions would exhaust memory; past a few per core
    /// more threads only add contention.
    package static let maxThreads = Swift.max(64, 4 * activeProcessorCount)

    /// Runs `body(t)` for every t in 0..<threads at the same time, each on its own thread (t = 0
    /// on the caller), and returns when all have finished: for stress tests and soak runs that
    /// need their workers truly concurrent, which the chunked loop does not promise. Threads the
    /// system refuses run on the caller after the others.
    package static func run(threads: Int, _ body: @escaping @Sendable (Int) -> Void) {
        var started: [WorkerThread] = []
        var refused: [Int] = []
        for t in 1..<Swift.max(1, threads) {
            if let thread = WorkerThread.start({ body(t) }) { started.append(thread) } else { refused.append(t) }
        }
        body(0)
        for t in refused { body(t) }
        for thread in started { thread.join() }
    }
}

/// Runs `body` over `range` split into chunks, on `threads` workers, and returns when all
/// chunks are done. Every index of `range` is passed exactly once, inside exactly one chunk.
///
/// Workers take chunks of `grain` consecutive indices from a shared atomic counter (dynamic
/// scheduling, so uneven chunks balance out). The calling thread is worker 0; the others are
/// threads started for this call (4 MiB stacks) and joined before it returns, so exactly
/// `min(threads, chunks, 4 × cores or at least 64)` run and nothing is left running or pooled afterwards.
/// While the region runs, BLAS is held to one thread (``BLASThreads/singleThreaded(_:)``) so BLAS
/// calls inside `body` do not oversubscribe the cores; the previous count is restored after.
///
/// There is no default thread count: pass 1 to stay on the caller, ``activeProcessorCount`` for
/// every core.
///
/// - Parameters:
///   - range: the indices to cover; an empty range returns at once.
///   - threads: workers to use, >= 1; capped at the chunk count.
///   - grain: indices per chunk, >= 1 (larger chunks cost less scheduling).
///   - body: called with disjoint sub-ranges, possibly concurrently: it must be thread-safe.
/// - Throws: `KestrelError.invalidArgument` (name `"threads"` or `"grain"`) when either is below 1.
/// - Complexity: O(range.count / grain) scheduling steps plus the work; one thread start per
///   extra worker (tens of microseconds each), so give each worker far more work than that.
public func parallelFor(_ range: Range<Int>, threads: Int, grain: Int = 1,
                        _ body: @Sendable (Range<Int>) -> Void) throws(KestrelError) {
    try parallelFor(range, threads: threads, grain: grain) { chunk, _ in body(chunk) }
}

/// ``parallelFor(_:threads:grain:_:)`` that also tells `body` which worker runs the chunk
/// (0 = the calling thread, up to `threads - 1`), so each worker can keep its own scratch.
/// No two chunks with the same worker number run at the same time.
///
/// - Throws: `KestrelError.invalidArgument` (name `"threads"` or `"grain"`) when either is below 1.
/// - Complexity: as ``parallelFor(_:threads:grain:_:)``.
public func parallelFor(_ range: Range<Int>, threads: Int, grain: Int = 1,
                        _ body: @Sendable (_ chunk: Range<Int>, _ worker: Int) -> Void) throws(KestrelError) {
    guard threads >= 1 else {
        throw .invalidArgument(name: "threads", reason: "must be >= 1, got \(threads)")
    }
    guard grain >= 1 else {
        throw .invalidArgument(name: "grain", reason: "must be >= 1, got \(grain)")
    }
    runParallel(range, threads: threads, grain: grain, body)
}

/// Calls `body(i, worker)` for every i in `0..<count` on up to `threads` workers claiming
/// `chunk` indices at a time; the package's own batch loops use it. Thread and chunk counts
/// below 1 are taken as 1. Same scheduling and BLAS rule as ``parallelFor(_:threads:grain:_:)``.
package func parallelForEach(_ count: Int, threads: Int, chunk: Int = 1,
                             _ body: @Sendable (_ index: Int, _ worker: Int) -> Void) {
    runParallel(0..<Swift.max(0, count), threads: Swift.max(1, threads), grain: Swift.max(1, chunk)) { r, t in
        for i in r { body(i, t) }
    }
}

/// The one parallel loop of the package; arguments already validated.
private func runParallel(_ range: Range<Int>, threads: Int, grain: Int,
                         _ body: @Sendable (Range<Int>, Int) -> Void) {
    if range.isEmpty { return }
    let count = range.count
    let chunks = (count - 1) / grain + 1
    let workers = Swift.min(threads, chunks, Parallel.maxThreads)
    if workers == 1 {
        // In order on the calling thread, without forming `work` below: its context escapes
        // (withoutActuallyEscaping) and would be heap-allocated on every call.
        BLASThreads.singleThreaded {
            var start = range.lowerBound
            while start < range.upperBound {
                let end = start + Swift.min(grain, range.upperBound - start)
                body(start..<end, 0)
                start = end
            }
        }
        return
    }
    BLASThreads.singleThreaded {
        let next = Atomic<Int>(0)
        func work(_ worker: Int) {
            while true {
                let chunk = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if chunk >= chunks { return }
                let start = range.lowerBound + chunk * grain
                body(start..<(start + Swift.min(grain, range.upperBound - start)), worker)
            }
        }
        withoutActuallyEscaping(work) { work in
            // Sendable: `work` only reaches `next` (atomic) and the @Sendable body.
            let shared = UnsafeSendable(work)
            var started: [WorkerThread] = []
            started.reserveCapacity(workers - 1)
            for t in 1..<workers {
                // A thread that cannot be started leaves its chunks to the others.
                if let thread = WorkerThread.start({ shared.value(t) }) { started.append(thread) }
            }
            shared.value(0)
            for thread in started { thread.join() }
        }
    }
}

/// A value handed to worker threads that only call it.
private struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// A joinable POSIX thread with a 4 MiB stack (index builds recurse and keep scratch on it).
private struct WorkerThread {
    let id: pthread_t

    /// The closure a new thread runs, retained until the thread takes it.
    private final class Start {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    /// Starts `run` on a new thread, or returns nil when the system refuses one.
    static func start(_ run: @escaping () -> Void) -> WorkerThread? {
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setstacksize(&attr, 4 << 20)
        let context = Unmanaged.passRetained(Start(run)).toOpaque()
        #if canImport(Darwin)
        var id: pthread_t?
        let rc = pthread_create(&id, &attr, { ctx in
            Unmanaged<Start>.fromOpaque(ctx).takeRetainedValue().run()
            return nil
        }, context)
        guard rc == 0, let id else {
            Unmanaged<Start>.fromOpaque(context).release()
            return nil
        }
        return WorkerThread(id: id)
        #else
        var id = pthread_t()
        let rc = pthread_create(&id, &attr, { ctx in
            Unmanaged<Start>.fromOpaque(ctx!).takeRetainedValue().run()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<Start>.fromOpaque(context).release()
            return nil
        }
        return WorkerThread(id: id)
        #endif
    }

    /// Waits for the thread to finish.
    func join() {
        pthread_join(id, nil)
    }
}
