import Atomics
import Foundation

/// Explicit-thread-count parallelism: no hidden pool, no thread started at import.
package enum Parallel {
    /// Runs `body(t)` for t in 0..<threads, t = 0 on the calling thread and the others on new
    /// threads, and returns when all have finished.
    static func run(threads requested: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let threads = Swift.min(requested, maxThreads)
        if threads <= 1 {
            body(0)
            return
        }
        let group = DispatchGroup()
        for t in 1..<threads {
            group.enter()
            let thread = Thread {
                body(t)
                group.leave()
            }
            thread.stackSize = 4 << 20
            thread.start()
        }
        body(0)
        group.wait()
    }

    /// Most threads one call starts, whatever the caller asks: each costs a 4 MiB stack (and a
    /// search scratch), so a thread count of millions would exhaust memory; past a few per
    /// core more threads only add contention.
    package static let maxThreads = max(64, 4 * defaultThreadCount)

    /// Calls `body(i)` for every i in 0..<count on `threads` threads that claim chunks of
    /// `chunk` indices from a shared counter (dynamic load balancing).
    static func forEach(count: Int, threads: Int, chunk: Int = 1, _ body: @escaping @Sendable (Int, Int) -> Void) {
        let workers = max(1, min(threads, count, maxThreads))
        if workers == 1 {
            for i in 0..<count { body(i, 0) }
            return
        }
        let next = ManagedAtomic<Int>(0)
        let step = max(1, chunk)
        run(threads: workers) { t in
            while true {
                let start = next.loadThenWrappingIncrement(by: step, ordering: .relaxed)
                if start >= count { break }
                for i in start..<min(count, start + step) { body(i, t) }
            }
        }
    }
}

/// Number of cores the process may use (the default thread count of parallel APIs).
var defaultThreadCount: Int { ProcessInfo.processInfo.activeProcessorCount }
