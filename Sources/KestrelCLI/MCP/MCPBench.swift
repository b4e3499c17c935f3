import ArgumentParser
import Foundation
import Kestrel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `kestrel mcp` child process driven over pipes by a minimal synchronous client: the
/// measuring side of `kestrel mcp-bench` and of the `mcp` benchmark cases.
final class MCPChildProcess {
    let pid: pid_t
    private let toChild: Int32
    private let fromChild: Int32
    private var buffer: [UInt8] = []
    private var nextID = 1
    /// Nanoseconds from just before `posix_spawn` to the `initialize` response read.
    private(set) var initializeNanoseconds: UInt64 = 0

    /// Spawns `executable mcp <arguments>` (standard error to /dev/null) and completes the
    /// `initialize` handshake.
    /// - Throws: `KestrelError.backendFailure` when it cannot be started; `.corruptFile` when it
    ///   answers something other than an `initialize` result.
    init(executable: URL, arguments: [String]) throws {
        var input: [Int32] = [0, 0], output: [Int32] = [0, 0]
        guard pipe(&input) == 0, pipe(&output) == 0 else { throw KestrelError.backendFailure(routine: "pipe", code: Int(errno)) }
        // Close-on-exec: a server spawned later must not inherit this one's pipe ends (it would
        // hold its input open, and this server would never see end of input).
        for fd in input + output { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let path = executable.path
        let argv = ([path, "mcp"] + arguments).map { strdup($0) } + [nil]
        let envp = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        #if canImport(Darwin)
        var actions: posix_spawn_file_actions_t?
        #else
        var actions = posix_spawn_file_actions_t()
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        for fd in input + output { posix_spawn_file_actions_addclose(&actions, fd) }
        signal(SIGPIPE, SIG_IGN)
        var child = pid_t()
        let t0 = MonotonicClock.now()
        let rc = posix_spawn(&child, path, &actions, nil, argv, envp)
        close(input[0])
        close(output[1])
        guard rc == 0 else {
            close(input[1])
            close(output[0])
            throw KestrelError.backendFailure(routine: "posix_spawn \(path)", code: Int(rc))
        }
        pid = child
        toChild = input[1]
        fromChild = output[0]
        let reply = try request(
            #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"kestrel-mcp-bench","version":"1"}}}"#)
        initializeNanoseconds = MonotonicClock.elapsed(since: t0)
        guard reply.contains("\"serverInfo\"") else {
            throw KestrelError.corruptFile(path: nil, section: "initialize", reason: "unexpected answer: \(reply.prefix(200))")
        }
        try send(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
    }

    deinit {
        close(toChild)  // EOF: the server exits
        close(fromChild)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }

    /// Sends a line.
    func send(_ line: String) throws {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { posixWrite(toChild, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw KestrelError.backendFailure(routine: "write to kestrel mcp", code: Int(errno)) }
            offset += n
        }
    }

    /// Reads the next line (blocking).
    func readLine() throws -> String {
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<nl], as: UTF8.self)
                buffer.removeSubrange(...nl)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let n = chunk.withUnsafeMutableBytes { read(fromChild, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw KestrelError.corruptFile(path: nil, section: "kestrel mcp output", reason: "ended before a response")
            }
            buffer += chunk[..<n]
        }
    }

    /// Sends a request (its `"id"` replaced by a fresh one) and returns the response line with
    /// that id, skipping notifications.
    func request(_ json: String) throws -> String {
        try send(json)
        while true {
            let line = try readLine()
            if line.contains("\"id\"") && (line.contains("\"result\"") || line.contains("\"error\"")) { return line }
        }
    }

    /// CPU time of the child's threads so far, nanoseconds: the sum of the first field of
    /// `/proc/PID/task/*/schedstat` (time on a CPU, ns; threads that have exited are not
    /// counted). nil off Linux or when unreadable. Under load a round trip's wall time follows
    /// the scheduler; this does not.
    func cpuNanoseconds() -> UInt64? {
        #if os(Linux)
        let dir = "/proc/\(pid)/task"
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: dir), !tasks.isEmpty else { return nil }
        var total: UInt64 = 0
        for t in tasks {
            guard let text = try? String(contentsOfFile: "\(dir)/\(t)/schedstat", encoding: .utf8),
                  let first = text.split(separator: " ").first, let ns = UInt64(first) else { continue }
            total += ns
        }
        return total
        #else
        return nil
        #endif
    }

