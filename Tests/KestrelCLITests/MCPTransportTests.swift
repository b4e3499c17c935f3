import Foundation
import MCP
import Testing

@testable import KestrelCLI

/// The framing and screening under ``BlockingStdioTransport``: lines split anywhere, bounded
/// memory for oversized lines, and the JSON-RPC error codes and ids for bad input.
@Suite struct MCPTransportTests {
    private func feed(_ framer: inout LineFramer, _ text: String) -> [LineFramer.Event] {
        Array(text.utf8).withUnsafeBytes { framer.feed($0) }
    }

    private func lines(_ events: [LineFramer.Event]) -> [String] {
        events.compactMap { if case .line(let b) = $0 { return String(decoding: b, as: UTF8.self) } else { return nil } }
    }

    @Test func linesSplitAcrossChunksAreReassembled() {
        var f = LineFramer(maxLineBytes: 100)
        #expect(feed(&f, "{\"a\":").isEmpty)
        #expect(lines(feed(&f, "1}\n{\"b\"")) == ["{\"a\":1}"])
        #expect(lines(feed(&f, ":2}\r\n\n  \n{\"c\":3}\n")) == ["{\"b\":2}", "{\"c\":3}"])  // CRLF and blank lines
        #expect(f.bufferedBytes == 0)
        #expect(f.finish() == nil)
    }

    @Test func aLineOfExactlyTheCapIsAcceptedOneMoreIsDropped() {
        var f = LineFramer(maxLineBytes: 8)
        #expect(lines(feed(&f, "12345678\n")) == ["12345678"])
        #expect(feed(&f, "123456789\nok\n") == [.oversized(bytes: 9), .line(Array("ok".utf8))])
    }

    @Test func anOversizedLineNeverHoldsMoreThanTheCap() {
        var f = LineFramer(maxLineBytes: 1024)
        let chunk = String(repeating: "x", count: 4096)
        for _ in 0..<2_560 {  // 10 MiB without a newline
            #expect(feed(&f, chunk).isEmpty)
            #expect(f.bufferedBytes <= 1024)
        }
        #expect(feed(&f, "\n{}\n") == [.oversized(bytes: 10 << 20), .line(Array("{}".utf8))])
        // Cut short by EOF: the oversized line is still reported once.
        _ = feed(&f, chunk)
        #expect(f.finish() == .oversized(bytes: 4096))
        #expect(f.finish() == nil)
    }

    @Test func theUnterminatedLastLineIsReturnedAtEndOfInput() {
        var f = LineFramer(maxLineBytes: 100)
        #expect(feed(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"meth").isEmpty)
        #expect(f.finish() == .line(Array("{\"jsonrpc\":\"2.0\",\"id\":1,\"meth".utf8)))
    }

    private func error(_ line: String) throws -> (code: Int, id: Value) {
        guard case .reject(let data) = JSONRPCScreen.screen(Array(line.utf8)) else {
            Issue.record("\(line) was forwarded")
            return (0, .null)
        }
        let v = try JSONDecoder().decode(Value.self, from: data)
        #expect(v.objectValue?["jsonrpc"] == "2.0")
        return (v.objectValue?["error"]?.objectValue?["code"]?.intValue ?? 0, v.objectValue?["id"] ?? .string("absent"))
    }

    @Test func badMessagesGetTheSpecificationsCodesAndIds() throws {
        #expect(try error("{not json") == (-32700, .null))
        #expect(try error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"") == (-32700, .null))  // truncated
        #expect(try error("42") == (-32600, .null))
        #expect(try error("[]") == (-32600, .null))
        #expect(try error("{\"jsonrpc\":\"1.0\",\"id\":7,\"method\":\"ping\"}") == (-32600, .int(7)))
        #expect(try error("{\"id\":\"a\",\"method\":\"ping\"}") == (-32600, .string("a")))
        #expect(try error("{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}") == (-32600, .null))
        #expect(try error("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}") == (-32600, .null))
        #expect(try error("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":5}") == (-32600, .int(3)))
        #expect(try error("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":[1]}") == (-32602, .int(4)))
        #expect(try error("{\"jsonrpc\":\"2.0\",\"id\":5}") == (-32600, .int(5)))
    }

    @Test func validMessagesAreForwardedUnchanged() {
        for line in ["{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
                     "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
                     "{\"jsonrpc\":\"2.0\",\"id\":\"r1\",\"result\":{}}",
                     "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\",\"params\":{}}",
                     "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]"] {
            #expect(JSONRPCScreen.screen(Array(line.utf8)) == .message(Data(line.utf8)))
        }
    }

    @Test func schemaCheckFindsEachKindOfViolation() {
        let schema = Schema.object([
            "n": Schema.integer("n", minimum: 1, maximum: 10), "s": Schema.string("s", enum: ["a", "b"]),
            "list": Schema.array(Schema.number("x"), description: "l", minItems: 1),
        ], required: ["n"])
        #expect(JSONSchemaCheck.violation(of: ["n": 3, "s": "a", "list": [1, 2.5]], against: schema) == nil)
        #expect(JSONSchemaCheck.violation(of: ["n": .double(3.0)], against: schema) == nil)  // 3.0 is an integer
        #expect(JSONSchemaCheck.violation(of: [:], against: schema)?.contains("missing required property 'n'") == true)
        #expect(JSONSchemaCheck.violation(of: ["n": 0], against: schema)?.contains("below the minimum") == true)
        #expect(JSONSchemaCheck.violation(of: ["n": 11], against: schema)?.contains("above the maximum") == true)
        #expect(JSONSchemaCheck.violation(of: ["n": 2.5], against: schema)?.contains("expected integer") == true)
        #expect(JSONSchemaCheck.violation(of: ["n": 1, "s": "c"], against: schema)?.contains("not one of") == true)
        #expect(JSONSchemaCheck.violation(of: ["n": 1, "x": 1], against: schema)?.contains("unknown property 'x'") == true)
        #expect(JSONSchemaCheck.violation(of: ["n": 1, "list": []], against: schema)?.contains("fewer than 1") == true)
        #expect(JSONSchemaCheck.violation(of: ["n": 1, "list": ["x"]], against: schema) == "$.list[0]: expected number, got string")
        #expect(JSONSchemaCheck.violation(of: "text", against: schema) == "$: expected object, got string")
    }
}
