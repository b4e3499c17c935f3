import Foundation
import Kestrel
import MCP

/// A cancellation flag a tool's worker thread polls between steps (cases, tensors, phases).
/// Thread-safe.
final class CancelFlag: @unchecked Sendable {
    private let lock = PlainLock()
    private var set = false

    /// True once cancelled.
    var isCancelled: Bool { lock.withLock { set } }

    /// Cancels.
    func cancel() { lock.withLock { set = true } }

    /// Throws `CancellationError` once cancelled (the SDK then sends no response, as MCP requires).
    func check() throws(CancellationError) {
        if isCancelled { throw CancellationError() }
    }
}

/// One call of a tool: its validated arguments, where to report progress, when to stop.
struct ToolCall: Sendable {
    var arguments: [String: Value]
    /// `progress(done, total, message)`: forwarded as `notifications/progress` when the client
    /// gave a progress token, dropped otherwise. Callable from any thread.
    var progress: @Sendable (Double, Double?, String?) -> Void = { _, _, _ in }
    var cancel = CancelFlag()

    func string(_ key: String) -> String? { arguments[key]?.stringValue }
    func bool(_ key: String) -> Bool? { arguments[key]?.boolValue }
    func int(_ key: String) -> Int? {
        switch arguments[key] {
        case .int(let i)?: return i
        case .double(let d)? where d.rounded() == d && abs(d) < 1e15: return Int(d)
        default: return nil
        }
    }
    func double(_ key: String) -> Double? {
        switch arguments[key] {
        case .int(let i)?: return Double(i)
        case .double(let d)?: return d
        default: return nil
        }
    }
    func strings(_ key: String) -> [String]? { arguments[key]?.arrayValue?.compactMap(\.stringValue) }
}

/// What a tool returns: the structured content (validated against its output schema) and the
/// text shown to a model (JSON of the structured content unless the tool renders text).
struct ToolOutput: Sendable {
    var structured: Value
    var text: String
    /// True when `structured` was already checked against the tool's output schema (an output
    /// a tool memoizes, like ``KernelInfoMemo``'s); the toolbox then does not check it again.
    var schemaChecked = false

    /// Output whose text is the structured content as JSON.
    init(_ structured: Value) {
        self.structured = structured
        self.text = ToolOutput.json(structured)
    }

    init(structured: Value, text: String) {
        self.structured = structured
        self.text = text
    }

    /// Encodes a Codable value as the tool's structured content, through the same encoder
    /// settings as the CLI's JSON (ISO-8601 dates, sorted keys).
    static func encode<T: Encodable>(_ value: T) throws -> Value {
        try PlainJSON.decode(ToolOutput.encoder.encode(value))
    }

    /// Sorted keys, ISO-8601 dates, non-finite numbers as strings: the report files' settings.
    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.dateEncodingStrategy = .iso8601
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    static func json(_ value: Value) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: e.encode(value), as: UTF8.self)) ?? "\(value)"
    }
}

/// A tool the server offers.
struct MCPToolDefinition: Sendable {
    /// The SDK description (name, schemas, annotations) listed by `tools/list`.
    var tool: Tool
    /// Cheap tools run on the calling task; the others on a thread of their own, so that a
    /// benchmark never occupies the (2-thread) cooperative pool that reads cancellations.
    var runsInline = false
    /// The work. Throws `MCPError.invalidParams` for arguments the schema cannot express,
    /// `CancellationError` when cancelled; any other error becomes a result with `isError`.
    var run: @Sendable (ToolCall) throws -> ToolOutput

    var name: String { tool.name }
}

/// Calls in flight: lets the server wait for them at end of input and cancel them all when the
/// client has gone. Thread-safe (an actor).
actor InFlightCalls {
    private var flags: [UInt64: CancelFlag] = [:]
    private var next: UInt64 = 0
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    /// Completed calls and their latencies (for `kestrel status --watch`-style counters).
    private(set) var completed = 0

    func begin(_ flag: CancelFlag) -> UInt64 {
        next += 1
        flags[next] = flag
        return next
    }

    func end(_ id: UInt64) {
        flags[id] = nil
        completed += 1
        if flags.isEmpty {
            for w in idleWaiters { w.resume() }
            idleWaiters.removeAll()
        }
    }

    var count: Int { flags.count }

    /// Cancels every call in flight.
    func cancelAll() { for f in flags.values { f.cancel() } }

    /// Returns once no call is in flight.
    func waitIdle() async {
        if flags.isEmpty { return }
        await withCheckedContinuation { idleWaiters.append($0) }
    }
}

/// The tools of `kestrel mcp` and their dispatch: schema validation of the arguments, running
/// on a worker thread with progress and cancellation, output validation.
struct MCPToolbox: Sendable {
    let definitions: [MCPToolDefinition]

    init(_ definitions: [MCPToolDefinition]) {
        self.definitions = definitions
    }

    func definition(named name: String) -> MCPToolDefinition? { definitions.first { $0.name == name } }