    /// One `tools/call kernel_info` round trip, nanoseconds.
    func kernelInfoRoundTrip() throws -> UInt64 {
        nextID += 1
        let t0 = MonotonicClock.now()
        let reply = try request(#"{"jsonrpc":"2.0","id":\#(nextID),"method":"tools/call","params":{"name":"kernel_info","arguments":{"roofline":"skip"}}}"#)
        let dt = MonotonicClock.elapsed(since: t0)
        guard reply.contains("\"structuredContent\"") else {
            throw KestrelError.corruptFile(path: nil, section: "kernel_info", reason: "unexpected answer: \(reply.prefix(200))")
        }
        return dt
    }
}

/// The measurements of `kestrel mcp-bench`: per transport, start-to-initialize times and
/// kernel_info round trips, the transports interleaved call by call in one run.
struct MCPBenchResult: Sendable, Equatable {
    struct PerTransport: Sendable, Equatable {
        var transport: String
        /// Start to `initialize` answered, milliseconds, one per start.
        var initializeMilliseconds: [Double]
        /// kernel_info round trips, microseconds.
        var roundTripMicroseconds: [Double]
        /// The server's CPU time over the round trips divided by their number, microseconds
        /// (nil when it cannot be read: ``MCPChildProcess/cpuNanoseconds()``).
        var serverCPUMicrosecondsPerCall: Double? = nil

        var initializeMedian: Double { Self.percentile(initializeMilliseconds, 0.5) }
        var p50: Double { Self.percentile(roundTripMicroseconds, 0.5) }
        var p95: Double { Self.percentile(roundTripMicroseconds, 0.95) }
        var p99: Double { Self.percentile(roundTripMicroseconds, 0.99) }

        /// Nearest-rank percentile (NaN for no samples).
        static func percentile(_ xs: [Double], _ q: Double) -> Double {
            guard !xs.isEmpty else { return .nan }
            let s = xs.sorted()
            return s[min(s.count - 1, max(0, Int((q * Double(s.count)).rounded(.up)) - 1))]
        }
    }

    var transports: [PerTransport]
}

/// One `kestrel mcp` configuration measured by `kestrel mcp-bench`.
struct MCPBenchServer: Sendable, Equatable {
    /// The row label of the table.
    var label: String
    /// Arguments after `kestrel mcp`.
    var arguments: [String]

    /// A server on `transport`, tool calls on the fast path (the default).
    static func transport(_ transport: MCPTransportKind) -> MCPBenchServer {
        MCPBenchServer(label: transport.rawValue, arguments: ["--transport", transport.rawValue])
    }

    /// Our transport with `tools/call` through the SDK's dispatch (`--sdk-tool-calls`): the path
    /// before ``ToolCallFastPath``, for a before/after ratio in one run.
    static let blockingSDKCalls = MCPBenchServer(label: "blocking+sdk-calls",
                                                 arguments: ["--transport", "blocking", "--sdk-tool-calls"])
}

enum MCPBench {
    /// Starts one server per transport `starts` times (start-to-initialize), then keeps one of
    /// each alive and alternates `calls` kernel_info round trips between them.
    static func run(executable: URL, transports: [MCPTransportKind], calls: Int, starts: Int,
                    warmUp: Int = 20) throws -> MCPBenchResult {
        try run(executable: executable, servers: transports.map(MCPBenchServer.transport), calls: calls, starts: starts, warmUp: warmUp)
    }

    /// Starts each server configuration `starts` times (start-to-initialize), then keeps one of
    /// each alive and alternates `calls` kernel_info round trips between them.
    static func run(executable: URL, servers: [MCPBenchServer], calls: Int, starts: Int,
                    warmUp: Int = 20) throws -> MCPBenchResult {
        guard calls >= 1, starts >= 1 else { throw KestrelError.invalidArgument(name: "calls", reason: "calls and starts must be >= 1") }
        var results = servers.map { MCPBenchResult.PerTransport(transport: $0.label, initializeMilliseconds: [], roundTripMicroseconds: []) }
        var children: [MCPChildProcess] = []
        for round in 0..<starts {
            for (i, server) in servers.enumerated() {
                let child = try MCPChildProcess(executable: executable, arguments: server.arguments)
                results[i].initializeMilliseconds.append(Double(child.initializeNanoseconds) / 1e6)
                if round == starts - 1 { children.append(child) }
            }
        }
        for _ in 0..<warmUp { for c in children { _ = try c.kernelInfoRoundTrip() } }
        let cpuBefore = children.map { $0.cpuNanoseconds() }
        for _ in 0..<calls {
            for (i, c) in children.enumerated() {
                results[i].roundTripMicroseconds.append(Double(try c.kernelInfoRoundTrip()) / 1e3)
            }
        }
        for (i, c) in children.enumerated() {
            if let a = cpuBefore[i], let b = c.cpuNanoseconds(), b >= a {
                results[i].serverCPUMicrosecondsPerCall = Double(b - a) / 1e3 / Double(calls)
            }
        }
        return MCPBenchResult(transports: results)
    }

