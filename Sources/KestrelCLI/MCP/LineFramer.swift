import Foundation
import MCP

/// Splits a byte stream into newline-delimited messages (the MCP stdio framing) without ever
/// holding more than `maxLineBytes` of one line: a longer line is dropped as it streams in and
/// reported once, so a client sending 10 MB without a newline costs at most the cap in memory.
///
/// Not thread-safe (one reader owns it).
struct LineFramer {
    /// What a chunk of input produced.
    enum Event: Equatable {
        /// A complete line without its `\n` (and without a trailing `\r`), never empty.
        case line([UInt8])
        /// A line longer than the cap was dropped; `bytes` is its length as far as it was read.
        case oversized(bytes: Int)
    }

    /// Longest accepted line, bytes (without the newline).
    let maxLineBytes: Int
    private var pending: [UInt8] = []
    /// Bytes of the oversized line being skipped, nil when not skipping.
    private var skipped: Int?

    init(maxLineBytes: Int) {
        // Programmer error only: `kestrel mcp` validates --max-line-bytes (1024…2^30) before building a framer.
        precondition(maxLineBytes > 0, "maxLineBytes must be positive")
        self.maxLineBytes = maxLineBytes
    }

    /// Bytes held for the current, unterminated line (bounded by ``maxLineBytes``).
    var bufferedBytes: Int { pending.count }

    /// Feeds a chunk; returns the events it completes, in order.
    mutating func feed(_ chunk: UnsafeRawBufferPointer) -> [Event] {
        var events: [Event] = []
        var rest = chunk[...]
        while !rest.isEmpty {
            let newline = rest.firstIndex(of: UInt8(ascii: "\n"))
            let piece = rest[..<(newline ?? rest.endIndex)]
            if let n = skipped {
                skipped = n + piece.count
            } else if pending.count + piece.count > maxLineBytes {
                skipped = pending.count + piece.count
                pending.removeAll(keepingCapacity: false)
            } else {
                pending.append(contentsOf: piece)
            }
            guard let newline else { break }
            if let e = endLine() { events.append(e) }
            rest = rest[(newline + 1)...]
        }
        return events
    }

    /// At end of input: the unterminated last line, if any (a client may omit the final newline;
    /// a request cut short by EOF is then answered as a parse error by the caller).
    mutating func finish() -> Event? { endLine() }

    private mutating func endLine() -> Event? {
        if let n = skipped {
            skipped = nil
            return .oversized(bytes: n)
        }
        defer { pending.removeAll(keepingCapacity: pending.count <= 65_536) }
        var line = pending[...]
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        return line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) ? nil : .line(Array(line))
    }
}

/// Checks that a line is a JSON-RPC 2.0 message before the SDK sees it, and builds the error
/// response when it is not. The SDK answers undecodable input with a random id and
/// decoding failures of typed parameters as internal errors; here the codes and ids follow
/// JSON-RPC 2.0 §5.1: -32700 (parse error, id null), -32600 (invalid request, the id when it
/// could be read).
enum JSONRPCScreen {
    /// The verdict on one line.
    enum Verdict: Equatable {
        /// Forward to the server.
        case message(Data)
        /// Answer with this error response (a complete JSON object, no newline).
        case reject(Data)
    }

    /// Screens `line`.
    static func screen(_ line: [UInt8]) -> Verdict {
        let data = Data(line)
        let parsed: JSONRPCEnvelope.Parsed
        do {
            parsed = try JSONRPCEnvelope.parse(data)
        } catch {
            return .reject(errorResponse(id: .null, code: -32700, message: "Parse error: the line is not valid JSON"))
        }
        let message: JSONRPCEnvelope
        switch parsed {
        case .batch(let items):
            guard !items.isEmpty else {
                return .reject(errorResponse(id: .null, code: -32600, message: "Invalid Request: empty batch"))
            }
            return .message(data)
        case .other:
            return .reject(errorResponse(id: .null, code: -32600, message: "Invalid Request: a message is a JSON object"))
        case .object(let m):
            message = m
        }
        var id = Value.null
        switch message.id {
        case nil, .null?: break
        case .string?, .int?: id = message.id!.value
        case .invalid?:
            return .reject(errorResponse(id: .null, code: -32600, message: "Invalid Request: id must be a string or an integer"))
        }
        guard message.version == "2.0" else {
            return .reject(errorResponse(id: id, code: -32600, message: "Invalid Request: jsonrpc must be \"2.0\""))
        }
        if message.hasMethod {
            guard message.methodIsString else {
                return .reject(errorResponse(id: id, code: -32600, message: "Invalid Request: method must be a string"))
            }
            if message.hasParams, !message.paramsIsObject {
                return .reject(errorResponse(id: id, code: -32602, message: "Invalid params: params must be an object"))
            }
            return .message(data)
        }
        // A response from the client (to a server request): needs an id and a result or an error.
        guard message.id != nil, message.hasResult || message.hasError else {
            return .reject(errorResponse(id: id, code: -32600, message: "Invalid Request: no method, and not a response"))
        }
        return .message(data)
    }

    /// A JSON-RPC error response.
    static func errorResponse(id: Value, code: Int, message: String) -> Data {
        let object: Value = .object([
            "jsonrpc": "2.0", "id": id, "error": .object(["code": .int(code), "message": .string(message)]),
        ])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Strings, integers and null only: encoding cannot fail.
        return (try? encoder.encode(object))
            ?? Data(#"{"error":{"code":-32603,"message":"Internal error"},"id":null,"jsonrpc":"2.0"}"#.utf8)
    }
}
