import Dispatch
import Foundation
import Kestrel
import KestrelBenchmarkKit
import Logging
import MCP
import Testing
import _KestrelTestSupport

@testable import KestrelCLI

/// ``ToolCallFastPath`` (`tools/call` answered without the SDK's `Value` round trips) against
/// the SDK's own dispatch of the same calls, its handling of malformed calls, batches and
/// cancellation, and ``KernelInfoMemo`` against the uncached computation.
///
/// Part of the serialized `MCPServerTests` suite: each test blocks a thread of the (2-thread)
/// cooperative pool reading the pipe, so two of them at once would starve the servers.
extension MCPServerTests {
    private static let tokenLog = """
        {"operation":"plan","input_tokens":1200,"output_tokens":50,"cache_read_input_tokens":0}
        {"operation":"edit","inputTokens":300,"outputTokens":200}
        """

    /// The reference is the SDK's dispatch (`directToolCalls: false`, the path before the fast
    /// path): every response, results and errors alike, must be the same JSON.
    @Test func theFastPathAnswersExactlyAsTheSDKDispatch() async throws {
        let fast = try InProcessServer()
        let sdk = try InProcessServer(directToolCalls: false)
        try fast.client.initialize()
        try sdk.client.initialize()
        let calls: [(String, Value)] = [
            ("kernel_info", ["roofline": "skip"]),
            ("kernel_info", ["roofline": "skip"]),  // the memoized answer
            ("kernel_info", [:]),  // roofline=cached
            ("kernel_info", ["roofline": "sometimes"]),  // -32602: not in the enum
            ("kernel_info", ["extra": 1]),  // -32602: unknown property
            ("no_such_tool", [:]),  // -32602: unknown tool
            ("quantize_report", [:]),  // -32602: missing required
            ("quantize_report", ["format": "q8_0", "generate": ["rows": 2, "cols": 64, "seed": 3]]),
            ("quantize_report", ["format": "q8_0", "generate": ["rows": 1, "cols": 63]]),  // skipped tensor
            ("token_usage", ["log": .string(Self.tokenLog), "pricing": ["inputPerMillion": 3, "cachedInputPerMillion": 0.3,
                                                                         "outputPerMillion": 15]]),
            ("token_usage", ["log": "{\"operation\":\"x\"}"]),  // isError: a damaged log
            ("token_usage", ["path": "/a", "log": "b"]),  // -32602 from the tool itself
        ]
        for (i, (tool, arguments)) in calls.enumerated() {
            let a = try fast.client.call(i + 1, tool, arguments)
            let b = try sdk.client.call(i + 1, tool, arguments)
            #expect(a == b, "\(tool) \(arguments)")
            #expect(a["result"] != nil || errorCode(a) == -32602, "\(tool): \(a)")
        }
        try await fast.finish()
        try await sdk.finish()
    }

