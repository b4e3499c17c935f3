import Foundation
import Kestrel
import Logging
import MCP

/// Answers `tools/call` requests without the SDK's request dispatch.
///
/// The SDK's server decodes every request's parameters into its `Value` type, re-encodes and
/// re-decodes them for the typed handler, and turns the typed result back into a `Value` before
/// encoding the response; `Value`'s decoder matches a regular expression against every string
/// (a data-URL check), so a `kernel_info` call spent most of its time there. Here a call is
/// decoded once with Codable types (arguments as plain JSON), run by the same ``MCPToolbox``
/// (input schema check, worker thread, progress, cancellation, output schema check) and
/// answered with the SDK's own `Response<CallTool>` encoding. Everything else (initialize,
/// lists, resources, batches, a `tools/call` that is not a well-formed single request) still
/// goes to the SDK's `Server`.
///
/// Cancellation: `notifications/cancelled` naming a call answered here cancels its task (the
/// notification still reaches the SDK, which ignores ids it does not know).
///
/// Thread-safety: `take` is called by one reader (``TrackingTransport``); the table of running
/// calls is guarded by a lock, the calls themselves run as tasks.
final class ToolCallFastPath: @unchecked Sendable {  // `running` and `serial` guarded by `lock`
    /// Sends one response to the request `id`; `failed` marks an error response.
    typealias Respond = @Sendable (_ response: Data, _ id: JSONRPCEnvelope.ID, _ failed: Bool) async throws -> Void

    let toolbox: MCPToolbox
    let inFlight: InFlightCalls
    private let server: WeakServer
    private let logger: Logger
    private let onClientGone: @Sendable () -> Void
    private let lock = PlainLock()
    private var running: [String: (serial: UInt64, task: Task<Void, Never>)] = [:]
    private var serial: UInt64 = 0

    /// - Parameters:
    ///   - server: the SDK server, for progress notifications (sent through its transport, so
    ///     they stay ordered with the responses).
    ///   - onClientGone: called when a progress notification cannot be written.
    init(toolbox: MCPToolbox, inFlight: InFlightCalls, server: WeakServer, logger: Logger,
         onClientGone: @escaping @Sendable () -> Void) {
        self.toolbox = toolbox
        self.inFlight = inFlight
        self.server = server
        self.logger = logger
        self.onClientGone = onClientGone
    }

    /// Calls running now.
    var runningCount: Int { lock.withLock { running.count } }

    /// Starts answering `data` when it is a single `tools/call` request with a string or integer
    /// id and returns true; returns false for anything else (the SDK answers it). A
    /// cancellation notification for a call running here cancels it (and returns false).
    func take(_ data: Data, _ message: JSONRPCEnvelope, respond: @escaping Respond) -> Bool {
        guard message.hasMethod, let method = message.method else { return false }
        if method == CancelledNotification.name {
            if let key = message.cancelledRequest?.key { cancel(key) }
            return false
        }
        guard method == CallTool.name, message.version == "2.0", !message.hasResult, !message.hasError,
              let id = message.id, let key = id.key else { return false }
        lock.withLock {
            serial += 1
            let mine = serial
            // Created under the lock: the task's own removal waits for this insertion.
            let task = Task { [self] in
                await answer(data, id: id, respond: respond)
                finished(key, serial: mine)
            }
            running[key] = (mine, task)
        }
        return true
    }

    private func cancel(_ key: String) {
        let task = lock.withLock { running[key]?.task }
        task?.cancel()
    }

    private func finished(_ key: String, serial mine: UInt64) {
        lock.withLock {
            if running[key]?.serial == mine { running[key] = nil }
        }
    }

