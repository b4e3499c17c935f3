import Foundation
import Kestrel
import KestrelBenchmarkKit
import MCP
import Testing
import _KestrelTestSupport

@testable import KestrelCLI

#if canImport(Glibc)
import Glibc
#endif

/// A client on the other end of two pipes, speaking newline-delimited JSON-RPC to a server
/// running in this process (``MCPServerHost`` over a real transport).
final class PipeClient: @unchecked Sendable {
    let serverInput: Int32, serverOutput: Int32
    private var toServer: Int32, fromServer: Int32
    private var buffer: [UInt8] = []
    /// Notifications received while waiting for responses.
    private(set) var notifications: [Value] = []

    init() {
        var a: [Int32] = [0, 0], b: [Int32] = [0, 0]
        precondition(pipe(&a) == 0 && pipe(&b) == 0)
        serverInput = a[0]
        toServer = a[1]
        fromServer = b[0]
        serverOutput = b[1]
    }

    deinit {
        closeInput()
        if fromServer >= 0 { close(fromServer) }
    }

    func send(_ line: String) { sendBytes(Array((line + "\n").utf8)) }

    func sendBytes(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { posixWrite(toServer, $0.baseAddress, $0.count) }
            precondition(n > 0, "write to the server failed: errno \(errno)")
            offset += n
        }
    }

    /// Closes the server's input (EOF).
    func closeInput() {
        if toServer >= 0 { close(toServer) }
        toServer = -1
    }

    /// Closes the client's reading end too: the client is gone.
    func disappear() {
        closeInput()
        close(fromServer)
        fromServer = -1
    }

    /// The next line, or nil at EOF or after `timeout` seconds.
    func readLine(timeout: Double = 120) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                defer { buffer.removeSubrange(...nl) }
                return String(decoding: buffer[..<nl], as: UTF8.self)
            }
            var p = pollfd(fd: fromServer, events: Int16(POLLIN), revents: 0)
            let left = deadline.timeIntervalSinceNow
            guard left > 0, poll(&p, 1, Int32(left * 1000)) > 0 else { return nil }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let n = chunk.withUnsafeMutableBytes { read(fromServer, $0.baseAddress, $0.count) }
            guard n > 0 else { return nil }
            buffer += chunk[..<n]
        }
    }

    /// The next message that is not a notification (notifications are kept in ``notifications``).
    func response(timeout: Double = 120) throws -> [String: Value] {
        while true {
            let line = try #require(readLine(timeout: timeout), "no response")
            let v = try JSONDecoder().decode(Value.self, from: Data(line.utf8))
            let o = try #require(v.objectValue)
            if o["id"] == nil, o["method"] != nil { notifications.append(v); continue }
            return o
        }
    }

    func request(_ id: Int, _ method: String, _ params: Value = [:]) throws -> [String: Value] {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        let msg: Value = ["jsonrpc": "2.0", "id": .int(id), "method": .string(method), "params": params]
        send(String(decoding: try e.encode(msg), as: UTF8.self))
        let r = try response()
        #expect(r["id"] == .int(id), "response to \(id): \(r)")
        return r
    }

    func initialize() throws {
        let r = try request(0, "initialize", ["protocolVersion": "2025-06-18", "capabilities": [:],
                                              "clientInfo": ["name": "swift-test", "version": "1"]])
        #expect(r["result"]?.objectValue?["serverInfo"]?.objectValue?["name"] == "kestrel")
        send(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
    }

    func call(_ id: Int, _ tool: String, _ arguments: Value = [:], progressToken: Value? = nil) throws -> [String: Value] {
        var params: [String: Value] = ["name": .string(tool), "arguments": arguments]
        if let progressToken { params["_meta"] = ["progressToken": progressToken] }
        return try request(id, "tools/call", .object(params))
    }
}

func errorCode(_ r: [String: Value]) -> Int? { r["error"]?.objectValue?["code"]?.intValue }

/// A server in this process over pipes, with the given tools; `finish()` closes the input and
/// waits for the server to stop.
final class InProcessServer: @unchecked Sendable {
    let client = PipeClient()
    let host: MCPServerHost
    let task: Task<Void, any Error>
    let dir: TempDir

