import CRabbitMQ
import CRabbitMQShim
import Foundation

/// AMQP method ids (class << 16 | method); Swift does not import rabbitmq-c's cast macros.
enum AMQPMethod {
    static let connectionClose: UInt32 = 0x000A_0032
    static let connectionCloseOK: UInt32 = 0x000A_0033
    static let connectionBlocked: UInt32 = 0x000A_003C
    static let connectionUnblocked: UInt32 = 0x000A_003D
    static let channelClose: UInt32 = 0x0014_0028
    static let channelCloseOK: UInt32 = 0x0014_0029
    static let basicCancel: UInt32 = 0x003C_001E
    static let basicCancelOK: UInt32 = 0x003C_001F
    static let basicReturn: UInt32 = 0x003C_0032
    static let basicDeliver: UInt32 = 0x003C_003C
    static let basicAck: UInt32 = 0x003C_0050
    static let basicNack: UInt32 = 0x003C_0078
}

/// One open rabbitmq-c connection. Not thread-safe: only the connection's own thread touches it.
final class BrokerLink {
    let state: amqp_connection_state_t
    let configuration: AMQPConfiguration
    /// Set once the broker or the socket failed; the link is then only good for destroying.
    private(set) var failure: AMQPError?

    /// Opens the socket, negotiates TLS if asked, and logs in. Bounded by `connectionTimeout`.
    init(configuration: AMQPConfiguration) throws {
        self.configuration = configuration
        guard let state = amqp_new_connection() else {
            throw AMQPError.library(operation: "amqp_new_connection", reason: "out of memory")
        }
        self.state = state
        // If this throws, deinit still runs (every stored property is set) and destroys `state`.
        try open()
    }

    deinit {
        amqp_destroy_connection(state)
    }

    private var endpoint: String { configuration.endpointDescription }

    /// Connection setup, one at a time per process. rabbitmq-c is used from one thread per
    /// connection, but its setup path (socket creation with the TLS library's lazy global
    /// initialization, the handshake) is not documented as safe to run on several threads at
    /// once, and the test suite, which opens dozens of connections at the same moment, crashed
    /// inside librabbitmq once while two opens overlapped. Opens are rare; the lock costs nothing.
    private static let setup = NSLock()

    private func open() throws {
        Self.setup.lock()
        defer { Self.setup.unlock() }
        let config = configuration
        let socket: OpaquePointer?
        if let tls = config.tls {
            socket = amqp_ssl_socket_new(state)
            guard let socket else { throw AMQPError.tlsFailed(endpoint: endpoint, reason: "cannot create TLS socket") }
            amqp_ssl_socket_set_verify_peer(socket, tls.verifyPeer ? 1 : 0)
            amqp_ssl_socket_set_verify_hostname(socket, tls.verifyHostname ? 1 : 0)
            if let ca = tls.caCertificatePath {
                let status = amqp_ssl_socket_set_cacert(socket, ca)
                guard status == AMQP_STATUS_OK.rawValue else {
                    throw AMQPError.tlsFailed(endpoint: endpoint, reason: "cannot load CA certificate \(ca): \(Self.describe(status))")
                }
            }
            if let cert = tls.certificatePath, let key = tls.keyPath {
                let status = amqp_ssl_socket_set_key(socket, cert, key)
                guard status == AMQP_STATUS_OK.rawValue else {
                    throw AMQPError.tlsFailed(endpoint: endpoint, reason: "cannot load client certificate \(cert): \(Self.describe(status))")
                }
            }
        } else {
            socket = amqp_tcp_socket_new(state)
            guard socket != nil else { throw AMQPError.library(operation: "amqp_tcp_socket_new", reason: "out of memory") }
        }
        var timeout = timeval(config.connectionTimeout)
        let status = amqp_socket_open_noblock(socket, config.host, Int32(config.port), &timeout)
        guard status == AMQP_STATUS_OK.rawValue else {
            let reason = Self.describe(status) + (status == AMQP_STATUS_TIMEOUT.rawValue ? " after \(config.connectionTimeout)" : "")
            if status <= AMQP_STATUS_SSL_ERROR.rawValue && status >= AMQP_STATUS_SSL_CONNECTION_FAILED.rawValue {
                throw AMQPError.tlsFailed(endpoint: endpoint, reason: reason)
            }
            throw AMQPError.connectionFailed(endpoint: endpoint, reason: reason)
        }
        var handshake = timeval(config.connectionTimeout)
        amqp_set_handshake_timeout(state, &handshake)
        var rpcTimeout = timeval(config.operationTimeout)
        amqp_set_rpc_timeout(state, &rpcTimeout)

        let arena = CArena()
        let capabilities: AMQPTable = [
            "publisher_confirms": true, "consumer_cancel_notify": true, "basic.nack": true,
            "connection.blocked": true, "authentication_failure_close": true,
        ]
        var clientProperties = arena.table([
            "product": "cobrowse-amqp", "platform": "Swift",
            "capabilities": .table(capabilities),
            "connection_name": .string(config.connectionName ?? ProcessInfo.processInfo.processName),
        ])
        let heartbeatSeconds = Int32(config.heartbeat.components.seconds)
        let reply: amqp_rpc_reply_t
        if config.tls?.certificatePath != nil && config.user.isEmpty {
            reply = cobrowse_amqp_login_external(state, config.virtualHost, Int32(config.channelMax),
                                                 Int32(config.frameMax), heartbeatSeconds, &clientProperties, "")
        } else {
            reply = cobrowse_amqp_login_plain(state, config.virtualHost, Int32(config.channelMax),
                                              Int32(config.frameMax), heartbeatSeconds, &clientProperties,
                                              config.user, config.password)
        }
        if let error = Self.error(from: reply, operation: "login") {
            switch error {
            case let .connectionClosedByBroker(code, text) where code == 403 || code == 530:
                throw AMQPError.accessRefused(user: config.user, virtualHost: config.virtualHost, code: code, text: text)
            case let .library(_, reason):
                throw AMQPError.connectionFailed(endpoint: endpoint, reason: "AMQP handshake failed: \(reason)")
            default:
                throw error
            }
        }
    }

