import ArgumentParser
import Dispatch
import Foundation
import Kestrel
import KestrelHistory
import Logging
import MCP

/// Which stdio transport `kestrel mcp` uses.
enum MCPTransportKind: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// ``BlockingStdioTransport``: reads wake on data, lines capped, input screened.
    case blocking
    /// The SDK's `StdioTransport` (non-blocking reads retried every 10 ms, no line cap).
    case sdk
}

/// `kestrel mcp`: a Model Context Protocol server on standard input and output.
struct MCPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve Kestrel's tools to an agent over the Model Context Protocol (stdio, JSON-RPC 2.0).",
        discussion: """
            Reads newline-delimited JSON-RPC 2.0 on standard input and answers on standard output; logs go to \
            standard error only. Tools: benchmark_run, bottleneck_analyze, kernel_info, token_usage, quantize_report \
            (and the history and index tools when built). Resources: kestrel://reports/last, kestrel://baselines/NAME. \
            The server exits when its input ends, after the calls in flight have finished. See Documentation/MCP.md.
            """
    )

    @Option(help: "Transport: blocking (ours: reads wake on data, lines capped) or sdk (the SDK's StdioTransport, polls every 10 ms).")
    var transport: MCPTransportKind = .blocking

    @Option(help: "blocking transport: longest request line in bytes; longer lines are answered with -32600 and dropped.")
    var maxLineBytes = BlockingStdioTransport.defaultMaxLineBytes

    @Option(help: "Directory of the last report and the saved baselines (default: ~/.cache/kestrel/mcp).")
    var stateDir: String?

    @Option(help: "Performance history database of performance_report and metrics_store/query (default: $KESTREL_HISTORY or ~/.cache/kestrel/history.sqlite).")
    var db: String?

    @Flag(name: .customLong("no-history"), help: "Offer no history tools (performance_report, metrics_store, metrics_query).")
    var noHistory = false

    @Flag(help: "Answer tools/call through the SDK's request dispatch instead of Kestrel's fast path (slower; for comparison).")
    var sdkToolCalls = false

    @Option(help: "Log level on standard error: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "notice"

    func validate() throws {
        guard maxLineBytes >= 1024, maxLineBytes <= 1 << 30 else { throw ValidationError("--max-line-bytes must be in 1024...1073741824") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let stateDir, stateDir.isEmpty { throw ValidationError("--state-dir needs a path") }
        if let db, db.isEmpty { throw ValidationError("--db needs a path") }
        if db != nil, noHistory { throw ValidationError("--db and --no-history exclude each other") }
    }

    func run() throws {
        let level = Logger.Level(rawValue: logLevel) ?? .notice
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "kestrel.mcp")
        // A client that closes its end must give EPIPE (a failed write), not kill the server:
        // the SDK transport does not ignore SIGPIPE itself.
        signal(SIGPIPE, SIG_IGN)
        let state = MCPState(directory: stateDir.map { URL(fileURLWithPath: $0, isDirectory: true) } ?? MCPState.defaultDirectory,
                             historyPath: noHistory ? nil : (db ?? PerformanceHistory.defaultURL.path))
        // Request count and latency for `kestrel status`, published to the history once a second.
        // The history is opened off the start-up path (its integrity check grows with the file).
        let stats = ServerStatistics()
        if let handle = state.history { stats.open(handle, transport: transport.rawValue, logger: logger) }
        defer { stats.stop() }
        let host = MCPServerHost(toolbox: MCPToolbox(MCPTools.all(state: state)), state: state, logger: logger,
                                 directToolCalls: !sdkToolCalls, onAnswered: { ns, failed in stats.record(ns, failed: failed) })
        let kind = transport, cap = maxLineBytes
        let failure = Self.blockOn {
            let t: any Transport
            switch kind {
            case .blocking:
                // The client stopped reading: nobody wants the results of the calls in flight.
                t = BlockingStdioTransport(maxLineBytes: cap, logger: Logger(label: "kestrel.mcp.transport")) { host.clientGone() }
            case .sdk:
                t = StdioTransport(logger: Logger(label: "kestrel.mcp.transport"))
            }
            try await host.serve(over: t)
        }
        if let failure {
            logger.error("server stopped", metadata: ["error": "\(failure)"])
            throw ExitCode(1)
        }
    }

    /// Runs `body` on the concurrency pool and waits for it on this (the main) thread: the
    /// root command is synchronous, and ArgumentParser runs async subcommands only under an
    /// async root.
    static func blockOn(_ body: @escaping @Sendable () async throws -> Void) -> (any Error)? {
        let done = DispatchSemaphore(value: 0)
        let box = ErrorBox()
        Task {
            do { try await body() } catch { box.error = error }
            done.signal()
        }
        done.wait()
        return box.error
    }
}

/// An error handed from a task to the thread waiting for it (the semaphore orders the accesses).
final class ErrorBox: @unchecked Sendable {
    var error: (any Error)?
}

/// The server's ``MCPStatsPublisher``, started once the history is open on a background thread;
/// requests answered before that are not counted. Thread-safe.
final class ServerStatistics: @unchecked Sendable {  // state guarded by `lock`
    private let lock = PlainLock()
    private var publisher: MCPStatsPublisher?
    private var stopped = false

    /// Opens the history on a background thread and starts publishing.
    func open(_ handle: HistoryHandle, transport: String, logger: Logger) {
        Thread.detachNewThread { [self] in
            do {
                let p = MCPStatsPublisher(history: try handle.history(), transport: transport)
                let started: Bool = lock.withLock {
                    guard !stopped else { return false }
                    publisher = p
                    return true
                }
                if started { p.start() }
            } catch {
                logger.warning("no server statistics for kestrel status", metadata: ["error": "\(error)"])
            }
        }
    }

    func record(_ nanoseconds: UInt64, failed: Bool) {
        lock.withLock { publisher }?.record(latencyNanoseconds: nanoseconds, failed: failed)
    }

    /// Stops publishing and removes this server's entry from the history.
    func stop() {
        let p: MCPStatsPublisher? = lock.withLock {
            stopped = true
            return publisher
        }
        p?.stop()
    }
}
