import Foundation

/// A message delivered to a consumer. Settle it with `ack`, `nack` or `reject` (unless the
/// consumer acknowledges automatically). Settling never blocks; if the connection has been
/// replaced since the delivery, settling does nothing and the broker redelivers the message.
public struct AMQPDelivery: Sendable {
    public let message: AMQPMessage
    public let exchange: String
    public let routingKey: String
    /// True when the broker delivered this message before (to this or another consumer).
    public let redelivered: Bool
    public let deliveryTag: UInt64
    let settlement: Settlement.Target?

    public var body: Data { message.body }
    public var properties: AMQPProperties { message.properties }

    public func ack(multiple: Bool = false) {
        settlement?.send(.ack(multiple: multiple), tag: deliveryTag)
    }

    /// Negative acknowledgement; `requeue: false` dead-letters the message if its queue has a DLX.
    public func nack(requeue: Bool, multiple: Bool = false) {
        settlement?.send(.nack(multiple: multiple, requeue: requeue), tag: deliveryTag)
    }

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
    public typealias Element = AMQPDelivery
    let stream: AsyncThrowingStream<AMQPDelivery, any Error>
    let driver: ConnectionDriver
    /// The consumer tag, unique within the connection.
    public let tag: String
    public let queue: String

    public func makeAsyncIterator() -> AsyncThrowingStream<AMQPDelivery, any Error>.AsyncIterator {
        stream.makeAsyncIterator()
    }

    /// Stops deliveries; unsettled ones go back to the queue when the channel closes.
    public func cancel() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            driver.submit(.operation(Operation(name: "basic.cancel", deadline: .now + .seconds(10),
                perform: { driver in
                    driver.cancelConsumer(tag: tag)
                    continuation.resume()
                },
                fail: { _ in continuation.resume() })))
        }
    }
}

/// A mandatory message published without a confirm that the broker could not route to any
/// queue (basic.return), handed back so its publisher can hold it and try again.
public struct AMQPReturnedMessage: Sendable {
    public let message: AMQPMessage
    /// `AMQPError.returned`, with the broker's reply code and text, exchange and routing key.
    public let error: AMQPError

    public var exchange: String {
        if case let .returned(_, _, exchange, _) = error { return exchange }
        return ""
    }

    public var routingKey: String {
        if case let .returned(_, _, _, routingKey) = error { return routingKey }
        return ""
    }
}
