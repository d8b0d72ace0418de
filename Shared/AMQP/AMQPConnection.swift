import Foundation
import Logging
import Synchronization

/// A connection to RabbitMQ with an async API, running on its own thread, that reconnects by
/// itself and recovers its topology and consumers.
///
/// Publishing comes in two forms: `publish` returns once the broker confirmed the message
/// (many may be in flight at once: confirms are pipelined), `publishUnconfirmed` returns once
/// the message is queued for the socket (the fast path for high-rate streams).
public final class AMQPConnection: Sendable {
    let driver: ConnectionDriver

    /// The configuration the connection was made with.
    public var configuration: AMQPConfiguration { driver.configuration }
    /// Whether the connection is up, reconnecting or closed, now.
    public var state: AMQPConnectionState { driver.status.state }
    /// The last connection error, while reconnecting.
    public var lastError: AMQPError? { driver.status.lastError }

    private init(driver: ConnectionDriver) {
        self.driver = driver
    }

    /// Connects, starting the connection's thread; later losses are recovered by the connection
    /// itself, but this first attempt is not retried (callers decide whether to retry).
    /// - Parameters:
    ///   - configuration: Where and how to connect.
    ///   - logger: Where the connection logs losses, reconnects and failures.
    /// - Returns: The open connection.
    /// - Throws: `AMQPError` when no node can be reached (`connectionFailed`, `tlsFailed`) or the
    ///   broker refuses the login (`accessRefused`).
    public static func connect(_ configuration: AMQPConfiguration,
                               logger: Logger = Logger(label: "amqp")) async throws -> AMQPConnection {
        let driver = ConnectionDriver(configuration: configuration, logger: logger)
        try await driver.start()
        return AMQPConnection(driver: driver)
    }

    /// Connects to the broker an `AMQP_URL` names (one URL, or a comma-separated list of nodes).
    /// - Parameters:
    ///   - url: The URL, in the forms `AMQPConfiguration.init(url:)` accepts.
    ///   - logger: Where the connection logs losses, reconnects and failures.
    /// - Returns: The open connection.
    /// - Throws: `AMQPError.invalidURL` for a URL that cannot be used; otherwise as
    ///   `connect(_:logger:)`.
    public static func connect(url: String, logger: Logger = Logger(label: "amqp")) async throws -> AMQPConnection {
        try await connect(AMQPConfiguration(url: url), logger: logger)
    }

    /// A new stream of connection events (each caller gets its own).
    /// - Returns: A stream that ends after `closed` (at once if the connection is already closed).
    public func events() -> AsyncStream<AMQPConnectionEvent> {
        driver.status.events()
    }

