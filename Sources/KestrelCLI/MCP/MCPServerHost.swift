import Foundation
import Kestrel
import Logging
import MCP

/// Builds the MCP server of `kestrel mcp` (tools, resources, progress, cancellation) and runs
/// it over a transport until the client closes its end. Used by the command and, over pipes,
/// by the tests.
struct MCPServerHost: Sendable {
    let toolbox: MCPToolbox
    let state: MCPState
    let inFlight = InFlightCalls()
    let pending: PendingRequests
    let logger: Logger
    /// Whether `tools/call` requests are answered by ``ToolCallFastPath`` (true) or by the
    /// SDK's dispatch (false: the path before the fast path, kept for comparison and fallback).
    let directToolCalls: Bool

    /// - Parameters:
    ///   - onAnswered: told each answered request's latency and whether it failed
    ///     (``PendingRequests``), e.g. ``MCPStatsPublisher/record(latencyNanoseconds:failed:)``.
    ///   - directToolCalls: answer `tools/call` by ``ToolCallFastPath`` (default) or through the SDK.
    init(toolbox: MCPToolbox, state: MCPState, logger: Logger = Logger(label: "kestrel.mcp"), directToolCalls: Bool = true,
         onAnswered: (@Sendable (_ nanoseconds: UInt64, _ failed: Bool) -> Void)? = nil) {
        self.toolbox = toolbox
        self.directToolCalls = directToolCalls
        self.state = state
        self.logger = logger
        pending = PendingRequests(onAnswered: onAnswered)
    }

    /// The server with every handler registered.
    func makeServer() async -> Server {
        let server = Server(
            name: "kestrel", version: ProfilingBuildInfo.libraryVersion, title: "Kestrel",
            instructions: "Kestrel measures this machine: run benchmarks (benchmark_run), find bottlenecks (bottleneck_analyze), "
                + "read the CPU and kernel tiers (kernel_info), analyse token logs and quantization error, and track performance "
                + "over time. Long tools report progress and can be cancelled.",
            capabilities: .init(resources: .init(subscribe: false, listChanged: false), tools: .init(listChanged: false)))
        let weak = WeakServer(server)
        let toolbox = self.toolbox, state = self.state, inFlight = self.inFlight, pending = self.pending, logger = self.logger
        await server.withMethodHandler(ListTools.self) { _ in
            ListTools.Result(tools: toolbox.definitions.map(\.tool))
        }
        await server.withMethodHandler(CallTool.self) { params in
            // Reached with `directToolCalls` off, and for calls inside a batch.
            try await MCPServerHost.runCall(params.name, arguments: params.arguments, progressToken: params._meta?.progressToken,
                                            toolbox: toolbox, inFlight: inFlight, server: weak, logger: logger) {
                MCPServerHost.clientGone(inFlight: inFlight, pending: pending)
            }
        }
        await server.withMethodHandler(ListResources.self) { _ in
            ListResources.Result(resources: MCPResources.list(state: state))
        }
        await server.withMethodHandler(ReadResource.self) { params in
            ReadResource.Result(contents: [try MCPResources.read(params.uri, state: state)])
        }
        return server
    }

    /// Serves over `transport` until the client closes its input, then answers the requests
    /// still pending, lets the calls in flight finish (they are cancelled if the client has
    /// stopped reading: ``clientGone()``) and stops.
    func serve(over transport: any Transport) async throws {
        let server = await makeServer()
        let inFlight = self.inFlight, pending = self.pending
        let fastPath = directToolCalls
            ? ToolCallFastPath(toolbox: toolbox, inFlight: inFlight, server: WeakServer(server), logger: logger) {
                MCPServerHost.clientGone(inFlight: inFlight, pending: pending)
            }
            : nil
        try await server.start(transport: TrackingTransport(transport, pending: pending, fastPath: fastPath))
        await server.waitUntilCompleted()
        await pending.waitUntilAnswered()
        await inFlight.waitIdle()
        await server.stop()
    }

    /// Runs one `tools/call` (either path): the toolbox's checks and run, progress
    /// notifications sent (all of them before this returns), a debug log line.
    /// - Throws: `MCPError` for the caller's mistakes and our bugs, `CancellationError` when
    ///   cancelled (no response is sent then).
    static func runCall(_ name: String, arguments: [String: Value]?, progressToken: ProgressToken?, toolbox: MCPToolbox,
                        inFlight: InFlightCalls, server: WeakServer, logger: Logger,
                        onClientGone: @escaping @Sendable () -> Void) async throws -> CallTool.Result {
        let started = MonotonicClock.now()
        // A notification that cannot be written means the client has gone (with either
        // transport): nobody wants the results of the calls in flight any more.
        let progress = ProgressSender(server: server, token: progressToken, onSendFailure: onClientGone)
        defer { progress.finish() }
        do {
            let result = try await toolbox.call(name, arguments: arguments, progress: progress.report, inFlight: inFlight)
            await progress.drain()
            logger.debug("tool call", metadata: ["tool": "\(name)", "ms": "\(Double(MonotonicClock.elapsed(since: started)) / 1e6)"])
            return result
        } catch {
            await progress.drain()
            logger.info("tool call ended without a result", metadata: ["tool": "\(name)", "error": "\(error)"])
            throw error
        }
    }

    /// The client has gone (it stopped reading): cancel the calls in flight and expect no more
    /// answers to be read. Callable from any thread.
    func clientGone() { Self.clientGone(inFlight: inFlight, pending: pending) }

    static func clientGone(inFlight: InFlightCalls, pending: PendingRequests) {
        Task {
            await inFlight.cancelAll()
            await pending.clientGone()
        }
    }
}

/// A weak reference to the server for the handlers it owns (a strong one would be a cycle).
final class WeakServer: @unchecked Sendable {
    private(set) weak var server: Server?
    init(_ server: Server) { self.server = server }
}

/// Sends one call's progress notifications in the order the tool reported them, and all of
/// them before the call's response (``drain()``). Thread-safe: `report` may be called from the
/// tool's worker thread.
final class ProgressSender: @unchecked Sendable {
    private let continuation: AsyncStream<ProgressNotification.Parameters>.Continuation?
    private let consumer: Task<Void, Never>?

    private let token: ProgressToken?

    /// - Parameter onSendFailure: called (from the sending task) when a notification cannot be written.
    init(server: WeakServer, token: ProgressToken?, onSendFailure: @escaping @Sendable () -> Void = {}) {
        self.token = token
        guard token != nil else {
            continuation = nil
            consumer = nil
            return
        }
        let (stream, continuation) = AsyncStream<ProgressNotification.Parameters>.makeStream()
        self.continuation = continuation
        consumer = Task {
            var failed = false
            for await p in stream where !failed {
                do {
                    try await server.server?.notify(ProgressNotification.message(p))
                } catch {
                    failed = true
                    onSendFailure()
                }
            }
        }
    }

    /// Queues a notification (dropped when the client gave no progress token).
    var report: @Sendable (Double, Double?, String?) -> Void {
        { [continuation, token] done, total, message in
            guard let continuation, let token else { return }
            continuation.yield(.init(progressToken: token, progress: done, total: total, message: message))
        }
    }

    func finish() { continuation?.finish() }

    /// Returns once every queued notification was sent.
    func drain() async {
        continuation?.finish()
        await consumer?.value
    }
}
