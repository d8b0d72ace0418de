import CRabbitMQ
import Foundation

/// The basic-class properties of a message that this suite uses.
public struct AMQPProperties: Sendable, Equatable {
    /// The body's MIME type (`content_type`), e.g. `application/json`.
    public var contentType: String?
    /// The body's encoding (`content_encoding`), e.g. `gzip`.
    public var contentEncoding: String?
    /// Application headers.
    public var headers: AMQPTable = [:]
    /// Persistent messages in durable queues survive a broker restart.
    public var persistent: Bool = false
    /// The message priority, for queues declared with `x-max-priority`.
    public var priority: UInt8?
    /// Pairs a reply with its request (set by `call` and `serveRPC`).
    public var correlationID: String?
    /// Where a reply goes: a queue name, or direct reply-to's pseudo-queue.
    public var replyTo: String?
    /// Per-message TTL in milliseconds, as the broker expects it (a decimal string).
    public var expiration: String?
    /// An application-chosen message id.
    public var messageID: String?
    /// When the message was made; whole seconds on the wire.
    public var timestamp: Date?
    /// An application-chosen message type name.
    public var type: String?
    /// The publishing application's id.
    public var appID: String?

    /// Properties; those not given here start unset and can be assigned afterwards.
    /// - Parameters:
    ///   - contentType: The body's MIME type.
    ///   - headers: Application headers.
    ///   - persistent: Whether the message survives a broker restart (in a durable queue).
    ///   - correlationID: Pairs a reply with its request.
    ///   - replyTo: Where a reply goes.
    ///   - messageID: An application-chosen id.
    ///   - type: An application-chosen type name.
    ///   - expiration: Per-message TTL in milliseconds, as a decimal string.
    public init(contentType: String? = nil, headers: AMQPTable = [:], persistent: Bool = false,
                correlationID: String? = nil, replyTo: String? = nil, messageID: String? = nil,
                type: String? = nil, expiration: String? = nil) {
        self.contentType = contentType
        self.headers = headers
        self.persistent = persistent
        self.correlationID = correlationID
        self.replyTo = replyTo
        self.messageID = messageID
        self.type = type
        self.expiration = expiration
    }
}

/// A message to publish, or the content of a delivery.
public struct AMQPMessage: Sendable, Equatable {
    /// The payload.
    public var body: Data
    /// The basic-class properties.
    public var properties: AMQPProperties

    /// A message with a binary body.
    /// - Parameters:
    ///   - body: The payload.
    ///   - properties: The properties (none set by default).
    public init(body: Data, properties: AMQPProperties = AMQPProperties()) {
        self.body = body
        self.properties = properties
    }

    /// A message whose body is `text` in UTF-8.
    /// - Parameters:
    ///   - text: The payload.
    ///   - properties: The properties (none set by default).
    public init(_ text: String, properties: AMQPProperties = AMQPProperties()) {
        self.init(body: Data(text.utf8), properties: properties)
    }
}

extension AMQPProperties {
    /// The C form; strings are copied into `arena`, which must outlive the call that uses it.
    func cProperties(in arena: CArena) -> amqp_basic_properties_t {
        var p = plainCProperties()
        var flags: UInt32 = 0
        func set(_ value: String?, _ flag: Int32, _ field: inout amqp_bytes_t) {
            guard let value else { return }
            field = arena.bytes(value)
            flags |= UInt32(flag)
        }
        set(contentType, AMQPFlag.contentType, &p.content_type)
        set(contentEncoding, AMQPFlag.contentEncoding, &p.content_encoding)
        set(correlationID, AMQPFlag.correlationID, &p.correlation_id)
        set(replyTo, AMQPFlag.replyTo, &p.reply_to)
        set(expiration, AMQPFlag.expiration, &p.expiration)
        set(messageID, AMQPFlag.messageID, &p.message_id)
        set(type, AMQPFlag.type, &p.type)
        set(appID, AMQPFlag.appID, &p.app_id)
        if !headers.isEmpty {
            p.headers = arena.table(headers)
            flags |= UInt32(AMQPFlag.headers)
        }
        p._flags |= flags
        return p
    }

    /// Whether any property needs memory of its own in C (strings or headers).
    var needsArena: Bool {
        contentType != nil || contentEncoding != nil || correlationID != nil || replyTo != nil || expiration != nil
            || messageID != nil || type != nil || appID != nil || !headers.isEmpty
    }

    /// The C form of properties that hold no strings: delivery mode, priority, timestamp.
    func plainCProperties() -> amqp_basic_properties_t {
        var p = amqp_basic_properties_t()
        if persistent {
            p.delivery_mode = 2
            p._flags |= UInt32(AMQPFlag.deliveryMode)
        }
        if let priority {
            p.priority = priority
            p._flags |= UInt32(AMQPFlag.priority)
        }
        if let timestamp {
            p.timestamp = UInt64(max(0, timestamp.timeIntervalSince1970))
            p._flags |= UInt32(AMQPFlag.timestamp)
        }
        return p
    }

    /// Copies properties decoded by rabbitmq-c.
    init(amqp p: amqp_basic_properties_t) {
        let flags = p._flags
        func get(_ flag: Int32, _ field: amqp_bytes_t) -> String? {
            flags & UInt32(flag) != 0 ? String(amqp: field) : nil
        }
        contentType = get(AMQPFlag.contentType, p.content_type)
        contentEncoding = get(AMQPFlag.contentEncoding, p.content_encoding)
        correlationID = get(AMQPFlag.correlationID, p.correlation_id)
        replyTo = get(AMQPFlag.replyTo, p.reply_to)
        expiration = get(AMQPFlag.expiration, p.expiration)
        messageID = get(AMQPFlag.messageID, p.message_id)
        type = get(AMQPFlag.type, p.type)
        appID = get(AMQPFlag.appID, p.app_id)
        headers = flags & UInt32(AMQPFlag.headers) != 0 ? AMQPTable(amqp: p.headers) : [:]
        persistent = flags & UInt32(AMQPFlag.deliveryMode) != 0 && p.delivery_mode == 2
        priority = flags & UInt32(AMQPFlag.priority) != 0 ? p.priority : nil
        timestamp = flags & UInt32(AMQPFlag.timestamp) != 0 ? Date(timeIntervalSince1970: Double(p.timestamp)) : nil
    }
}

/// Property presence flags (amqp_framing.h); spelled out because Swift does not import the macros.
enum AMQPFlag {
    static let contentType: Int32 = 1 << 15
    static let contentEncoding: Int32 = 1 << 14
    static let headers: Int32 = 1 << 13
    static let deliveryMode: Int32 = 1 << 12
    static let priority: Int32 = 1 << 11
    static let correlationID: Int32 = 1 << 10
    static let replyTo: Int32 = 1 << 9
    static let expiration: Int32 = 1 << 8
    static let messageID: Int32 = 1 << 7
    static let timestamp: Int32 = 1 << 6
    static let type: Int32 = 1 << 5
    static let appID: Int32 = 1 << 3
}
