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

    public var configuration: AMQPConfiguration { driver.configuration }
    public var state: AMQPConnectionState { driver.status.state }
    /// The last connection error, while reconnecting.
    public var lastError: AMQPError? { driver.status.lastError }

    private init(driver: ConnectionDriver) {
        self.driver = driver
    }

    /// Connects; throws if this first attempt fails (callers decide whether to retry).
    public static func connect(_ configuration: AMQPConfiguration,
                               logger: Logger = Logger(label: "amqp")) async throws -> AMQPConnection {
        let driver = ConnectionDriver(configuration: configuration, logger: logger)
        try await driver.start()
        return AMQPConnection(driver: driver)
    }

    public static func connect(url: String, logger: Logger = Logger(label: "amqp")) async throws -> AMQPConnection {
        try await connect(AMQPConfiguration(url: url), logger: logger)
    }

    /// A new stream of connection events (each caller gets its own).
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

    public func declare(_ exchange: ExchangeDeclaration) async throws {
        try await perform("exchange.declare") { try $0.declare(exchange, passive: false) }
    }

    /// Declares a queue; for a server-named queue the returned name is the one to use.
    @discardableResult
    public func declare(_ queue: QueueDeclaration) async throws -> DeclaredQueue {
        try await perform("queue.declare") { try $0.declare(queue, passive: false) }
    }

    /// Checks that a queue exists (404 otherwise) and reads its counts.
    public func inspectQueue(_ name: String) async throws -> DeclaredQueue {
        try await perform("queue.declare(passive)") { try $0.declare(QueueDeclaration(name), passive: true) }
    }

    /// Checks that an exchange exists (404 otherwise).
    public func inspectExchange(_ name: String) async throws {
        try await perform("exchange.declare(passive)") {
            try $0.declare(ExchangeDeclaration(name, kind: .direct), passive: true)
        }
    }

    public func bind(_ binding: QueueBinding) async throws {
        try await perform("queue.bind") { try $0.bind(binding) }
    }

    public func unbind(_ binding: QueueBinding) async throws {
        try await perform("queue.unbind") { try $0.unbind(binding) }
    }

    /// Declares exchanges, then queues, then bindings; returns the declared queues by name.
    @discardableResult
    public func declare(_ topology: Topology) async throws -> [String: DeclaredQueue] {
        for exchange in topology.exchanges { try await declare(exchange) }
        var queues: [String: DeclaredQueue] = [:]
        for queue in topology.queues { queues[queue.name] = try await declare(queue) }
        for binding in topology.bindings { try await bind(binding) }
        return queues
    }

    /// Deletes a queue; returns how many messages it held.
    @discardableResult
    public func deleteQueue(_ name: String) async throws -> Int {
        try await perform("queue.delete") { try $0.deleteQueue(name) }
    }

    @discardableResult
    public func purgeQueue(_ name: String) async throws -> Int {
        try await perform("queue.purge") { try $0.purgeQueue(name) }
    }

    public func deleteExchange(_ name: String) async throws {
        try await perform("exchange.delete") { try $0.deleteExchange(name) }
    }

    // MARK: Publishing

    /// Publishes and waits for the broker's confirm. Throws `nacked`, `returned` (mandatory and
    /// unroutable), `connectionLost` (outcome unknown: publish again) or `notConnected`.
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
    /// unsettled deliveries. Cancelling the iterating task does not cancel the consumer: call `cancel()`.
    public func consume(queue: String, prefetch: UInt16 = 100, autoAck: Bool = false, exclusive: Bool = false,
                        arguments: AMQPTable = [:]) async throws -> AMQPConsumer {
        let (stream, continuation) = AsyncThrowingStream<AMQPDelivery, any Error>.makeStream()
        let record = ConsumerRecord(tag: "cobrowse-\(UUID().uuidString.lowercased())", queue: queue, prefetch: prefetch,
                                    autoAck: autoAck, exclusive: exclusive, arguments: arguments, continuation: continuation)
        try await perform("basic.consume") { try $0.startConsumer(record) }
        return AMQPConsumer(stream: stream, driver: driver, tag: record.tag, queue: queue)
    }

    // MARK: RPC

    /// Sends a request over direct reply-to and waits for the reply with the same correlation id.
    /// Throws `returned` if nothing consumes `routingKey`, `timedOut` after `timeout`.
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