    private func answer(_ data: Data, id: JSONRPCEnvelope.ID, respond: Respond) async {
        let sdkID: ID
        switch id {
        case .string(let s): sdkID = .string(s)
        case .int(let i): sdkID = .number(i)
        case .invalid, .null: return  // not taken
        }
        let started = MonotonicClock.now()
        let response: Response<CallTool>
        do {
            try Task.checkCancellation()
            let request = try ToolCallRequest.decode(data)
            let result = try await MCPServerHost.runCall(request.name, arguments: request.arguments,
                                                         progressToken: request.progressToken, toolbox: toolbox,
                                                         inFlight: inFlight, server: server, logger: logger,
                                                         onClientGone: onClientGone)
            response = Response(id: sdkID, result: result)
        } catch is CancellationError {
            return  // a cancelled request gets no response (MCP cancellation)
        } catch {
            response = Response(id: sdkID, error: error as? MCPError ?? MCPError.internalError(error.localizedDescription))
        }
        let bytes: Data
        do {
            bytes = try Self.encoder.encode(response)
        } catch {
            // A result that cannot be encoded (a bug of ours): still an answer, with the reason.
            logger.error("tools/call response not encodable", metadata: ["error": "\(error)"])
            guard let fallback = try? Self.encoder.encode(Response<CallTool>(
                id: sdkID, error: .internalError("the result could not be encoded: \(error)"))) else { return }
            bytes = fallback
        }
        do {
            try await respond(bytes, id, { if case .failure = response.result { return true } else { return false } }())
        } catch {
            logger.notice("tools/call response not sent", metadata: ["error": "\(error)"])
        }
        logger.trace("tools/call answered", metadata: ["µs": "\(MonotonicClock.elapsed(since: started) / 1000)"])
    }

    /// The SDK's response encoding (sorted keys, slashes unescaped).
    private static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}

/// The parameters of one `tools/call` request, decoded without the SDK's `Value` decoder.
struct ToolCallRequest: Sendable, Equatable {
    var name: String
    /// nil when absent or null.
    var arguments: [String: Value]?
    /// `_meta.progressToken` when it is a string or an integer (anything else is ignored, as
    /// the SDK's `Metadata` does).
    var progressToken: ProgressToken?

    /// Decodes the request line `data`.
    /// - Throws: `MCPError.invalidParams` (-32602) naming what is wrong with `params`;
    ///   `MCPError.parseError` when `data` is not a JSON object.
    static func decode(_ data: Data) throws -> ToolCallRequest {
        let top: Top
        do {
            top = try JSONDecoder().decode(Top.self, from: data)
        } catch {
            throw MCPError.parseError("a tools/call request must be a JSON object")
        }
        return try top.request.get()
    }

    private enum TopKeys: String, CodingKey { case params }
    private enum ParamKeys: String, CodingKey { case name, arguments, _meta }
    private enum MetaKeys: String, CodingKey { case progressToken }

    private struct Top: Decodable {
        var request: Result<ToolCallRequest, MCPError>

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: TopKeys.self)
            request = Self.params(c)
        }

        private static func params(_ c: KeyedDecodingContainer<TopKeys>) -> Result<ToolCallRequest, MCPError> {
            guard let p = try? c.nestedContainer(keyedBy: ParamKeys.self, forKey: .params) else {
                return .failure(.invalidParams("tools/call needs params, an object with the tool's name"))
            }
            guard let name = try? p.decode(String.self, forKey: .name) else {
                return .failure(.invalidParams("params.name must be a string: the name of the tool"))
            }
            var arguments: [String: Value]?
            if p.contains(.arguments), (try? p.decodeNil(forKey: .arguments)) != true {
                guard let a = try? p.decode([String: PlainJSON].self, forKey: .arguments) else {
                    return .failure(.invalidParams("params.arguments must be an object"))
                }
                arguments = a.mapValues(\.value)
            }
            var token: ProgressToken?
            if p.contains(._meta), (try? p.decodeNil(forKey: ._meta)) != true {
                guard let m = try? p.nestedContainer(keyedBy: MetaKeys.self, forKey: ._meta) else {
                    return .failure(.invalidParams("params._meta must be an object"))
                }
                if let s = try? m.decode(String.self, forKey: .progressToken) {
                    token = .string(s)
                } else if let i = try? m.decode(Int.self, forKey: .progressToken) {
                    token = .integer(i)
                }
            }
            return .success(ToolCallRequest(name: name, arguments: arguments, progressToken: token))
        }
    }
}
