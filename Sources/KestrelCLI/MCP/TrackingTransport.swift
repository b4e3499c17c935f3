import Foundation
import Kestrel
import Logging
import MCP

/// Requests read but not answered yet, so that the server answers all of them before it stops at
/// end of input (the SDK's server ends its loop with the input and would drop the answers of
/// requests still running, e.g. `echo '{…initialize…}' | kestrel mcp`). A request leaves the set
/// when a response with its id is sent, when the client cancels it, or when the client is gone.
/// Thread-safe (an actor).
actor PendingRequests {
    /// Unanswered request ids and when each was read (MonotonicClock nanoseconds).
    private var ids: [String: UInt64] = [:]
    private var waiters: [CheckedContinuation<Void, Never>] = []
    /// Called with each answered request's latency (read → response written) and whether the
    /// response was an error: the hook of `kestrel status`'s server statistics.
    private let onAnswered: (@Sendable (_ nanoseconds: UInt64, _ failed: Bool) -> Void)?

    init(onAnswered: (@Sendable (_ nanoseconds: UInt64, _ failed: Bool) -> Void)? = nil) {
        self.onAnswered = onAnswered
    }

    /// Ids not answered yet.
    var count: Int { ids.count }

    func received(_ data: Data) { received(Self.messages(data)) }

    /// Records the messages of one line read (parsed once by the caller).
    func received(_ messages: [JSONRPCEnvelope]) {
        for m in messages {
            if m.hasMethod, let id = m.id?.key {
                ids[id] = MonotonicClock.now()
            } else if m.method == CancelledNotification.name, let id = m.cancelledRequest?.key {
                remove(id)
            }
        }
    }

    func sent(_ data: Data) {
        for m in Self.messages(data) where !m.hasMethod && (m.hasResult || m.hasError) {
            guard let id = m.id else { continue }
            answered(id, failed: m.hasError)
        }
    }

    /// Records the response to `id` as sent (for a sender that knows what it sent: no parse).
    func answered(_ id: JSONRPCEnvelope.ID, failed: Bool) {
        guard let key = id.key, let start = ids[key] else { return }
        onAnswered?(MonotonicClock.elapsed(since: start), failed)
        remove(key)
    }

    /// Nobody will read any answer.
    func clientGone() {
        ids.removeAll()
        wake()
    }

    /// Returns once every request read has been answered, cancelled or abandoned.
    func waitUntilAnswered() async {
        if ids.isEmpty { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func remove(_ id: String) {
        ids[id] = nil
        if ids.isEmpty { wake() }
    }

    private func wake() {
        for w in waiters { w.resume() }
        waiters.removeAll()
    }

    static func messages(_ data: Data) -> [JSONRPCEnvelope] {
        messages(try? JSONRPCEnvelope.parse(data))
    }

    static func messages(_ parsed: JSONRPCEnvelope.Parsed?) -> [JSONRPCEnvelope] {
        switch parsed {
        case .object(let e)?: return [e]
        case .batch(let items)?: return items.compactMap { $0 }
        case .other?, nil: return []
        }
    }
}

/// Wraps a transport to keep ``PendingRequests`` up to date: every message read and every message
/// sent passes through it unchanged. With a ``ToolCallFastPath``, the `tools/call` requests it
/// takes are answered there instead of being passed on to the SDK's server.
actor TrackingTransport: Transport {
    nonisolated let logger: Logger
    private let inner: any Transport
    let pending: PendingRequests
    private let fastPath: ToolCallFastPath?

    init(_ inner: any Transport, pending: PendingRequests = PendingRequests(), fastPath: ToolCallFastPath? = nil,
         logger: Logger = Logger(label: "kestrel.mcp.transport")) {
        self.inner = inner
        self.pending = pending
        self.fastPath = fastPath
        self.logger = logger
    }

    func connect() async throws { try await inner.connect() }

    func disconnect() async { await inner.disconnect() }

    // Nonisolated: only immutable state is used, and a response need not queue behind the
    // receive loop on this actor.
    nonisolated func send(_ data: Data) async throws {
        do {
            try await inner.send(data)
            await pending.sent(data)
        } catch {
            await pending.clientGone()
            throw error
        }
    }

    /// Sends a response whose id and kind the caller knows (``ToolCallFastPath``).
    nonisolated func respond(_ data: Data, to id: JSONRPCEnvelope.ID, failed: Bool) async throws {
        do {
            try await inner.send(data)
            await pending.answered(id, failed: failed)
        } catch {
            await pending.clientGone()
            throw error
        }
    }

    func receive() -> AsyncThrowingStream<Data, Swift.Error> {
        let (stream, continuation) = AsyncThrowingStream<Data, Swift.Error>.makeStream()
        let pending = self.pending, fastPath = self.fastPath
        let respond: ToolCallFastPath.Respond = { [weak self] data, id, failed in
            guard let self else { throw MCPError.connectionClosed }
            try await self.respond(data, to: id, failed: failed)
        }
        let task = Task {
            do {
                for try await data in await inner.receive() {
                    let parsed = try? JSONRPCEnvelope.parse(data)
                    // Recorded before the server sees it: its answer cannot come first.
                    await pending.received(PendingRequests.messages(parsed))
                    if let fastPath, case .object(let message)? = parsed, fastPath.take(data, message, respond: respond) {
                        continue
                    }
                    continuation.yield(data)
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}
