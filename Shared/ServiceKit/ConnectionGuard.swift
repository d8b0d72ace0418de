import HummingbirdCore
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import Synchronization

/// Limits on the HTTP server's TCP connections, before HTTP sees them: a connection must get
/// its first response (an answer, or the WebSocket upgrade) within `firstRequestTimeout` of
/// being accepted, or it is closed; and one client address holds at most
/// `maxConnectionsPerAddress` connections at once. A first request head longer than
/// `maxFirstHeadBytes` is answered 431 and closed (NIO's own parser limit is 80 KiB, and behind
/// the WebSocket upgrade handler its error is never answered). Idle keep-alive connections after a
/// response are Hummingbird's own idle timeout's; quiet WebSockets are the relay's.
public struct ConnectionLimits: Sendable, Equatable {
    public var firstRequestTimeout: Duration
    /// 0: no cap.
    public var maxConnectionsPerAddress: Int
    /// The request line and headers of the first request, up to the blank line.
    public var maxFirstHeadBytes: Int

    public init(firstRequestTimeout: Duration = .seconds(10), maxConnectionsPerAddress: Int = 200, maxFirstHeadBytes: Int = 64 * 1024) {
        self.firstRequestTimeout = firstRequestTimeout
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
        self.maxFirstHeadBytes = maxFirstHeadBytes
    }
}

/// The open connections per client address, shared by every connection of one server.
final class ConnectionCounts: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    /// Counts a new connection; false (and not counted) if the address already has `limit`.
    func admit(_ address: String, limit: Int) -> Bool {
        counts.withLock { counts in
            let current = counts[address, default: 0]
            guard limit == 0 || current < limit else { return false }
            counts[address] = current + 1
            return true
        }
    }

    func release(_ address: String) {
        counts.withLock { counts in
            let left = counts[address, default: 1] - 1
            counts[address] = left > 0 ? left : nil
        }
    }
}

/// Says why connections were closed, once per cause and minute with a count, instead of a line
/// per connection (20,000 idle connections would be 20,000 lines).
final class ClosureLog: Sendable {
    private struct Cause {
        var count = 0
        var loggedAt: ContinuousClock.Instant?
    }

    private let causes = Mutex<[String: Cause]>([:])
    let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    func closed(_ cause: String, _ sentence: String) {
        Counter(label: "cobrowse_http_connections_closed_total", dimensions: [("reason", cause)]).increment()
        let now = ContinuousClock.now
        let count: Int? = causes.withLock { causes in
            var entry = causes[cause, default: Cause()]
            entry.count += 1
            defer { causes[cause] = entry }
            if let last = entry.loggedAt, now - last < .seconds(60) { return nil }
            entry.loggedAt = now
            defer { entry.count = 0 }
            return entry.count
        }
        if let count { logger.warning("\(sentence)", metadata: ["connections": "\(count)", "reason": "\(cause)"]) }
    }
}