    /// Validates and runs one call.
    /// - Throws: `MCPError.invalidParams` (-32602) for an unknown tool or arguments violating
    ///   its input schema; `CancellationError` when cancelled.
    func call(_ name: String, arguments: [String: Value]?, progress: @escaping @Sendable (Double, Double?, String?) -> Void,
              inFlight: InFlightCalls) async throws -> CallTool.Result {
        guard let definition = definition(named: name) else {
            throw MCPError.invalidParams("Unknown tool: '\(name)' (tools: \(definitions.map(\.name).joined(separator: ", ")))")
        }
        let args = arguments ?? [:]
        if let problem = JSONSchemaCheck.violation(of: .object(args), against: definition.tool.inputSchema, at: "arguments") {
            throw MCPError.invalidParams("Invalid arguments for \(name): \(problem)")
        }
        let call = ToolCall(arguments: args, progress: progress)
        let id = await inFlight.begin(call.cancel)
        defer { Task { await inFlight.end(id) } }
        let result: Result<ToolOutput, any Error>
        if definition.runsInline {
            result = Result { try definition.run(call) }
        } else {
            result = await withTaskCancellationHandler {
                await Self.onThread(name) { try definition.run(call) }
            } onCancel: {
                call.cancel.cancel()
            }
        }
        switch result {
        case .success(let output):
            if !output.schemaChecked, let schema = definition.tool.outputSchema,
               let problem = JSONSchemaCheck.violation(of: output.structured, against: schema, at: "structuredContent") {
                // A bug of ours, not the caller's: say so instead of sending a result the client rejects.
                throw MCPError.internalError("\(name) produced output outside its schema: \(problem)")
            }
            // `Optional(…)` picks the memberwise initializer: the generic one would round-trip the
            // value through JSON and the SDK's `Value` decoder (a regular expression per string).
            return CallTool.Result(content: [.text(text: output.text, annotations: nil, _meta: nil)],
                                   structuredContent: Optional(output.structured), isError: false)
        case .failure(let error):
            if error is CancellationError || call.cancel.isCancelled { throw CancellationError() }
            if let e = error as? MCPError, case .invalidParams = e { throw e }
            return CallTool.Result(content: [.text(text: "\(name) failed: \(error)", annotations: nil, _meta: nil)], isError: true)
        }
    }

    /// Runs `body` on a new thread and awaits its result without blocking a pool thread.
    static func onThread<T: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> T) async -> Result<T, any Error> {
        await withCheckedContinuation { (c: CheckedContinuation<Result<T, any Error>, Never>) in
            let thread = Thread { c.resume(returning: Result { try body() }) }
            thread.name = "kestrel-mcp-\(name)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }
}

/// Builders for the JSON Schemas of the tools.
enum Schema {
    static func object(_ properties: [String: Value], required: [String] = [], additional: Bool = false,
                       description: String? = nil) -> Value {
        var o: [String: Value] = ["type": "object", "properties": .object(properties),
                                  "additionalProperties": .bool(additional)]
        if !required.isEmpty { o["required"] = .array(required.map { .string($0) }) }
        if let description { o["description"] = .string(description) }
        return .object(o)
    }

    static func string(_ description: String, enum options: [String]? = nil, minLength: Int? = nil, maxLength: Int? = nil) -> Value {
        var o: [String: Value] = ["type": "string", "description": .string(description)]
        if let options { o["enum"] = .array(options.map { .string($0) }) }
        if let minLength { o["minLength"] = .int(minLength) }
        if let maxLength { o["maxLength"] = .int(maxLength) }
        return .object(o)
    }

    static func integer(_ description: String, minimum: Int? = nil, maximum: Int? = nil) -> Value {
        var o: [String: Value] = ["type": "integer", "description": .string(description)]
        if let minimum { o["minimum"] = .int(minimum) }
        if let maximum { o["maximum"] = .int(maximum) }
        return .object(o)
    }

    static func number(_ description: String, minimum: Double? = nil, maximum: Double? = nil) -> Value {
        var o: [String: Value] = ["type": "number", "description": .string(description)]
        if let minimum { o["minimum"] = .double(minimum) }
        if let maximum { o["maximum"] = .double(maximum) }
        return .object(o)
    }

    static func boolean(_ description: String) -> Value { .object(["type": "boolean", "description": .string(description)]) }

    static func array(_ items: Value, description: String, minItems: Int? = nil, maxItems: Int? = nil) -> Value {
        var o: [String: Value] = ["type": "array", "items": items, "description": .string(description)]
        if let minItems { o["minItems"] = .int(minItems) }
        if let maxItems { o["maxItems"] = .int(maxItems) }
        return .object(o)
    }

    /// Any JSON of the given types (e.g. `["number", "null"]`).
    static func any(_ types: [String]) -> Value { .object(["type": .array(types.map { .string($0) })]) }

    /// An object whose properties are not listed (free-form metadata).
    static let freeObject: Value = .object(["type": "object"])
}
