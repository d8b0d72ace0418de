import Foundation

/// A message delivered to a consumer. Settle it with `ack`, `nack` or `reject` (unless the
/// consumer acknowledges automatically). Settling never blocks; if the connection has been
/// replaced since the delivery, settling does nothing and the broker redelivers the message.
public struct AMQPDelivery: Sendable {
    /// The body and properties.
    public let message: AMQPMessage
    /// The exchange the message was published to (empty for the default exchange).
    public let exchange: String
    /// The routing key it was published with.
    public let routingKey: String
    /// True when the broker delivered this message before (to this or another consumer).
    public let redelivered: Bool
    /// The broker's number for the delivery on its channel, used to settle it.
    public let deliveryTag: UInt64
    let settlement: Settlement.Target?

    /// The message's payload.
    public var body: Data { message.body }
    /// The message's properties.
    public var properties: AMQPProperties { message.properties }

    /// Acknowledges the delivery: the broker removes the message.
    /// - Parameter multiple: Whether to acknowledge every unsettled delivery of this channel up to
    ///   and including this one, too.
    public func ack(multiple: Bool = false) {
        settlement?.send(.ack(multiple: multiple), tag: deliveryTag)
    }

    /// Negative acknowledgement; `requeue: false` dead-letters the message if its queue has a DLX.
    /// - Parameters:
    ///   - requeue: Whether the broker puts the message back in its queue.
    ///   - multiple: Whether to nack every unsettled delivery of this channel up to and including
    ///     this one, too.
    public func nack(requeue: Bool, multiple: Bool = false) {
        settlement?.send(.nack(multiple: multiple, requeue: requeue), tag: deliveryTag)
    }

    /// Rejects this one delivery (like `nack` without `multiple`).
    /// - Parameter requeue: Whether the broker puts the message back in its queue; if not, it is
    ///   dead-lettered when its queue has a dead-letter exchange, and dropped otherwise.
    public func reject(requeue: Bool) {
        settlement?.send(.reject(requeue: requeue), tag: deliveryTag)
    }
}

/// An ack, nack or reject on its way to the connection thread.
struct Settlement {
    enum Kind {
        case ack(multiple: Bool)
        case nack(multiple: Bool, requeue: Bool)
        case reject(requeue: Bool)
    }

    /// Which channel incarnation a delivery came from; tags are meaningless on any other.
    struct Target: Sendable {
        let driver: ConnectionDriver
        let channel: UInt16
        let epoch: UInt64

        func send(_ kind: Kind, tag: UInt64) {
            driver.submit(.settle(Settlement(kind: kind, tag: tag, channel: channel, epoch: epoch)))
        }
    }

    let kind: Kind
    let tag: UInt64
    let channel: UInt16
    let epoch: UInt64
}

/// The deliveries of one consumer, in order. Iteration ends with an error if the broker
/// cancels the consumer; recovery after a reconnect is transparent.
public struct AMQPConsumer: AsyncSequence, Sendable {
    /// Each element is one delivery.
    public typealias Element = AMQPDelivery
    let stream: AsyncThrowingStream<AMQPDelivery, any Error>
    let driver: ConnectionDriver
    /// The consumer tag, unique within the connection.
    public let tag: String
    /// The queue consumed, by the name the caller gave.
    public let queue: String

    /// The iterator over the deliveries; it throws `AMQPError.consumerCancelled` if the broker
    /// cancels the consumer, and `closed` (or the error that ended it) when the connection closes.
    /// - Returns: An iterator over the one stream of deliveries (iterate from one task only).
    public func makeAsyncIterator() -> AsyncThrowingStream<AMQPDelivery, any Error>.AsyncIterator {
        stream.makeAsyncIterator()
    }

    /// Stops deliveries; unsettled ones go back to the queue when the channel closes. While the
    /// connection is down the consumer is forgotten at once (its channel went with the
    /// connection), so the reconnect does not start it again.
    public func cancel() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            driver.submit(Self.cancelCommand(tag: tag) { continuation.resume() })
        }
    }

    /// The command that cancels consumer `tag`, then calls `done`.
    static func cancelCommand(tag: String, done: @escaping @Sendable () -> Void = {}) -> Command {
        .operation(Operation(name: "basic.cancel", deadline: .now + .seconds(10),
                             perform: { driver in
                                 driver.cancelConsumer(tag: tag)
                                 done()
                             },
                             fail: { _ in done() }, runsWithoutBroker: true))
    }
}

/// A mandatory message published without a confirm that the broker could not route to any
/// queue (basic.return), handed back so its publisher can hold it and try again.
public struct AMQPReturnedMessage: Sendable {
    /// The returned message, as published.
    public let message: AMQPMessage
    /// `AMQPError.returned`, with the broker's reply code and text, exchange and routing key.
    public let error: AMQPError

    /// The exchange it was published to.
    public var exchange: String {
        if case let .returned(_, _, exchange, _) = error { return exchange }
        return ""
    }

    /// The routing key it was published with.
    public var routingKey: String {
        if case let .returned(_, _, _, routingKey) = error { return routingKey }
        return ""
    }
}