    /// - Parameter directToolCalls: `tools/call` on ``ToolCallFastPath`` (the default) or through the SDK.
    init(tools: ((MCPState) -> [MCPToolDefinition])? = nil, maxLineBytes: Int = 1 << 20, sdkTransport: Bool = false,
         directToolCalls: Bool = true, onAnswered: (@Sendable (UInt64, Bool) -> Void)? = nil) throws {
        dir = TempDir(prefix: "mcp")
        let state = MCPState(directory: dir.url, historyPath: dir.url.appendingPathComponent("history.sqlite").path)
        let definitions = tools?(state) ?? MCPTools.all(state: state, catalog: { SuiteCatalog.fake() })
        let host = MCPServerHost(toolbox: MCPToolbox(definitions), state: state, directToolCalls: directToolCalls,
                                 onAnswered: onAnswered)
        self.host = host
        let transport: any Transport
        if sdkTransport {
            transport = StdioTransport(input: .init(rawValue: client.serverInput), output: .init(rawValue: client.serverOutput))
        } else {
            transport = BlockingStdioTransport(input: client.serverInput, output: client.serverOutput, maxLineBytes: maxLineBytes) {
                host.clientGone()
            }
        }
        task = Task { try await host.serve(over: transport) }
    }

    /// EOF to the server; returns once `serve` returned.
    func finish() async throws {
        client.closeInput()
        try await task.value
    }

    deinit {
        close(client.serverInput)
        close(client.serverOutput)
    }
}

/// The server end to end in this process: initialize, tools, resources, progress, cancellation,
/// and every kind of bad input (the Python client check in .ci/run drives the real executable).
@Suite(.serialized) struct MCPServerTests {
    /// The statistics hook of `kestrel status` sees every answered request once, errors marked.
    @Test func everyAnsweredRequestReachesTheStatisticsHook() async throws {
        final class Answers: @unchecked Sendable {  // guarded by `lock`
            let lock = PlainLock()
            var list: [(UInt64, Bool)] = []
        }
        let seen = Answers()
        let s = try InProcessServer(onAnswered: { ns, failed in seen.lock.withLock { seen.list.append((ns, failed)) } })
        try s.client.initialize()
        _ = try s.client.request(1, "tools/list")
        _ = try s.client.call(2, "kernel_info", ["roofline": "skip"])
        let unknown = try s.client.request(3, "no/such-method")
        #expect(errorCode(unknown) == -32601)
        try await s.finish()
        let got = seen.lock.withLock { seen.list }
        // initialize, tools/list, tools/call, the unknown method
        #expect(got.count == 4)
        #expect(got.filter(\.1).count == 1)
        #expect(got.allSatisfy { $0.0 > 0 })
    }