    var socketDescriptor: Int32 { amqp_get_sockfd(state) }

    /// Whether rabbitmq-c holds undecoded bytes or decoded frames that poll(2) cannot see.
    var hasBufferedInput: Bool { amqp_frames_enqueued(state) != 0 || amqp_data_in_buffer(state) != 0 }

    // MARK: Synchronous operations (bounded by the rpc timeout)

    /// Checks the reply of the last synchronous call; a channel or connection close is answered.
    func check(_ operation: String, channel: UInt16) throws {
        if let error = Self.error(from: amqp_get_rpc_reply(state), operation: operation) {
            acknowledgeClose(error, channel: channel)
            throw error
        }
    }

    /// Replies close-ok to a broker-initiated close so the channel (or connection) can be reused.
    private func acknowledgeClose(_ error: AMQPError, channel: UInt16) {
        switch error {
        case .channelClosedByBroker:
            var ok = amqp_channel_close_ok_t(dummy: 0)
            _ = amqp_send_method(state, channel, AMQPMethod.channelCloseOK, &ok)
        case .connectionClosedByBroker:
            var ok = amqp_connection_close_ok_t(dummy: 0)
            _ = amqp_send_method(state, 0, AMQPMethod.connectionCloseOK, &ok)
            failure = error
        case .connectionLost, .timedOut, .library:
            failure = error
        default:
            break
        }
    }

    func openChannel(_ channel: UInt16) throws {
        amqp_channel_open(state, channel)
        try check("channel.open(\(channel))", channel: channel)
    }

    func enableConfirms(_ channel: UInt16) throws {
        amqp_confirm_select(state, channel)
        try check("confirm.select", channel: channel)
    }

    func declare(_ exchange: ExchangeDeclaration, channel: UInt16, passive: Bool = false) throws {
        let arena = CArena()
        amqp_exchange_declare(state, channel, arena.bytes(exchange.name), arena.bytes(exchange.kind.rawValue),
                              passive ? 1 : 0, exchange.durable ? 1 : 0, exchange.autoDelete ? 1 : 0,
                              exchange.isInternal ? 1 : 0, arena.table(exchange.arguments))
        try check("exchange.declare(\(exchange.name))", channel: channel)
    }