    /// Closes the connection; pending operations fail with `AMQPError.closed`.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            driver.submit(.close(continuation))
        }
    }

    // MARK: Topology

    /// Declares an exchange and records it, so it is declared again after a reconnect.
    /// - Parameter exchange: The exchange; declaring it again with the same settings does nothing.
    /// - Throws: `AMQPError.channelClosedByBroker` (406) when it exists with other settings;
    ///   `notConnected` or `closed` when there is no connection to do it on.
    public func declare(_ exchange: ExchangeDeclaration) async throws {
        try await perform("exchange.declare") { try $0.declare(exchange, passive: false) }
    }

    /// Declares a queue; for a server-named queue the returned name is the one to use.
    /// The queue is recorded and declared again after a reconnect; a server-named queue then gets a
    /// new name, but callers keep using the first one (the client translates it).
    /// - Parameter queue: The queue to declare.
    /// - Returns: The queue's name and its message and consumer counts.
    /// - Throws: `AMQPError.channelClosedByBroker` (406) when it exists with other settings, or
    ///   (405) when it is another connection's exclusive queue; `notConnected` or `closed` when there
    ///   is no connection to do it on.
    @discardableResult
    public func declare(_ queue: QueueDeclaration) async throws -> DeclaredQueue {
        try await perform("queue.declare") { try $0.declare(queue, passive: false) }
    }

    /// Checks that a queue exists (404 otherwise) and reads its counts.
    /// - Parameter name: The queue's name.
    /// - Returns: Its name and its message and consumer counts.
    /// - Throws: `AMQPError.channelClosedByBroker` (404) when there is no such queue; `notConnected`
    ///   or `closed` when there is no connection to ask on.
    public func inspectQueue(_ name: String) async throws -> DeclaredQueue {
        try await perform("queue.declare(passive)") { try $0.declare(QueueDeclaration(name), passive: true) }
    }

    /// Checks that an exchange exists (404 otherwise).
    /// - Parameter name: The exchange's name.
    /// - Throws: `AMQPError.channelClosedByBroker` (404) when there is no such exchange;
    ///   `notConnected` or `closed` when there is no connection to ask on.
    public func inspectExchange(_ name: String) async throws {
        try await perform("exchange.declare(passive)") {
            try $0.declare(ExchangeDeclaration(name, kind: .direct), passive: true)
        }
    }

    /// Binds a queue to an exchange and records the binding, so it is made again after a reconnect.
    /// - Parameter binding: The queue, exchange, routing key and arguments.
    /// - Throws: `AMQPError.channelClosedByBroker` (404) when the queue or exchange does not exist;
    ///   `notConnected` or `closed` when there is no connection to do it on.
    public func bind(_ binding: QueueBinding) async throws {
        try await perform("queue.bind") { try $0.bind(binding) }
    }

    /// Removes a binding, and from the record of what to restore after a reconnect.
    /// - Parameter binding: The binding, as it was made.
    /// - Throws: `AMQPError.channelClosedByBroker` when the broker refuses; `notConnected` or
    ///   `closed` when there is no connection to do it on.
    public func unbind(_ binding: QueueBinding) async throws {
        try await perform("queue.unbind") { try $0.unbind(binding) }
    }

    /// Declares exchanges, then queues, then bindings; returns the declared queues by name.
    /// - Parameter topology: The declarations; each is recorded as by the single-item calls.
    /// - Returns: The broker's answer for each queue, keyed by the name in the declaration.
    /// - Throws: The first `AMQPError` of the declarations; those before it stay declared.
    @discardableResult
    public func declare(_ topology: Topology) async throws -> [String: DeclaredQueue] {
        for exchange in topology.exchanges { try await declare(exchange) }
        var queues: [String: DeclaredQueue] = [:]
        for queue in topology.queues { queues[queue.name] = try await declare(queue) }
        for binding in topology.bindings { try await bind(binding) }
        return queues
    }

    /// Deletes a queue; returns how many messages it held.
    /// It is also forgotten, with its bindings, so a reconnect does not declare it again.
    /// - Parameter name: The queue's name.
    /// - Returns: How many messages it held.
    /// - Throws: `AMQPError.channelClosedByBroker` when the broker refuses; `notConnected` or
    ///   `closed` when there is no connection to do it on.
    @discardableResult
    public func deleteQueue(_ name: String) async throws -> Int {
        try await perform("queue.delete") { try $0.deleteQueue(name) }
    }

    /// Drops every ready message of a queue (unacknowledged ones stay).
    /// - Parameter name: The queue's name.
    /// - Returns: How many messages were dropped.
    /// - Throws: `AMQPError.channelClosedByBroker` (404) when there is no such queue; `notConnected`
    ///   or `closed` when there is no connection to do it on.
    @discardableResult
    public func purgeQueue(_ name: String) async throws -> Int {
        try await perform("queue.purge") { try $0.purgeQueue(name) }
    }

    /// Deletes an exchange and forgets it and its bindings, so a reconnect does not declare them again.
    /// - Parameter name: The exchange's name.
    /// - Throws: `AMQPError.channelClosedByBroker` when the broker refuses; `notConnected` or
    ///   `closed` when there is no connection to do it on.
    public func deleteExchange(_ name: String) async throws {
        try await perform("exchange.delete") { try $0.deleteExchange(name) }
    }

    // MARK: Publishing

    /// Publishes and waits for the broker's confirm; many publishes may wait at once.
    /// - Parameters:
    ///   - message: The body and properties.
    ///   - exchange: The exchange to publish to (empty for the default exchange).
    ///   - routingKey: The routing key.
    ///   - mandatory: Whether a message no queue takes is an error (`returned`) rather than dropped.
    /// - Throws: `AMQPError.nacked` when the broker refused it; `returned` when it was mandatory and
    ///   unroutable; `connectionLost` when the connection dropped before the confirm (outcome
    ///   unknown: publish again); `notConnected` when the connection stayed down longer than
    ///   `disconnectedWaitLimit`; `closed` after `close()`.
    public func publish(_ message: AMQPMessage, exchange: String, routingKey: String,
                        mandatory: Bool = false) async throws {
        let deadline = ContinuousClock.now + configuration.disconnectedWaitLimit
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let waiter = ConfirmWaiter(exchange: exchange, routingKey: routingKey, body: mandatory ? message.body : nil) {
                continuation.resume(with: $0.mapError { $0 as any Error })
            }
            driver.submit(.publish(PublishRequest(message: message, exchange: exchange, routingKey: routingKey,
                                                  mandatory: mandatory, waiter: waiter, deadline: deadline)))
        }
    }

    /// Mandatory messages of `publishUnconfirmed` that the broker could not route, in the order
    /// it returned them. One stream per connection: a single reader, for as long as the
    /// connection lives. Unread returns beyond a bound are logged and dropped.
    public var returnedMessages: AsyncStream<AMQPReturnedMessage> { driver.returns }

    /// Queues a message for the socket without waiting for a confirm. Waits (bounded) while the
    /// connection is down or the outgoing buffer is full, then throws `notConnected`. A
    /// `mandatory` message that no queue takes comes back on `returnedMessages`.
    /// - Parameters:
    ///   - message: The body and properties.
    ///   - exchange: The exchange to publish to (empty for the default exchange).
    ///   - routingKey: The routing key.
    ///   - mandatory: Whether a message no queue takes comes back on `returnedMessages`.
    /// - Throws: `AMQPError.notConnected` after waiting `disconnectedWaitLimit` for a connection or
    ///   for room in the outgoing buffer; `closed` when the connection is closed.
    public func publishUnconfirmed(_ message: AMQPMessage, exchange: String, routingKey: String,
                                   mandatory: Bool = false) async throws {
        let limit = configuration.disconnectedWaitLimit
        let deadline = ContinuousClock.now + limit
        if driver.status.state != .connected {
            guard await driver.status.waitUntilConnected(limit: limit) else {
                throw state == .closed ? AMQPError.closed
                    : AMQPError.notConnected(waited: limit, lastError: lastError?.description)
            }
        }
        let request = PublishRequest(message: message, exchange: exchange, routingKey: routingKey, mandatory: mandatory,
                                     waiter: nil, deadline: deadline)
        while true {
            switch driver.trySubmitPublish(request) {
            case true?: return
            case nil: throw AMQPError.closed
            case false?:
                guard ContinuousClock.now < deadline else {
                    throw AMQPError.notConnected(waited: limit, lastError: "outgoing buffer full")
                }
                try await Task.sleep(for: .milliseconds(1))
            }
        }
    }

    // MARK: Consuming

    /// Starts a consumer. With manual acknowledgement the broker sends at most `prefetch`
    /// unsettled deliveries. Cancelling the iterating task, or dropping every copy of the consumer,
    /// ends the stream and cancels the consumer as `cancel()` does (its unsettled deliveries go back
    /// to the queue; also while disconnected: it is not started again after a reconnect). Keep the
    /// consumer while its deliveries are being settled.
    /// - Parameters:
    ///   - queue: The queue's name (for a server-named queue, the name first returned).
    ///   - prefetch: The most unsettled deliveries the broker sends at once (manual acknowledgement).
    ///   - autoAck: Whether the broker counts a delivery as settled when sent (no `ack` needed).
    ///   - exclusive: Whether to be the queue's only consumer.
    ///   - arguments: Consumer arguments (`x-priority`, …).
    /// - Returns: The consumer: an `AsyncSequence` of deliveries that is resumed after a reconnect.
    /// - Throws: `AMQPError.channelClosedByBroker` (404 no such queue; 403 or 405 when another
    ///   consumer or connection holds it exclusively);
    ///   `notConnected` or `closed` when there is no connection to start it on.
    public func consume(queue: String, prefetch: UInt16 = 100, autoAck: Bool = false, exclusive: Bool = false,
                        arguments: AMQPTable = [:]) async throws -> AMQPConsumer {
        let (stream, continuation) = AsyncThrowingStream<AMQPDelivery, any Error>.makeStream()
        let record = ConsumerRecord(tag: "cobrowse-\(UUID().uuidString.lowercased())", queue: queue, prefetch: prefetch,
                                    autoAck: autoAck, exclusive: exclusive, arguments: arguments, continuation: continuation)
        // A consumer whose reader is cancelled is cancelled too: left recorded, the reconnect would
        // start it again, and the broker would feed a consumer nobody reads (with a single active
        // consumer, the only one it feeds).
        let driver = self.driver, tag = record.tag
        continuation.onTermination = { termination in
            if case .cancelled = termination { driver.submit(AMQPConsumer.cancelCommand(tag: tag)) }
        }
        try await perform("basic.consume") { try $0.startConsumer(record) }
        return AMQPConsumer(stream: stream, driver: driver, tag: record.tag, queue: queue)
    }

    // MARK: RPC

    /// Sends a request over direct reply-to and waits for the reply with the same correlation id.
    /// Throws `returned` if nothing consumes `routingKey`, `timedOut` after `timeout`.
    /// - Parameters:
    ///   - request: The request; its correlation id and reply-to are set here.
    ///   - exchange: The exchange to publish the request to (empty for the default exchange).
    ///   - routingKey: Where the server listens (with the default exchange: its queue's name).
    ///   - timeout: How long to wait for the reply.
    /// - Returns: The reply.
    /// - Throws: `AMQPError.returned` when nothing consumes `routingKey`; `timedOut` after
    ///   `timeout`; `notConnected` when there was no connection to send it on within `timeout`;
    ///   `connectionLost` when the connection dropped before the reply; `closed` after `close()`.
    public func call(_ request: AMQPMessage, exchange: String = "", routingKey: String,
                     timeout: Duration = .seconds(10)) async throws -> AMQPMessage {
        let correlationID = UUID().uuidString.lowercased()
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<AMQPMessage, any Error>) in
            driver.submit(.rpc(RPCRequest(message: request, exchange: exchange, routingKey: routingKey,
                                          correlationID: correlationID, deadline: .now + timeout, timeout: timeout,
                                          complete: { continuation.resume(with: $0.mapError { $0 as any Error }) })))
        }
    }

    // MARK: Internals

    /// Runs `body` on the connection thread, waiting (bounded) for a connection if there is none.
    private func perform<T: Sendable>(_ name: String, _ body: @escaping (ConnectionDriver) throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + configuration.disconnectedWaitLimit
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            driver.submit(.operation(Operation(name: name, deadline: deadline,
                perform: { driver in continuation.resume(with: Result { try body(driver) }) },
                fail: { continuation.resume(throwing: $0) })))
        }
    }
}