    @Test func initializeListToolsAndKernelInfoMatchesInfo() async throws {
        let s = try InProcessServer()
        try s.client.initialize()
        let list = try s.client.request(1, "tools/list")
        let tools = try #require(list["result"]?.objectValue?["tools"]?.arrayValue)
        let names = tools.compactMap { $0.objectValue?["name"]?.stringValue }
        for n in ["benchmark_run", "bottleneck_analyze", "kernel_info", "token_usage", "quantize_report"] {
            #expect(names.contains(n), "missing \(n)")
        }
        #expect(tools.allSatisfy { $0.objectValue?["inputSchema"]?.objectValue?["type"] == "object"
                                   && $0.objectValue?["outputSchema"]?.objectValue?["type"] == "object" })

        let r = try s.client.call(2, "kernel_info", ["roofline": "skip"])
        let result = try #require(r["result"]?.objectValue)
        #expect(result["isError"] == false)
        let out = try #require(result["structuredContent"])
        let schema = try #require(MCPToolbox(MCPTools.all(state: s.host.state)).definition(named: "kernel_info")?.tool.outputSchema)
        #expect(JSONSchemaCheck.violation(of: out, against: schema) == nil)
        let o = try #require(out.objectValue)
        // Independent reference: the kernel layer itself.
        #expect(o["cpu"]?.objectValue?["model"]?.stringValue == ISALevel.cpuName)
        #expect(o["isa"]?.objectValue?["supported"] == .array(ISALevel.supported.map { .string($0.rawValue) }))
        #expect(o["isa"]?.objectValue?["active"]?.stringValue == ISALevel.active.rawValue)
        #expect(o["caches"]?.objectValue?["l2Bytes"]?.intValue == CPUDescription.current.l2Bytes)
        #expect(o["roofline"]?.objectValue?["available"] == false)
        // The text content is the same JSON.
        let text = try #require(result["content"]?.arrayValue?.first?.objectValue?["text"]?.stringValue)
        #expect(try JSONDecoder().decode(Value.self, from: Data(text.utf8)) == out)
        try await s.finish()
    }

    @Test func protocolErrorsCarryTheRightCodesAndTheServerKeepsServing() async throws {
        let s = try InProcessServer(maxLineBytes: 64 << 10)
        try s.client.initialize()
        #expect(errorCode(try s.client.request(1, "no/such/method")) == -32601)
        #expect(errorCode(try s.client.call(2, "no_such_tool")) == -32602)
        #expect(errorCode(try s.client.call(3, "kernel_info", ["roofline": "sometimes"])) == -32602)
        #expect(errorCode(try s.client.call(4, "kernel_info", ["extra": 1])) == -32602)
        #expect(errorCode(try s.client.call(5, "quantize_report", [:])) == -32602)  // format is required
        #expect(errorCode(try s.client.call(6, "token_usage", ["path": "/a", "log": "b"])) == -32602)

        s.client.send("{this is not json")
        var r = try s.client.response()
        #expect(errorCode(r) == -32700 && r["id"] == .null)

        // 10 MB on one line: answered, dropped, memory bounded by the 64 KiB cap.
        let big = Array(("{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\",\"params\":{\"pad\":\"" + String(repeating: "x", count: 10_000_000) + "\"}}\n").utf8)
        s.client.sendBytes(big)
        r = try s.client.response()
        #expect(errorCode(r) == -32600 && r["id"] == .null)
        #expect(r["error"]?.objectValue?["message"]?.stringValue?.contains("exceeds the limit") == true)

        // Still serving.
        #expect(try s.client.request(10, "ping")["result"] != nil)
        #expect(try s.client.call(11, "kernel_info")["result"]?.objectValue?["isError"] == false)
        try await s.finish()
    }

    @Test func endOfInputInTheMiddleOfARequestIsAnsweredAndTheServerStops() async throws {
        let s = try InProcessServer()
        try s.client.initialize()
        s.client.sendBytes(Array(#"{"jsonrpc":"2.0","id":5,"method":"tools/li"#.utf8))
        s.client.closeInput()
        let r = try s.client.response()
        #expect(errorCode(r) == -32700)
        try await s.task.value  // serve returned
        #expect(s.client.readLine(timeout: 0.5) == nil)
    }

    @Test func requestsPendingAtEndOfInputAreAnsweredBeforeTheServerStops() async throws {
        let started = CancelFlag()
        let s = try InProcessServer(tools: { _ in [Self.slowTool(started: started)] })
        // initialize, a 50-step call and a ping, then end of input at once (`printf … | kestrel mcp`).
        s.client.send(#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#)
        s.client.send(#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow","arguments":{"steps":50}}}"#)
        s.client.send(#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#)
        s.client.closeInput()
        var ids: [Value] = []
        for _ in 0..<3 { ids.append(try s.client.response()["id"] ?? .null) }
        #expect(Set(ids.compactMap(\.intValue)) == [0, 1, 2])
        try await s.task.value
        #expect(await s.host.pending.count == 0)
    }

    /// A tool that counts to `steps`, reporting progress and checking for cancellation.
    static func slowTool(started: CancelFlag) -> MCPToolDefinition {
        MCPToolDefinition(tool: Tool(name: "slow", description: "test", inputSchema: Schema.object(["steps": Schema.integer("n", minimum: 1)]),
                                     outputSchema: Schema.object(["steps": Schema.integer("n")], required: ["steps"]))) { call in
            let n = call.int("steps") ?? 3
            for i in 0..<n {
                try call.cancel.check()
                call.progress(Double(i), Double(n), "step \(i)")
                if i == 0 { started.cancel() }  // "started" is set: the test may cancel now
                usleep(2_000)
            }
            call.progress(Double(n), Double(n), nil)
            return ToolOutput(["steps": .int(n)])
        }
    }

    @Test func progressNotificationsPrecedeTheResultInOrder() async throws {
        let started = CancelFlag()
        let s = try InProcessServer(tools: { _ in [Self.slowTool(started: started)] })
        try s.client.initialize()
        let r = try s.client.call(1, "slow", ["steps": 5], progressToken: "tok")
        #expect(r["result"]?.objectValue?["structuredContent"] == ["steps": 5])
        let progress = s.client.notifications.filter { $0.objectValue?["method"] == "notifications/progress" }
        #expect(progress.count == 6)
        let values = progress.compactMap { $0.objectValue?["params"]?.objectValue?["progress"] }
        #expect(values == [0, 1, 2, 3, 4, 5].map { Value.int($0) } || values == [0, 1, 2, 3, 4, 5].map { Value.double(Double($0)) })
        #expect(progress.allSatisfy { $0.objectValue?["params"]?.objectValue?["progressToken"] == "tok" })
        // Without a token: no notifications.
        _ = try s.client.call(2, "slow", ["steps": 2])
        #expect(s.client.notifications.count == 6)
        try await s.finish()
    }

    @Test func aCancelledCallGetsNoResponseAndTheServerGoesOn() async throws {
        let started = CancelFlag()
        let s = try InProcessServer(tools: { _ in [Self.slowTool(started: started)] })
        try s.client.initialize()
        s.client.send(#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"slow","arguments":{"steps":100000}}}"#)
        while !started.isCancelled { usleep(1_000) }
        s.client.send(#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"test"}}"#)
        // The next response is the ping's: the cancelled call sent none.
        let r = try s.client.request(8, "ping")
        #expect(r["result"] != nil)
        try await s.finish()
        #expect(await s.host.inFlight.count == 0)
    }

    @Test func aClientThatDisappearsCancelsTheCallsInFlight() async throws {
        let started = CancelFlag()
        let s = try InProcessServer(tools: { _ in [Self.slowTool(started: started)] })
        try s.client.initialize()
        s.client.send(#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"slow","arguments":{"steps":100000},"_meta":{"progressToken":1}}}"#)
        while !started.isCancelled { usleep(1_000) }
        s.client.disappear()
        // 100000 steps of 2 ms would take minutes: serve returns because the first failed
        // progress write cancelled the call.
        try await s.task.value
        #expect(await s.host.inFlight.count == 0)
    }

    @Test func tokenUsageTotalsMatchTheRecords() async throws {
        let s = try InProcessServer()
        try s.client.initialize()
        let log = """
            {"operation":"plan","input_tokens":1200,"output_tokens":50,"cache_read_input_tokens":0}
            {"operation":"plan","input_tokens":1200,"output_tokens":40,"cache_read_input_tokens":1000}
            {"operation":"edit","inputTokens":300,"outputTokens":200}
            """
        let r = try s.client.call(1, "token_usage", ["log": .string(log)])
        let out = try #require(r["result"]?.objectValue?["structuredContent"]?.objectValue)
        #expect(out["records"] == 3)
        let totals = try #require(out["totals"]?.objectValue)
        #expect(totals["calls"] == 3 && totals["inputTokens"] == 2700 && totals["outputTokens"] == 290 && totals["cachedInputTokens"] == 1000)
        // The same analysis done directly.
        let direct = try TokenUsageAnalyzer().analyze([
            TokenUsageRecord(operation: "plan", inputTokens: 1200, outputTokens: 50),
            TokenUsageRecord(operation: "plan", inputTokens: 1200, outputTokens: 40, cachedInputTokens: 1000),
            TokenUsageRecord(operation: "edit", inputTokens: 300, outputTokens: 200),
        ])
        #expect(out["breakdown"]?.arrayValue?.count == direct.breakdown.count)
        #expect(out["inefficiencies"]?.arrayValue?.count == direct.inefficiencies.count)
        // A damaged log is a tool error, not a protocol error.
        let bad = try s.client.call(2, "token_usage", ["log": "{\"operation\":\"x\"}"])
        #expect(bad["result"]?.objectValue?["isError"] == true)
        let missing = try s.client.call(3, "token_usage", ["path": .string(s.dir.url.appendingPathComponent("none.jsonl").path)])
        #expect(missing["result"]?.objectValue?["isError"] == true)
        try await s.finish()
    }

    @Test func quantizeReportMatchesADirectQuantizationReport() async throws {
        let s = try InProcessServer()
        try s.client.initialize()
        let r = try s.client.call(1, "quantize_report", ["format": "q8_0", "generate": ["rows": 4, "cols": 64, "seed": 7]])
        let out = try #require(r["result"]?.objectValue?["structuredContent"]?.objectValue)
        let layer = try #require(out["layers"]?.arrayValue?.first?.objectValue)
        let direct = try QuantizationReport(tensor: try Tensor.random([4, 64], seed: 7), quantizer: try QuantizerCatalog.quantizer(named: "q8_0"))
        #expect(layer["bytesAfter"]?.intValue == direct.bytesAfter)
        #expect(layer["bytesBefore"]?.intValue == 4 * 64 * 4)
        #expect(abs((layer["rmse"]?.doubleValue ?? -1) - direct.rmse) <= 1e-12 * max(1, direct.rmse))
        // 63 columns cannot hold q8_0 blocks of 32: listed as skipped, not a crash.
        let odd = try s.client.call(2, "quantize_report", ["format": "q8_0", "generate": ["rows": 1, "cols": 63]])
        let oddOut = try #require(odd["result"]?.objectValue?["structuredContent"]?.objectValue)
        #expect(oddOut["layers"] == [] && oddOut["skipped"]?.arrayValue?.count == 1)
        // A file that is not .npy/.gguf is a tool error.
        let wrong = try s.client.call(3, "quantize_report", ["format": "q8_0", "path": "/etc/hostname"])
        #expect(wrong["result"]?.objectValue?["isError"] == true)
        try await s.finish()
    }

    @Test func benchmarkRunReturnsTheReportAndBecomesAResource() async throws {
        let s = try InProcessServer()
        try s.client.initialize()
        let before = try s.client.request(1, "resources/list")["result"]?.objectValue?["resources"]?.arrayValue
        #expect(before?.compactMap { $0.objectValue?["uri"]?.stringValue } == ["kestrel://history/recent-runs"])
        #expect(errorCode(try s.client.request(2, "resources/read", ["uri": "kestrel://reports/last"])) == -32602)

        let r = try s.client.call(3, "benchmark_run", ["case": "memory.f16-storage-reduction", "quick": true, "save_baseline": "b1"],
                                  progressToken: 11)
        let out = try #require(r["result"]?.objectValue?["structuredContent"])
        let schema = MCPTools.reportSchema
        #expect(JSONSchemaCheck.violation(of: out, against: schema) == nil)
        // The same JSON as `kestrel benchmark --json`: it decodes as a BenchmarkReport.
        let report = try BenchmarkReport.decode(try JSONEncoder().encode(out))
        #expect(report.results.map(\.name) == ["memory.f16-storage-reduction"])
        #expect(report.results.first?.status == .pass)
        #expect(s.client.notifications.count == 2)  // running the case, done

        let resources = try #require(try s.client.request(4, "resources/list")["result"]?.objectValue?["resources"]?.arrayValue)
        #expect(resources.compactMap { $0.objectValue?["uri"]?.stringValue }
                == ["kestrel://reports/last", "kestrel://baselines/b1", "kestrel://history/recent-runs"])
        // The run was recorded in the history.
        let recent = try s.client.request(9, "resources/read", ["uri": "kestrel://history/recent-runs"])
        let runsText = try #require(recent["result"]?.objectValue?["contents"]?.arrayValue?.first?.objectValue?["text"]?.stringValue)
        let runs = try JSONDecoder().decode(Value.self, from: Data(runsText.utf8))
        #expect(runs.arrayValue?.count == 1 && runs.arrayValue?.first?.objectValue?["suite"] == "memory.f16-storage-reduction")
        let read = try s.client.request(5, "resources/read", ["uri": "kestrel://baselines/b1"])
        let text = try #require(read["result"]?.objectValue?["contents"]?.arrayValue?.first?.objectValue?["text"]?.stringValue)
        #expect(try BenchmarkReport.decode(Data(text.utf8)).results == report.results)

        #expect(errorCode(try s.client.call(6, "benchmark_run", ["case": "no.such.case"])) == -32602)
        #expect(errorCode(try s.client.call(7, "benchmark_run", ["suite": "gpu"])) == -32602)
        #expect(errorCode(try s.client.call(8, "benchmark_run", ["case": "memory.f16-storage-reduction", "save_baseline": "../x"])) == -32602)
        try await s.finish()
    }

    @Test func historyMetricsAndReportThroughTheTools() async throws {
        let s = try InProcessServer()
        try s.client.initialize()
        let stored = try s.client.call(1, "metrics_store", ["namespace": "t", "key": "a.latency", "value": 2.5, "ttl_seconds": 3600])
        #expect(stored["result"]?.objectValue?["structuredContent"]?.objectValue?["metric"]?.objectValue?["value"] == 2.5)
        _ = try s.client.call(2, "metrics_store", ["namespace": "t", "key": "b", "text": "x"])
        let q = try s.client.call(3, "metrics_query", ["namespace": "t", "key_prefix": "a."])
        let points = try #require(q["result"]?.objectValue?["structuredContent"]?.objectValue?["metrics"]?.arrayValue)
        #expect(points.count == 1 && points.first?.objectValue?["key"] == "a.latency")
        #expect(errorCode(try s.client.call(4, "metrics_store", ["namespace": "t", "key": "c"])) == -32602)  // no value, no text
        let r = try s.client.call(5, "performance_report", ["format": "json", "timeframe": "all"])
        let out = try #require(r["result"]?.objectValue?["structuredContent"]?.objectValue)
        #expect(out["runs"] == 0 && out["regressions"] == [])
        try await s.finish()
    }

    @Test func theSDKTransportServesTheSameTools() async throws {
        let s = try InProcessServer(sdkTransport: true)
        try s.client.initialize()
        let r = try s.client.call(1, "kernel_info", ["roofline": "skip"])
        #expect(r["result"]?.objectValue?["structuredContent"]?.objectValue?["isa"] != nil)
        try await s.finish()
    }
}
