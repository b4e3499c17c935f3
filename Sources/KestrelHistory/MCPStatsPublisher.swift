import Atomics
import Foundation
import KestrelKernels
import KestrelProfiling

/// Counts a `kestrel mcp` server's requests and latencies and publishes them to a
/// ``PerformanceHistory`` about once per `interval` from a background thread, for
/// `kestrel status --watch` to show.
///
/// The server calls ``record(latencyNanoseconds:failed:)`` after answering each request (lock
/// free: atomics and a ``ConcurrentLatencyRecorder``), ``start()`` once, and ``stop()`` when it
/// shuts down (which removes its entry). A publish that fails (database busy, disk full) is
/// skipped and retried at the next interval: statistics never disturb the server.
///
/// Thread-safety: every method may be called from any thread.
public final class MCPStatsPublisher: @unchecked Sendable {
    /// The history written to.
    public let history: PerformanceHistory
    /// Transport name published with the figures.
    public let transport: String
    /// Time between publications.
    public let interval: Duration
    /// When the publisher was created (published as the server's start time).
    public let startedAt: Date

    private let requests = ManagedAtomic<UInt64>(0)
    private let errors = ManagedAtomic<UInt64>(0)
    // Constant, valid arguments (2 digits = 1 % resolution is plenty for p50/p95): cannot throw.
    private let latency = try! ConcurrentLatencyRecorder(significantDigits: 2, highestTrackableNanoseconds: 600_000_000_000, shards: 4)
    private let running = ManagedAtomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    /// Creates a publisher (not started).
    /// - Parameter interval: time between publications (at least 10 ms).
    public init(history: PerformanceHistory, transport: String, interval: Duration = .seconds(1), startedAt: Date = Date()) {
        self.history = history
        self.transport = transport
        self.interval = max(interval, .milliseconds(10))
        self.startedAt = startedAt
    }

    /// Counts one answered request that took `latencyNanoseconds`; `failed` when it was answered
    /// with a JSON-RPC error.
    public func record(latencyNanoseconds: UInt64, failed: Bool = false) {
        requests.wrappingIncrement(ordering: .relaxed)
        if failed { errors.wrappingIncrement(ordering: .relaxed) }
        latency.record(latencyNanoseconds)
    }

    /// The figures now, with this process's resource usage (``SystemProbe/processSample()``).
    public func snapshot(now: Date = Date()) -> MCPServerStats {
        MCPServerStats(processID: getpid(), startedAt: startedAt, updatedAt: now, transport: transport,
                       requests: requests.load(ordering: .relaxed), errors: errors.load(ordering: .relaxed),
                       latency: latency.snapshot().summary(), process: try? SystemProbe.processSample())
    }

    /// Publishes the figures now, with a time to live of five intervals (at least 3 s).
    public func publishNow() throws(KestrelError) {
        try history.publish(snapshot(), ttl: ttl)
    }

    private var ttl: TimeInterval {
        let c = interval.components
        return max(3, 5 * (Double(c.seconds) + Double(c.attoseconds) / 1e18))
    }

    /// Starts the background thread (publishes at once, then every ``interval``). Calling it
    /// again while running does nothing.
    public func start() {
        guard running.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        let thread = Thread { [self] in
            let c = interval.components
            let wait = Double(c.seconds) + Double(c.attoseconds) / 1e18
            while running.load(ordering: .acquiring) {
                try? publishNow()
                _ = wake.wait(timeout: .now() + wait)
            }
            finished.signal()
        }
        thread.name = "kestrel-mcp-stats"
        thread.start()
    }

    /// Stops the background thread (waits for it) and removes this server's entry. Does nothing
    /// when not running.
    public func stop() {
        guard running.compareExchange(expected: true, desired: false, ordering: .acquiringAndReleasing).exchanged else { return }
        wake.signal()
        finished.wait()
        try? history.removeServerStats(processID: getpid())
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