/// The channel handler that enforces `ConnectionLimits`; first in every connection's pipeline (after TLS, when served).
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = NIOAny

    private let limits: ConnectionLimits
    private let counts: ConnectionCounts
    private let log: ClosureLog
    private var address: String?
    private var deadline: Scheduled<Void>?
    private var head = FirstHeadScanner()
    /// The first head was too long (431) or unparsable (400) and answered: what still arrives is dropped.
    private var refused = false
    /// This handler's context, for answering on the socket when a later handler reports an
    /// unparsable first request (`answerUnparsableRequest`).
    private var context: ChannelHandlerContext?

    init(limits: ConnectionLimits, counts: ConnectionCounts, log: ClosureLog) {
        self.limits = limits
        self.counts = counts
        self.log = log
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard address == nil else { return }
        let peer = context.channel.remoteAddress?.ipAddress ?? "unknown"
        guard counts.admit(peer, limit: limits.maxConnectionsPerAddress) else {
            log.closed("too-many-connections", "connections refused: their address already holds MAX_CONNECTIONS_PER_ADDRESS")
            context.close(promise: nil)
            return
        }
        address = peer
        let timeout = TimeAmount(limits.firstRequestTimeout)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: timeout) { [log] in
            log.closed("no-request", "connections closed: no request within HTTP_FIRST_REQUEST_TIMEOUT")
            bound.value.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if refused { return }
        guard deadline != nil, !head.ended else { return context.fireChannelRead(data) }
        head.scan(unwrapInboundIn(data).readableBytesView)
        // Counted up to the blank line, so a whole oversized head in one read is refused too.
        guard head.bytes > limits.maxFirstHeadBytes else { return context.fireChannelRead(data) }
        refuse(context, status: "431 Request Header Fields Too Large", cause: "head-too-large",
               sentence: "connections closed: a first request head over \(limits.maxFirstHeadBytes) bytes",
               body: "request head over \(limits.maxFirstHeadBytes) bytes\n")
    }

    /// NIO's parser refused the first request, and no handler behind it will answer: the
    /// WebSocket upgrade pipeline fails its upgrade without a response, so the client would
    /// wait for the first-request deadline. Answered 400 here, on the socket, unless something
    /// was answered already.
    func answerUnparsableRequest() {
        guard let context, !refused, deadline != nil else { return }
        refuse(context, status: "400 Bad Request", cause: "unparsable-request",
               sentence: "connections closed: a first request NIO's HTTP parser refused", body: "malformed HTTP request\n")
    }

    /// Answers `status` with a short text `body` straight onto the socket and closes.
    private func refuse(_ context: ChannelHandlerContext, status: String, cause: String, sentence: String, body: String) {
        deadline?.cancel()
        deadline = nil
        refused = true
        log.closed(cause, sentence)
        var answer = context.channel.allocator.buffer(capacity: 160)
        answer.writeString("HTTP/1.1 \(status)\r\ncontent-type: text/plain; charset=utf-8\r\n")
        answer.writeString("content-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n\(body)")
        // Closing with the rest of the head unread would make the kernel reset the connection,
        // and a reset can discard the answer before the client reads it: end our side, read
        // and drop what still comes, close when the client does (or after a grace period).
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(NIOAny(answer)).whenComplete { _ in bound.value.close(mode: .output, promise: nil) }
        context.eventLoop.scheduleTask(in: .seconds(2)) { bound.value.close(promise: nil) }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // The server answered (a response, or the switch to WebSocket): the request came in time.
        if let deadline {
            deadline.cancel()
            self.deadline = nil
        }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        if let address { counts.release(address) }
        address = nil
        context.fireChannelInactive()
    }
}

/// A server child channel with `ConnectionGuardHandler` in front of another's pipeline.
struct GuardedChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    let limits: ConnectionLimits
    let counts: ConnectionCounts
    let log: ClosureLog
    /// The base pipeline leaves a first request NIO cannot parse unanswered (the WebSocket
    /// upgrade channel's): the guard answers it 400.
    var answersUnparsableFirstRequest = false

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ConnectionGuardHandler(limits: limits, counts: counts, log: log))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }.flatMapThrowing { value in
            if answersUnparsableFirstRequest { try channel.pipeline.syncOperations.addHandler(UnparsableRequestReporter()) }
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// Last in the pipeline: passes everything on, and tells the guard when NIO's HTTP parser
/// refused what the client sent.
final class UnparsableRequestReporter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError, let guardHandler = try? context.pipeline.syncOperations.handler(type: ConnectionGuardHandler.self) {
            guardHandler.answerUnparsableRequest()
        }
        context.fireErrorCaught(error)
    }
}

extension GuardedChannel: HTTPChannelHandler where Base: HTTPChannelHandler {
    var responder: HTTPChannelHandler.Responder { base.responder }
}

/// Finds the blank line that ends the first request head in bytes that arrive in pieces.
struct FirstHeadScanner {
    /// Bytes seen before the head ended.
    private(set) var bytes = 0
    private(set) var ended = false
    /// How much of "\r\n\r\n" the bytes seen so far end with.
    private var matched = 0

    private static let terminator: [UInt8] = Array("\r\n\r\n".utf8)

    mutating func scan(_ piece: ByteBufferView) {
        for byte in piece {
            bytes += 1
            if byte == Self.terminator[matched] {
                matched += 1
                if matched == Self.terminator.count {
                    ended = true
                    return
                }
            } else {
                matched = byte == 13 ? 1 : 0
            }
        }
    }
}
