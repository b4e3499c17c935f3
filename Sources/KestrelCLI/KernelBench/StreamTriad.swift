import Kestrel

/// A STREAM-style triad `a[i] = b[i] + s * c[i]` over three f64 arrays much larger than the
/// last-level cache: the memory bandwidth a scan can hope for on this machine. The CLI's
/// settings and limits over the one triad, ``RooflineProbe/measureTriad(elements:repetitions:threads:)``.
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

    /// Runs the triad of ``RooflineProbe/measureTriad(elements:repetitions:threads:)``: first
    /// touch and one untimed pass, then `passes` timed ones.
    /// - Throws: `KestrelError.invalidArgument` for bad parameters.
    func run() throws(KestrelError) -> Result {
        try validate()
        let m: TriadMeasurement
        do {
            m = try RooflineProbe.measureTriad(elements: arrayBytes / 8, repetitions: passes, threads: threads)
        } catch {
            // validate() is stricter than the probe, so this is only reached through a bug.
            guard case .invalidArgument(let name, let reason) = error else {
                throw .invalidArgument(name: "stream", reason: error.description)
            }
            throw .invalidArgument(name: name, reason: reason)
        }
        return Result(
            gigabytesPerSecond: BenchStatistics.gigabytesPerSecond(bytes: Double(m.bytesPerPass), nanoseconds: m.bestNanoseconds),
            bestNanoseconds: m.bestNanoseconds, bytesPerPass: m.bytesPerPass)
    }
}