    func declare(_ queue: QueueDeclaration, channel: UInt16, passive: Bool = false) throws -> DeclaredQueue {
        let arena = CArena()
        let ok = amqp_queue_declare(state, channel, arena.bytes(queue.name), passive ? 1 : 0, queue.durable ? 1 : 0,
                                    queue.exclusive ? 1 : 0, queue.autoDelete ? 1 : 0, arena.table(queue.arguments))
        try check("queue.declare(\(queue.name.isEmpty ? "<server-named>" : queue.name))", channel: channel)
        guard let ok else { throw AMQPError.library(operation: "queue.declare", reason: "no reply") }
        return DeclaredQueue(name: String(amqp: ok.pointee.queue), messageCount: Int(ok.pointee.message_count),
                             consumerCount: Int(ok.pointee.consumer_count))
    }

    func bind(_ binding: QueueBinding, channel: UInt16) throws {
        let arena = CArena()
        amqp_queue_bind(state, channel, arena.bytes(binding.queue), arena.bytes(binding.exchange),
                        arena.bytes(binding.routingKey), arena.table(binding.arguments))
        try check("queue.bind(\(binding.queue) ← \(binding.exchange) '\(binding.routingKey)')", channel: channel)
    }

    func unbind(_ binding: QueueBinding, channel: UInt16) throws {
        let arena = CArena()
        amqp_queue_unbind(state, channel, arena.bytes(binding.queue), arena.bytes(binding.exchange),
                          arena.bytes(binding.routingKey), arena.table(binding.arguments))
        try check("queue.unbind(\(binding.queue) ← \(binding.exchange) '\(binding.routingKey)')", channel: channel)
    }

    func deleteQueue(_ name: String, channel: UInt16) throws -> Int {
        let arena = CArena()
        let ok = amqp_queue_delete(state, channel, arena.bytes(name), 0, 0)
        try check("queue.delete(\(name))", channel: channel)
        return Int(ok?.pointee.message_count ?? 0)
    }

    func purgeQueue(_ name: String, channel: UInt16) throws -> Int {
        let arena = CArena()
        let ok = amqp_queue_purge(state, channel, arena.bytes(name))
        try check("queue.purge(\(name))", channel: channel)
        return Int(ok?.pointee.message_count ?? 0)
    }

    func deleteExchange(_ name: String, channel: UInt16) throws {
        let arena = CArena()
        amqp_exchange_delete(state, channel, arena.bytes(name), 0)
        try check("exchange.delete(\(name))", channel: channel)
    }

    func qos(prefetch: UInt16, channel: UInt16) throws {
        amqp_basic_qos(state, channel, 0, prefetch, 0)
        try check("basic.qos", channel: channel)
    }

    func consume(queue: String, tag: String, noAck: Bool, exclusive: Bool, arguments: AMQPTable, channel: UInt16) throws {
        let arena = CArena()
        amqp_basic_consume(state, channel, arena.bytes(queue), arena.bytes(tag), 0, noAck ? 1 : 0, exclusive ? 1 : 0,
                           arena.table(arguments))
        try check("basic.consume(\(queue))", channel: channel)
    }

    func cancel(tag: String, channel: UInt16) throws {
        let arena = CArena()
        amqp_basic_cancel(state, channel, arena.bytes(tag))
        try check("basic.cancel", channel: channel)
    }

    /// Closes the connection politely (bounded by the rpc timeout).
    func close() {
        guard failure == nil else { return }
        _ = amqp_connection_close(state, 200)
        failure = .closed
    }

    // MARK: Asynchronous operations (no reply awaited)

    /// Writes one message. Returns false and records the failure if the socket failed.
    /// The hot path: names are passed as borrowed C strings and properties built without the
    /// heap unless the message carries string properties or headers.
    func publish(_ message: AMQPMessage, exchange: String, routingKey: String, mandatory: Bool, channel: UInt16) -> Bool {
        let arena: CArena? = message.properties.needsArena ? CArena() : nil
        var properties = arena.map { message.properties.cProperties(in: $0) } ?? message.properties.plainCProperties()
        let status = exchange.withCString { exchangePointer in
            routingKey.withCString { keyPointer in
                message.body.withUnsafeBytes { body in
                    amqp_basic_publish(state, channel,
                                       amqp_bytes_t(len: strlen(exchangePointer), bytes: UnsafeMutableRawPointer(mutating: exchangePointer)),
                                       amqp_bytes_t(len: strlen(keyPointer), bytes: UnsafeMutableRawPointer(mutating: keyPointer)),
                                       mandatory ? 1 : 0, 0, &properties,
                                       amqp_bytes_t(len: body.count, bytes: UnsafeMutableRawPointer(mutating: body.baseAddress)))
                }
            }
        }
        return record(status, "basic.publish")
    }

