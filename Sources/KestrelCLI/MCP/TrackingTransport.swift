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

    func received(_ data: Data) {
        for m in Self.messages(data) {
            if m.hasMethod, let id = m.id?.key {
                ids[id] = MonotonicClock.now()
            } else if m.method == CancelledNotification.name, let id = m.cancelledRequest?.key {
                remove(id)
            }
        }
    }

    func sent(_ data: Data) {
        for m in Self.messages(data) where !m.hasMethod && (m.hasResult || m.hasError) {
            guard let id = m.id?.key, let start = ids[id] else { continue }
            onAnswered?(MonotonicClock.elapsed(since: start), m.hasError)
            remove(id)
        }
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

    private static func messages(_ data: Data) -> [JSONRPCEnvelope] {
        switch try? JSONRPCEnvelope.parse(data) {
        case .object(let e)?: return [e]
        case .batch(let items)?: return items.compactMap { $0 }
        case .other?, nil: return []
        }
    }
}

/// Wraps a transport to keep ``PendingRequests`` up to date: every message read and every message
/// sent passes through it unchanged.
actor TrackingTransport: Transport {
    nonisolated let logger: Logger
    private let inner: any Transport
    let pending: PendingRequests

    init(_ inner: any Transport, pending: PendingRequests = PendingRequests(),
         logger: Logger = Logger(label: "kestrel.mcp.transport")) {
        self.inner = inner
        self.pending = pending
        self.logger = logger
    }

    func connect() async throws { try await inner.connect() }

    func disconnect() async { await inner.disconnect() }

    func send(_ data: Data) async throws {
        do {
            try await inner.send(data)
            await pending.sent(data)
        } catch {
            await pending.clientGone()
            throw error
        }
    }

    func receive() -> AsyncThrowingStream<Data, Swift.Error> {
        let (stream, continuation) = AsyncThrowingStream<Data, Swift.Error>.makeStream()
        let pending = self.pending
        let task = Task {
            do {
                for try await data in await inner.receive() {
                    // Recorded before the server sees it: its answer cannot come first.
                    await pending.received(data)
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
