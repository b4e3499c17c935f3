import Dispatch
import Kestrel

/// A STREAM-style triad `a[i] = b[i] + s * c[i]` over three f64 arrays much larger than the
/// last-level cache: the memory bandwidth a scan can hope for on this machine.
///
/// Bytes are counted as STREAM does, 3 arrays per pass (the write-allocate read of `a` is not
/// counted, so the real traffic is up to 4/3 of the reported figure).
struct StreamTriad: Sendable {
    /// Bytes per array.
    var arrayBytes: Int = 64 << 20
    /// Threads that split every pass into equal contiguous chunks.
    var threads: Int = 1
    /// Timed passes; the fastest is reported.
    var passes: Int = 10

    /// The result of ``run()``.
    struct Result: Sendable, Equatable {
        /// GB/s (10^9 B/s) of the fastest pass.
        let gigabytesPerSecond: Double
        /// Nanoseconds of the fastest pass.
        let bestNanoseconds: Double
        /// Bytes counted per pass (3 arrays).
        let bytesPerPass: Int
    }

    /// Validates the parameters.
    /// - Throws: `KestrelError.invalidArgument` for a non-positive size, thread or pass count.
    func validate() throws(KestrelError) {
        guard arrayBytes >= 1 << 20, arrayBytes <= 4 << 30 else {
            throw .invalidArgument(name: "stream-mib", reason: "arrays must be 1 MiB ... 4 GiB (got \(arrayBytes) bytes)")
        }
        guard threads >= 1, threads <= 1024 else {
            throw .invalidArgument(name: "threads", reason: "must be in 1...1024 (got \(threads))")
        }
        guard passes >= 1 else { throw .invalidArgument(name: "passes", reason: "must be at least 1") }
    }

    /// Runs one untimed pass (page faults), then `passes` timed ones.
    /// - Throws: `KestrelError` for bad parameters or a failed allocation.
    func run() throws(KestrelError) -> Result {
        try validate()
        let n = arrayBytes / 8
        let a = try AlignedBuffer(byteCount: n * 8, zeroed: true), b = try AlignedBuffer(byteCount: n * 8, zeroed: true)
        let c = try AlignedBuffer(byteCount: n * 8, zeroed: true)
        let arrays = TriadArrays(a: a.typed(Double.self), b: b.typed(Double.self), c: c.typed(Double.self), n: n)
        arrays.fill(threads: threads)
        arrays.pass(threads: threads, scalar: 3)
        var best = UInt64.max
        for _ in 0..<passes {
            let t0 = MonotonicClock.nanoseconds()
            arrays.pass(threads: threads, scalar: 3)
            best = min(best, MonotonicClock.nanoseconds() - t0)
        }
        withExtendedLifetime((a, b, c)) {}
        let bytes = 3 * n * 8
        return Result(
            gigabytesPerSecond: BenchStatistics.gigabytesPerSecond(bytes: Double(bytes), nanoseconds: Double(best)),
            bestNanoseconds: Double(best), bytesPerPass: bytes)
    }
}

/// The three arrays, shared read/write by the worker threads on disjoint index ranges.
private struct TriadArrays: @unchecked Sendable {
    let a: UnsafeMutablePointer<Double>
    let b: UnsafeMutablePointer<Double>
    let c: UnsafeMutablePointer<Double>
    let n: Int

    func range(_ part: Int, of parts: Int) -> Range<Int> {
        // Chunk bounds rounded to 8 doubles so no two threads share a cache line.
        let chunk = (n / parts) & ~7
        let lo = part * chunk
        return lo..<(part == parts - 1 ? n : lo + chunk)
    }

    func forEachPart(threads: Int, _ body: @Sendable (Range<Int>) -> Void) {
        if threads == 1 {
            body(0..<n)
        } else {
            DispatchQueue.concurrentPerform(iterations: threads) { body(range($0, of: threads)) }
        }
    }

    func fill(threads: Int) {
        forEachPart(threads: threads) { r in
            for i in r {
                self.a[i] = 0
                self.b[i] = 1
                self.c[i] = 2
            }
        }
    }

    func pass(threads: Int, scalar s: Double) {
        forEachPart(threads: threads) { r in
            let a = self.a, b = self.b, c = self.c
            for i in r { a[i] = b[i] + s * c[i] }
        }
    }
}
