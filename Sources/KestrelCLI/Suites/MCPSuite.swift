import Foundation
import Kestrel

/// The measurements behind the `mcp` suite. ``MCPProcessProbe`` spawns `kestrel mcp`; tests
/// inject fixed numbers.
protocol MCPMeasuring: Sendable {
    /// Why `kestrel mcp` cannot be launched from here (e.g. inside the test runner), nil when it can.
    func skipReason() -> String?
    /// Both transports, interleaved (``MCPBench/run(executable:transports:calls:starts:warmUp:)``).
    func measure() throws -> MCPBenchResult
}

/// Launches `kestrel mcp` children of this executable.
struct MCPProcessProbe: MCPMeasuring {
    var settings: SuiteSettings

    func skipReason() -> String? {
        if case .failure(let why) = StartupTimer.currentExecutable() { return why.reason }
        return nil
    }

    func measure() throws -> MCPBenchResult {
        try MCPBench.run(executable: try StartupTimer.currentExecutable().get(), transports: [.blocking, .sdk],
                         calls: settings.mcpCalls, starts: settings.startupRuns)
    }
}

/// `kestrel benchmark --suite mcp` (and part of `all`): what an agent waits for from
/// `kestrel mcp` — start to `initialize` answered, and a cheap tool call's round trip, our
/// blocking transport judged, the SDK's transport measured beside it in the same run.
struct MCPSuite {
    static let name = "mcp"
    var probe: any MCPMeasuring
    var settings: SuiteSettings

    func register(into suite: inout BenchmarkSuite) throws {
        // One measurement serves the three cases (it spawns servers: do it once per run).
        let once = MeasureOnce { [probe] in try probe.measure() }
        let skip = { [probe] in probe.skipReason() }
        let calls = settings.mcpCalls
        try suite.register(BenchmarkCase(
            name: "mcp.initialize", suite: Self.name,
            summary: "`kestrel mcp` spawned \(settings.startupRuns)× with pipes, time from launch to the initialize "
                + "response read; value: median with our transport (the SDK transport's as a metric).",
            target: .below(50, "ms", metric: "start to initialize answered (issue 20)"),
            skipReason: skip,
            run: { _ in try Self.initializeOutcome(try once.result()) }))
        try suite.register(BenchmarkCase(
            name: "mcp.kernel-info-p50", suite: Self.name,
            summary: "tools/call kernel_info round trip over stdio pipes, \(calls) calls per transport interleaved with the "
                + "SDK's StdioTransport; value: p50 with ours.",
            target: .below(1, "ms", metric: "kernel_info round trip p50 (issue 20)"),
            skipReason: skip,
            run: { _ in try Self.roundTripOutcome(try once.result(), quantile: 0.5) }))
        try suite.register(BenchmarkCase(
            name: "mcp.kernel-info-p95", suite: Self.name,
            summary: "The same \(calls) round trips; value: p95 with ours.",
            target: .below(10, "ms", metric: "kernel_info round trip p95 (issue 20)"),
            skipReason: skip,
            run: { _ in try Self.roundTripOutcome(try once.result(), quantile: 0.95) }))
    }

    private static func transports(_ r: MCPBenchResult) throws -> (ours: MCPBenchResult.PerTransport, sdk: MCPBenchResult.PerTransport?) {
        guard let ours = r.transports.first(where: { $0.transport == MCPTransportKind.blocking.rawValue }) else {
            throw KestrelError.invalidArgument(name: "mcp", reason: "no measurement of the blocking transport")
        }
        return (ours, r.transports.first { $0.transport == MCPTransportKind.sdk.rawValue })
    }

    static func initializeOutcome(_ r: MCPBenchResult) throws -> BenchmarkOutcome {
        let (ours, sdk) = try transports(r)
        guard !ours.initializeMilliseconds.isEmpty else {
            throw KestrelError.invalidArgument(name: "mcp", reason: "no launch was timed")
        }
        var metrics = ["first_launch_ms": ours.initializeMilliseconds[0], "launches": Double(ours.initializeMilliseconds.count)]
        if let sdk { metrics["sdk_transport_ms"] = sdk.initializeMedian }
        return BenchmarkOutcome(value: ours.initializeMedian, unit: "ms", higherIsBetter: false, metrics: metrics)
    }

    static func roundTripOutcome(_ r: MCPBenchResult, quantile q: Double) throws -> BenchmarkOutcome {
        let (ours, sdk) = try transports(r)
        guard !ours.roundTripMicroseconds.isEmpty else {
            throw KestrelError.invalidArgument(name: "mcp", reason: "no round trip was timed")
        }
        let mine = MCPBenchResult.PerTransport.percentile(ours.roundTripMicroseconds, q) / 1e3
        var metrics = ["calls": Double(ours.roundTripMicroseconds.count)]
        var notes: [String] = []
        if let sdk, !sdk.roundTripMicroseconds.isEmpty {
            let theirs = MCPBenchResult.PerTransport.percentile(sdk.roundTripMicroseconds, q) / 1e3
            metrics["sdk_transport_ms"] = theirs
            metrics["sdk_over_ours"] = mine > 0 ? theirs / mine : .nan
            notes.append("SDK StdioTransport (10 ms poll) in the same run: \(Format.fixed(theirs, 3)) ms")
        }
        var recorder = try LatencyRecorder()
        for us in ours.roundTripMicroseconds { recorder.record(UInt64(max(0, us * 1e3).rounded())) }
        return BenchmarkOutcome(value: mine, unit: "ms", higherIsBetter: false, latency: recorder.summary(),
                                metrics: metrics, notes: notes)
    }
}
