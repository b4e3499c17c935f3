import Foundation
import Kestrel
import Logging
import MCP

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `write(2)` (named apart from the methods called `write`).
@inline(__always)
func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    write(fd, buffer, count)
}

/// Writes whole messages to a file descriptor, one writer at a time (the server's responses and
/// the reader's own error answers share the descriptor). Thread-safe.
final class MessageWriter: @unchecked Sendable {
    private let fd: Int32
    private let lock = PlainLock()
    private var closed = false
    /// Called once, from the writing thread, when the peer has gone (EPIPE and the like).
    private let onPeerGone: @Sendable () -> Void

    init(fd: Int32, onPeerGone: @escaping @Sendable () -> Void = {}) {
        self.fd = fd
        self.onPeerGone = onPeerGone
    }

    /// True once a write failed because nobody reads the other end any more.
    var peerGone: Bool { lock.withLock { closed } }

    /// The descriptor written to.
    var descriptor: Int32 { fd }

    /// Records that the reader of the other end has gone (seen without writing, by poll).
    func markPeerGone() {
        let first = lock.withLock { () -> Bool in
            defer { closed = true }
            return !closed
        }
        if first { onPeerGone() }
    }

    /// Writes `message` and a newline.
    /// - Throws: `MCPError.connectionClosed` when the reader is gone; `MCPError.transportError` otherwise.
    func write(_ message: Data) throws {
        var framed = message
        framed.append(UInt8(ascii: "\n"))
        var gone = false
        let failure: Int32? = lock.withLock {
            if closed { return EPIPE }
            let rc: Int32? = framed.withUnsafeBytes { Self.writeAll(fd, $0) }
            if let rc, rc == EPIPE || rc == ECONNRESET || rc == EBADF {
                closed = true
                gone = true
            }
            return rc
        }
        if gone { onPeerGone() }
        guard let failure else { return }
        if failure == EPIPE || failure == ECONNRESET || failure == EBADF { throw MCPError.connectionClosed }
        throw MCPError.transportError(KestrelError.backendFailure(routine: "write", code: Int(failure)))
    }

    /// Writes every byte (retrying EINTR, waiting in poll on EAGAIN); nil on success, else errno.
    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32? {
        var offset = 0
        while offset < bytes.count {
            let n = posixWrite(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n > 0 {
                offset += n
                continue
            }
            let e = errno
            if n < 0 && e == EINTR { continue }
            if n < 0 && (e == EAGAIN || e == EWOULDBLOCK) {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&p, 1, -1)
                continue
            }
            return n == 0 ? EPIPE : e
        }
        return nil
    }
}