    static func table(_ r: MCPBenchResult, calls: Int) -> String {
        let width = max(11, (r.transports.map(\.transport.count).max() ?? 0) + 2)
        var out = Format.left("transport", width) + Format.right("init p50 ms", 13) + Format.right("p50 µs", 10)
            + Format.right("p95 µs", 10) + Format.right("p99 µs", 10) + Format.right("server CPU µs/call", 20) + "\n"
        for t in r.transports {
            out += Format.left(t.transport, width) + Format.right(Format.fixed(t.initializeMedian, 1), 13)
                + Format.right(Format.fixed(t.p50, 0), 10) + Format.right(Format.fixed(t.p95, 0), 10)
                + Format.right(Format.fixed(t.p99, 0), 10)
                + Format.right(t.serverCPUMicrosecondsPerCall.map { Format.fixed($0, 0) } ?? "—", 20) + "\n"
        }
        if let a = r.transports.first, r.transports.count >= 2 {
            let ratios = r.transports.dropFirst().map { "\($0.transport)/\(a.transport) \(Format.fixed($0.p50 / a.p50, 2))" }
            out += "p50 ratios: \(ratios.joined(separator: ", ")); \(calls) kernel_info calls per server, interleaved\n"
        }
        return out
    }
}

/// `kestrel mcp-bench`: start-to-initialize time and kernel_info round trips of `kestrel mcp`,
/// our transport and the SDK's side by side.
struct MCPBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp-bench",
        abstract: "Measure `kestrel mcp`: start to initialize answered, kernel_info round trips, per transport.",
        discussion: """
            Spawns `kestrel mcp --transport blocking` and `--transport sdk` as child processes over pipes, times \
            --starts launches of each until the initialize response is read, then alternates --calls kernel_info \
            round trips between one server of each (interleaved, so both see the same machine load). \
            --compare-sdk-calls adds a third server, ours with tools/call through the SDK's dispatch. \
            Targets (issue 20): initialize < 50 ms, p50 < 1 ms, p95 < 10 ms.
            """
    )

    @Option(help: "kernel_info round trips per transport.")
    var calls = 1000

    @Option(help: "Server launches per transport for the start-to-initialize time.")
    var starts = 5

    @Option(help: "Transports: both, blocking or sdk.")
    var transport = "both"

    @Flag(help: "Also measure our transport with tools/call answered through the SDK's dispatch (kestrel mcp --sdk-tool-calls): the path before the fast path.")
    var compareSdkCalls = false

    func validate() throws {
        guard (1...1_000_000).contains(calls) else { throw ValidationError("--calls must be in 1...1000000") }
        guard (1...1000).contains(starts) else { throw ValidationError("--starts must be in 1...1000") }
        guard ["both", "blocking", "sdk"].contains(transport) else { throw ValidationError("--transport must be both, blocking or sdk") }
    }

    func run() throws {
        let exe: URL
        switch StartupTimer.currentExecutable() {
        case .success(let url): exe = url
        case .failure(let why): throw ValidationError(why.reason)
        }
        let kinds: [MCPTransportKind] = transport == "both" ? [.blocking, .sdk] : [MCPTransportKind(rawValue: transport)!]
        let servers = kinds.map(MCPBenchServer.transport) + (compareSdkCalls ? [.blockingSDKCalls] : [])
        let load = MachineLoad.oneMinute()
        let r = try MCPBench.run(executable: exe, servers: servers, calls: calls, starts: starts)
        print(MCPBench.table(r, calls: calls), terminator: "")
        print("cpu: \(BenchmarkEnvironment.cpuModelName); load average (1 min) before: \(load.map { Format.fixed($0, 2) } ?? "unknown"), "
            + "after: \(MachineLoad.oneMinute().map { Format.fixed($0, 2) } ?? "unknown")")
    }
}
