/// Runs an operation many times under every probe at once and returns a
/// ``ComponentObservation`` ready for ``BottleneckDetector``: per-call latencies
/// (HdrHistogram), process usage, memory, hardware counters and, when the operation's FLOPs
/// and bytes are known, its place on the roofline. The glue behind `kestrel profile` and
/// `kestrel analyze`.
public struct ComponentProfiler {
    /// Calls made before measuring (not recorded). Default 3.
    public var warmUpCalls = 3
    /// Calls measured. Default 200.
    public var calls = 200
    /// Stop early once this much time was spent measuring, nanoseconds. Default 2 s.
    public var maxNanoseconds: UInt64 = 2_000_000_000
    /// Read hardware counters (Linux perf events) around the measured calls. Default true.
    public var useCounters = true
    /// Roofline of this machine, to place the operation on it (nil: skip).
    public var roofline: RooflineModel?

    /// A profiler with the defaults above.
    public init(roofline: RooflineModel? = nil) { self.roofline = roofline }

    /// Profiles `body`.
    ///
    /// - Parameters:
    ///   - component: name reported in findings.
    ///   - flopsPerCall: floating-point operations of one call (for the roofline), if known.
    ///   - bytesPerCall: bytes one call moves (for the roofline), if known.
    ///   - body: the operation.
    /// - Throws: ``ProfilingError/invalidArgument(name:reason:)`` for calls < 1, or errors of the probes.
    public func profile(_ component: String, flopsPerCall: Double? = nil, bytesPerCall: Double? = nil,
                        _ body: () -> Void) throws(ProfilingError) -> ComponentObservation {
        guard calls >= 1 else { throw .invalidArgument(name: "calls", reason: "must be ≥ 1") }
        for _ in 0..<warmUpCalls { body() }
        var latencies = try LatencyRecorder()
        let counters = useCounters ? PerfCounters() : nil
        let before = try SystemProbe.processSample()
        let start = MonotonicClock.now()
        var measured = 0
        var report: CounterReport?
        if let counters {
            (measured, report) = counters.measure { run(body, into: &latencies, start: start) }
        } else {
            measured = run(body, into: &latencies, start: start)
        }
        let wall = Double(MonotonicClock.elapsed(since: start)) / 1e9
        let after = try SystemProbe.processSample()
        var point: RooflinePoint?
        if let model = roofline, let f = flopsPerCall, let b = bytesPerCall, measured > 0, wall > 0 {
            point = try model.classify(flops: f * Double(measured), bytes: b * Double(measured), seconds: wall)
        }
        return ComponentObservation(component: component, latency: latencies.summary(),
                                    usage: SystemProbe.usage(from: before, to: after), memory: SystemProbe.memoryStatus(),
                                    roofline: point, counters: report, outliers: nil)
    }

    private func run(_ body: () -> Void, into latencies: inout LatencyRecorder, start: UInt64) -> Int {
        var n = 0
        while n < calls {
            let t0 = MonotonicClock.now()
            body()
            latencies.record(MonotonicClock.elapsed(since: t0))
            n += 1
            if MonotonicClock.elapsed(since: start) > maxNanoseconds { break }
        }
        return n
    }
}