    func ack(tag: UInt64, multiple: Bool, channel: UInt16) -> Bool {
        record(amqp_basic_ack(state, channel, tag, multiple ? 1 : 0), "basic.ack")
    }

    func nack(tag: UInt64, multiple: Bool, requeue: Bool, channel: UInt16) -> Bool {
        record(amqp_basic_nack(state, channel, tag, multiple ? 1 : 0, requeue ? 1 : 0), "basic.nack")
    }

    func reject(tag: UInt64, requeue: Bool, channel: UInt16) -> Bool {
        record(amqp_basic_reject(state, channel, tag, requeue ? 1 : 0), "basic.reject")
    }

    /// Answers a broker-initiated channel.close or connection.close seen as an incoming frame.
    func sendChannelCloseOK(_ channel: UInt16) {
        var ok = amqp_channel_close_ok_t(dummy: 0)
        _ = amqp_send_method(state, channel, AMQPMethod.channelCloseOK, &ok)
    }

    func sendConnectionCloseOK() {
        var ok = amqp_connection_close_ok_t(dummy: 0)
        _ = amqp_send_method(state, 0, AMQPMethod.connectionCloseOK, &ok)
    }

    private func record(_ status: Int32, _ operation: String) -> Bool {
        guard status >= 0 else {
            failure = failure ?? .connectionLost(reason: "\(operation): \(Self.describe(status))")
            return false
        }
        return true
    }

    /// Reads one frame without blocking (also sends a heartbeat when one is due).
    /// Returns nil when no complete frame is available.
    func nextFrame(into frame: inout amqp_frame_t) throws -> Bool {
        var zero = timeval(tv_sec: 0, tv_usec: 0)
        let status = amqp_simple_wait_frame_noblock(state, &frame, &zero)
        if status == AMQP_STATUS_OK.rawValue { return true }
        if status == AMQP_STATUS_TIMEOUT.rawValue { return false }
        let error = AMQPError.connectionLost(reason: Self.describe(status))
        failure = failure ?? error
        throw error
    }

    func releaseBuffers() {
        amqp_maybe_release_buffers(state)
    }

    func markFailed(_ error: AMQPError) {
        failure = failure ?? error
    }

    // MARK: Errors

    static func describe(_ status: Int32) -> String {
        String(cString: amqp_error_string2(status))
    }

    /// Turns a synchronous reply into an error, or nil for success.
    static func error(from reply: amqp_rpc_reply_t, operation: String) -> AMQPError? {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return nil
        case AMQP_RESPONSE_NONE:
            return .library(operation: operation, reason: "no reply (missing RPC reply type)")
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            let status = reply.library_error
            if status == AMQP_STATUS_TIMEOUT.rawValue {
                return .timedOut(operation: operation, after: .zero)
            }
            if status == AMQP_STATUS_CONNECTION_CLOSED.rawValue || status == AMQP_STATUS_SOCKET_ERROR.rawValue
                || status == AMQP_STATUS_HEARTBEAT_TIMEOUT.rawValue || status == AMQP_STATUS_SSL_ERROR.rawValue
            {
                return .connectionLost(reason: "\(operation): \(describe(status))")
            }
            return .library(operation: operation, reason: describe(status))
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            switch reply.reply.id {
            case AMQPMethod.connectionClose:
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                return .connectionClosedByBroker(code: Int(close.reply_code), text: String(amqp: close.reply_text))
            case AMQPMethod.channelClose:
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                return .channelClosedByBroker(code: Int(close.reply_code), text: String(amqp: close.reply_text))
            default:
                return .library(operation: operation, reason: "unexpected server method \(String(reply.reply.id, radix: 16))")
            }
        default:
            return .library(operation: operation, reason: "unknown reply type")
        }
    }
}

extension timeval {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