/// The stdio transport of `kestrel mcp` (the default; `--transport sdk` selects the SDK's).
///
/// A dedicated thread blocks in `poll(2)` on the input and a wake-up pipe, so a request is read
/// the moment it arrives (the SDK's `StdioTransport` retries a non-blocking read every 10 ms).
/// Lines are capped at ``maxLineBytes`` (memory stays bounded whatever the client sends), and
/// each line is screened by ``JSONRPCScreen`` before the server sees it: malformed JSON and
/// invalid requests are answered here with the JSON-RPC codes and ids of the specification.
///
/// Thread-safety: an actor; the reader thread only touches the framer it owns, the stream's
/// continuation and the thread-safe ``MessageWriter``.
actor BlockingStdioTransport: Transport {
    /// Default longest request line: 4 MiB (a token log passed inline fits; 10 MB is refused).
    static let defaultMaxLineBytes = 4 << 20

    nonisolated let logger: Logger
    /// Longest accepted line, bytes.
    nonisolated let maxLineBytes: Int
    private let input: Int32
    private let writer: MessageWriter
    private let stream: AsyncThrowingStream<Data, Swift.Error>
    private let continuation: AsyncThrowingStream<Data, Swift.Error>.Continuation
    private var wakeWrite: Int32 = -1
    private var connected = false
    private let counters = TransportCounters()

    /// - Parameters:
    ///   - input: descriptor requests are read from (standard input by default).
    ///   - output: descriptor responses are written to (standard output by default).
    ///   - maxLineBytes: longest accepted request line.
    ///   - onPeerGone: called once when a write finds that the client stopped reading.
    init(input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO, maxLineBytes: Int = defaultMaxLineBytes,
         logger: Logger = Logger(label: "kestrel.mcp.transport"), onPeerGone: @escaping @Sendable () -> Void = {}) {
        self.input = input
        self.writer = MessageWriter(fd: output, onPeerGone: onPeerGone)
        self.maxLineBytes = maxLineBytes
        self.logger = logger
        (stream, continuation) = AsyncThrowingStream<Data, Swift.Error>.makeStream()
    }

    /// Lines read, forwarded and answered here as errors so far.
    nonisolated var statistics: TransportCounters.Snapshot { counters.snapshot }

    func connect() async throws {
        guard !connected else { return }
        // A client that closes its end must give EPIPE, not kill the server.
        signal(SIGPIPE, SIG_IGN)
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            throw MCPError.transportError(KestrelError.backendFailure(routine: "pipe", code: Int(errno)))
        }
        wakeWrite = fds[1]
        connected = true
        let reader = Reader(input: input, wake: fds[0], maxLineBytes: maxLineBytes, writer: writer,
                            continuation: continuation, logger: logger, counters: counters)
        let thread = Thread { reader.run() }
        thread.name = "kestrel-mcp-stdin"
        thread.start()
    }

    func disconnect() async {
        guard connected else { return }
        connected = false
        var byte: UInt8 = 1
        _ = posixWrite(wakeWrite, &byte, 1)
        close(wakeWrite)
        continuation.finish()
    }

    // Nonisolated: the writer serializes writes itself, so a response costs no hop onto this actor.
    nonisolated func send(_ data: Data) async throws {
        try writer.write(data)
    }

    func receive() -> AsyncThrowingStream<Data, Swift.Error> { stream }

    /// The reader thread's state: owns the framer and the read end of the wake-up pipe.
    private final class Reader: @unchecked Sendable {
        let input: Int32
        let wake: Int32
        var framer: LineFramer
        let writer: MessageWriter
        let continuation: AsyncThrowingStream<Data, Swift.Error>.Continuation
        let logger: Logger
        let counters: TransportCounters

        init(input: Int32, wake: Int32, maxLineBytes: Int, writer: MessageWriter,
             continuation: AsyncThrowingStream<Data, Swift.Error>.Continuation, logger: Logger, counters: TransportCounters) {
            self.input = input
            self.wake = wake
            self.framer = LineFramer(maxLineBytes: maxLineBytes)
            self.writer = writer
            self.continuation = continuation
            self.logger = logger
            self.counters = counters
        }

        func run() {
            defer { close(wake) }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
            defer { buffer.deallocate() }
            var fds = [pollfd(fd: input, events: Int16(POLLIN), revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
            while true {
                fds[0].revents = 0
                fds[1].revents = 0
                if poll(&fds, 2, -1) < 0 {
                    if errno == EINTR { continue }
                    logger.error("poll failed", metadata: ["errno": "\(errno)"])
                    break
                }
                if fds[1].revents != 0 { return }  // disconnect(): the stream is already finished
                guard fds[0].revents != 0 else { continue }
                let n = read(input, buffer.baseAddress, buffer.count)
                if n < 0 {
                    if errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK { continue }
                    logger.error("read failed", metadata: ["errno": "\(errno)"])
                    break
                }
                if n == 0 { break }
                for event in framer.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) { handle(event) }
            }
            if let last = framer.finish() {
                logger.notice("end of input in the middle of a message")
                handle(last)
            }
            logger.debug("end of input")
            continuation.finish()
            watchOutput()
        }

        /// After end of input the calls in flight still answer; a client that closed its
        /// reading end too has gone, which poll reports on the output (POLLERR/POLLHUP) without
        /// a write: the calls are then cancelled instead of running for nobody.
        func watchOutput() {
            var fds = [pollfd(fd: writer.descriptor, events: 0, revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
            while true {
                fds[0].revents = 0
                fds[1].revents = 0
                if poll(&fds, 2, -1) < 0 {
                    if errno == EINTR { continue }
                    return
                }
                if fds[1].revents != 0 { return }
                if fds[0].revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 {
                    logger.notice("the client closed its end: cancelling the calls in flight")
                    writer.markPeerGone()
                    return
                }
            }
        }

        func handle(_ event: LineFramer.Event) {
            switch event {
            case .oversized(let bytes):
                counters.add(rejected: 1)
                logger.warning("request line over the cap dropped", metadata: ["bytes": "\(bytes)", "cap": "\(framer.maxLineBytes)"])
                reject(JSONRPCScreen.errorResponse(
                    id: .null, code: -32600,
                    message: "Invalid Request: line of \(bytes) bytes exceeds the limit of \(framer.maxLineBytes) bytes"))
            case .line(let bytes):
                switch JSONRPCScreen.screen(bytes) {
                case .message(let data):
                    counters.add(forwarded: 1)
                    continuation.yield(data)
                case .reject(let response):
                    counters.add(rejected: 1)
                    logger.info("invalid message answered with an error", metadata: ["bytes": "\(bytes.count)"])
                    reject(response)
                }
            }
        }

        func reject(_ response: Data) {
            do { try writer.write(response) } catch { logger.notice("could not answer an invalid message", metadata: ["error": "\(error)"]) }
        }
    }
}

/// Message counts of a transport. Thread-safe.
final class TransportCounters: @unchecked Sendable {
    /// A consistent reading.
    struct Snapshot: Sendable, Equatable {
        var forwarded = 0
        var rejected = 0
    }

    private let lock = PlainLock()
    private var value = Snapshot()

    func add(forwarded: Int = 0, rejected: Int = 0) {
        lock.withLock {
            value.forwarded += forwarded
            value.rejected += rejected
        }
    }

    var snapshot: Snapshot { lock.withLock { value } }
}