    /// Parameters the SDK would answer with an internal error (-32603) are invalid params
    /// (-32602) with the request's id, and the server goes on.
    @Test func malformedCallParametersAreInvalidParamsWithTheirIds() async throws {
        let s = try InProcessServer()
        try s.client.initialize()
        let bad: [(String, Value)] = [
            (#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#, 1),
            (#"{"jsonrpc":"2.0","id":"b","method":"tools/call","params":{"arguments":{}}}"#, "b"),
            (#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":7}}"#, 3),
            (#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"kernel_info","arguments":[1]}}"#, 4),
            (#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"kernel_info","_meta":"x"}}"#, 5),
        ]
        for (line, id) in bad {
            s.client.send(line)
            let r = try s.client.response()
            #expect(r["id"] == id)
            #expect(errorCode(r) == -32602, "\(line): \(r)")
        }
        // Null arguments are no arguments; a progress token of another type is ignored (as the SDK's Metadata does).
        s.client.send(#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"kernel_info","arguments":null,"_meta":{"progressToken":1.5}}}"#)
        let ok = try s.client.response()
        #expect(ok["id"] == 6 && ok["result"]?.objectValue?["isError"] == false)
        #expect(s.client.notifications.isEmpty)
        #expect(try s.client.request(7, "ping")["result"] != nil)
        try await s.finish()
    }

    /// The SDK's `Value` would turn this argument into `.data` (and the tool would see no text).
    /// The responses are read with `PlainJSON`: the test client's usual `Value` decoding would
    /// rewrite the data URL itself.
    @Test func aStringArgumentThatLooksLikeADataURLStaysAString() async throws {
        let s = try InProcessServer()
        try s.client.initialize()
        func call(_ id: Int, _ tool: String, _ arguments: Value) throws -> Value {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let msg: Value = ["jsonrpc": "2.0", "id": .int(id), "method": "tools/call",
                              "params": ["name": .string(tool), "arguments": arguments]]
            s.client.send(String(decoding: try e.encode(msg), as: UTF8.self))
            let line = try #require(s.client.readLine())
            return try PlainJSON.decode(Data(line.utf8))
        }
        for (i, text) in ["data:,hi", "data:text/plain;base64,aGk="].enumerated() {
            let stored = try call(2 * i + 1, "metrics_store", ["namespace": "t", "key": .string("k\(i)"), "text": .string(text)])
            #expect(stored.objectValue?["result"]?.objectValue?["structuredContent"]?.objectValue?["metric"]?.objectValue?["text"]
                    == .string(text), "\(stored)")
            let q = try call(2 * i + 2, "metrics_query", ["namespace": "t", "key_prefix": .string("k\(i)")])
            let points = q.objectValue?["result"]?.objectValue?["structuredContent"]?.objectValue?["metrics"]?.arrayValue
            #expect(points?.first?.objectValue?["text"] == .string(text), "\(q)")
        }
        try await s.finish()
    }

    /// Inside a batch a call is answered by the SDK's dispatch, in the batch's response array.
    @Test func aToolCallInsideABatchIsStillAnswered() async throws {
        let s = try InProcessServer()
        try s.client.initialize()
        s.client.send(#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"kernel_info","arguments":{"roofline":"skip"}}},{"jsonrpc":"2.0","id":2,"method":"ping"}]"#)
        let line = try #require(s.client.readLine())
        let items = try #require(try JSONDecoder().decode(Value.self, from: Data(line.utf8)).arrayValue)
        #expect(Set(items.compactMap { $0.objectValue?["id"]?.intValue }) == [1, 2])
        let call = try #require(items.first { $0.objectValue?["id"] == 1 }?.objectValue)
        #expect(call["result"]?.objectValue?["structuredContent"]?.objectValue?["isa"] != nil)
        try await s.finish()
    }

    /// A cancelled call sends nothing; the same id used again afterwards is a new call and is answered.
    @Test func aCancelledCallsIdCanBeUsedAgain() async throws {
        let started = CancelFlag()
        let s = try InProcessServer(tools: { _ in [MCPServerTests.slowTool(started: started)] })
        try s.client.initialize()
        s.client.send(#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"slow","arguments":{"steps":100000},"_meta":{"progressToken":"p"}}}"#)
        while !started.isCancelled { usleep(1_000) }
        s.client.send(#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}}"#)
        let again = try s.client.call(7, "slow", ["steps": 2])
        #expect(again["result"]?.objectValue?["structuredContent"] == ["steps": 2])
        try await s.finish()
        #expect(await s.host.inFlight.count == 0)
        #expect(await s.host.pending.count == 0)
    }

    @Test func requestDecodingReadsNameArgumentsAndToken() throws {
        let r = try ToolCallRequest.decode(Data(#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"a":[1,2.5,"x",null,true,{"b":false}]},"_meta":{"progressToken":"tok"}}}"#.utf8))
        #expect(r == ToolCallRequest(name: "t", arguments: ["a": [1, 2.5, "x", nil, true, ["b": false]]], progressToken: .string("tok")))
        #expect(try ToolCallRequest.decode(Data(#"{"params":{"name":"t","_meta":{"progressToken":9}}}"#.utf8)).progressToken == .integer(9))
        #expect(throws: MCPError.self) { try ToolCallRequest.decode(Data("[1]".utf8)) }
        // The SDK's decoder for comparison: it turns the data-URL string into `.data`.
        let sdk = try JSONDecoder().decode(Value.self, from: Data(#""data:,hi""#.utf8))
        #expect(sdk.stringValue == nil)
        #expect(try PlainJSON.decode(Data(#""data:,hi""#.utf8)) == "data:,hi")
        #expect(try PlainJSON.decode(Data("[1, 1.5, 1e300]".utf8)) == [1, 1.5, .double(1e300)])
    }

    /// The memo returns what an uncached computation returns, and follows the roofline cache
    /// file as it appears, changes and disappears.
    @Test func kernelInfoMemoFollowsTheRooflineCacheFile() throws {
        let dir = TempDir(prefix: "kernel-info-memo")
        let file = dir.file("roofline.json")
        let schema = try #require(MCPTools.kernelInfo().tool.outputSchema)
        let memo = KernelInfoMemo(outputSchema: schema, rooflineFile: file)
        func reference() -> Value {
            MCPTools.kernelInfoOutput(roofline: MCPTools.rooflineValue(MCPTools.cachedRoofline(file: file), source: "cached")).structured
        }
        func roofs(_ o: ToolOutput) -> [String: Value]? { o.structured.objectValue?["roofline"]?.objectValue }
        func write(peakGflops: Double) throws { try Self.writeRooflineCache(peakGflops: peakGflops, to: file) }

        var o = memo.cached()
        #expect(roofs(o)?["available"] == false && o.structured == reference() && o.schemaChecked)
        try write(peakGflops: 100)
        o = memo.cached()
        #expect(roofs(o)?["peakGflops"] == 100.0 && o.structured == reference() && o.schemaChecked)
        #expect(memo.cached().structured == o.structured)
        try write(peakGflops: 250)
        o = memo.cached()
        #expect(roofs(o)?["peakGflops"] == 250.0 && o.structured == reference())
        try FileManager.default.removeItem(at: file)
        o = memo.cached()
        #expect(roofs(o)?["available"] == false && o.structured == reference())

        let skipped = memo.skipped()
        #expect(skipped.schemaChecked && roofs(skipped)?["source"] == "skipped")
        #expect(skipped.structured.objectValue?["cpu"] == reference().objectValue?["cpu"])
        #expect(try PlainJSON.decode(Data(skipped.text.utf8)) == skipped.structured)
    }

    /// Many calls taken one after another while some are cancelled: every call that was not
    /// cancelled is answered exactly once with its own id, none is answered twice, and the
    /// table of running calls empties. (Listed in .ci/tsan-tests.)
    @Test func fastPathUnderConcurrentCallsAndCancellations() async throws {
        final class Answers: @unchecked Sendable {  // guarded by `lock`
            let lock = PlainLock()
            var ids: [JSONRPCEnvelope.ID] = []
            var bodies: [Value] = []
        }
        let started = CancelFlag()
        let toolbox = MCPToolbox([MCPServerTests.slowTool(started: started), MCPTools.kernelInfo()])
        let server = Server(name: "t", version: "1")
        let fast = ToolCallFastPath(toolbox: toolbox, inFlight: InFlightCalls(), server: WeakServer(server),
                                    logger: Logger(label: "test")) {}
        let answers = Answers()
        let respond: ToolCallFastPath.Respond = { data, id, _ in
            let body = try JSONDecoder().decode(Value.self, from: data)
            answers.lock.withLock {
                answers.ids.append(id)
                answers.bodies.append(body)
            }
        }
        let n = 200
        var cancelled = Set<Int>()
        for i in 0..<n {
            let line = i % 4 == 0
                ? #"{"jsonrpc":"2.0","id":\#(i),"method":"tools/call","params":{"name":"slow","arguments":{"steps":3}}}"#
                : #"{"jsonrpc":"2.0","id":\#(i),"method":"tools/call","params":{"name":"kernel_info","arguments":{"roofline":"skip"}}}"#
            let data = Data(line.utf8)
            guard case .object(let m) = try JSONRPCEnvelope.parse(data) else { Issue.record("not an object"); return }
            #expect(fast.take(data, m, respond: respond))
            if i % 8 == 4 {  // a slow call, cancelled at once
                let cancel = Data(#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":\#(i)}}"#.utf8)
                guard case .object(let c) = try JSONRPCEnvelope.parse(cancel) else { return }
                #expect(!fast.take(cancel, c, respond: respond))  // cancellations are passed on too
                cancelled.insert(i)
            }
        }
        while fast.runningCount > 0 { try await Task.sleep(nanoseconds: 1_000_000) }
        let (ids, bodies) = answers.lock.withLock { (answers.ids, answers.bodies) }
        let answered = ids.compactMap { id -> Int? in if case .int(let i) = id { return i } else { return nil } }
        #expect(answered.count == Set(answered).count, "an id was answered twice")
        #expect(Set(0..<n).subtracting(cancelled).isSubset(of: Set(answered)))
        for (id, body) in zip(answered, bodies) {
            #expect(body.objectValue?["id"] == .int(id))
            #expect(body.objectValue?["result"]?.objectValue?["isError"] == false)
        }
    }

    /// Readers of the memo while the roofline file is rewritten see one of the two versions,
    /// whole. (Listed in .ci/tsan-tests.)
    @Test func kernelInfoMemoUnderConcurrentReadersAndRewrites() throws {
        let dir = TempDir(prefix: "kernel-info-memo-stress")
        let file = dir.file("roofline.json")
        let memo = KernelInfoMemo(outputSchema: try #require(MCPTools.kernelInfo().tool.outputSchema), rooflineFile: file)
        @Sendable func write(_ gflops: Double) throws { try Self.writeRooflineCache(peakGflops: gflops, to: file) }
        try write(100)
        let bad = CancelFlag()
        DispatchQueue.concurrentPerform(iterations: 5) { worker in
            for i in 0..<40 {
                if worker == 0 {
                    try? write(i % 2 == 0 ? 250 : 100)
                } else {
                    let o = worker % 2 == 0 ? memo.cached() : memo.skipped()
                    let roofs = o.structured.objectValue?["roofline"]?.objectValue
                    let ok = worker % 2 == 0 ? [Value.double(100), .double(250)].contains(roofs?["peakGflops"] ?? .null)
                                             : roofs?["source"] == "skipped"
                    if !ok || !o.schemaChecked { bad.cancel() }
                }
            }
        }
        #expect(!bad.isCancelled)
    }

    /// Writes a roofline cache file (RooflineProbe's format) whose one entry is this machine's,
    /// one thread, the axpy kernel: the entry `kernel_info roofline=cached` reads.
    static func writeRooflineCache(peakGflops: Double, to file: URL) throws {
        struct Cache: Encodable { var schemaVersion = 1; var entries: [String: MachinePeaks] }
        let peaks = MachinePeaks(cpuModel: BenchmarkEnvironment.cpuModelName, peakFlopsPerSecond: peakGflops * 1e9,
                                 memoryBandwidthBytesPerSecond: 20e9, threads: 1, flopsKernel: FMAPeak.axpyKernel().name,
                                 bandwidthKernel: "triad", buildConfiguration: "release", measuredAt: Date(timeIntervalSince1970: 1e9))
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        try e.encode(Cache(entries: ["k": peaks])).write(to: file, options: .atomic)
    }
}
