import AMQP
import Foundation
import Synchronization
import TestSupport
import Testing

/// The broker application is stopped and started under live connections. These suites stop the
/// shared private broker, so `deploy/local/test` runs them on their own, after everything else.
@Suite(.serialized) struct DisruptiveBrokerRestartTests {
    /// Stops the broker app (listeners down, every connection closed) for a moment, then starts it.
    private func bounceBroker(downFor pause: Duration = .seconds(2)) async throws {
        try TestBroker.rabbitmqctl("stop_app")
        try await Task.sleep(for: pause)
        try TestBroker.rabbitmqctl("start_app")
        try TestBroker.rabbitmqctl("await_startup")
    }

    private func reconnectingConfiguration(_ name: String) throws -> AMQPConfiguration {
        var configuration = try TestBroker.configuration(name: name)
        configuration.reconnect = .init(initialDelay: .milliseconds(100), maxDelay: .seconds(1))
        configuration.disconnectedWaitLimit = .seconds(60)
        return configuration
    }

    @Test func consumerResumesByItselfAndMissesNothingConfirmed() async throws {
        let connection = try await AMQPConnection.connect(reconnectingConfiguration("consumer"))
        defer { Task { await connection.close() } }
        let events = connection.events()
        let queue = TestBroker.uniqueName("restart.consume")
        try await connection.declare(QueueDeclaration(queue, durable: true))
        let consumer = try await connection.consume(queue: queue, prefetch: 10)

        let persistent = AMQPProperties(persistent: true)
        for index in 0..<50 {
            var properties = persistent
            properties.messageID = "\(index)"
            try await connection.publish(AMQPMessage("\(index)", properties: properties), exchange: "", routingKey: queue)
        }
        let before = try await consumer.take(20)
        try await bounceBroker()
        for index in 50..<100 {
            var properties = persistent
            properties.messageID = "\(index)"
            try await connection.publish(AMQPMessage("\(index)", properties: properties), exchange: "", routingKey: queue)
        }
        // Unacked deliveries of the old connection come again: at-least-once, so count distinct ids.
        var seen = Set(before.compactMap(\.properties.messageID))
        for try await delivery in consumer {
            delivery.ack()
            if let id = delivery.properties.messageID { seen.insert(id) }
            if seen.count == 100 { break }
        }
        #expect(seen == Set((0..<100).map(String.init)))

        let observed = await events.read { $0.contains { if case .reconnected = $0 { true } else { false } } }
        #expect(observed.contains { if case .disconnected = $0 { true } else { false } })
        #expect(observed.contains { if case .reconnected = $0 { true } else { false } })
        try await connection.deleteQueue(queue)
    }

    @Test func publisherResumesByItselfAndEveryConfirmedMessageSurvives() async throws {
        let publisher = try await AMQPConnection.connect(reconnectingConfiguration("publisher"))
        defer { Task { await publisher.close() } }
        let queue = TestBroker.uniqueName("restart.publish")
        try await publisher.declare(QueueDeclaration(queue, durable: true))
        let events = publisher.events()

        // Publishes until the bounce is over and 200 more went through, so it spans the outage
        // whatever the machine's speed (bounded at 200,000 messages).
        let confirmed = Mutex(Set<Int>())
        let bounceOver = Mutex(false)
        let publishing = Task {
            var retries = 0
            var index = 0
            var afterBounce = 0
            while afterBounce < 200, index < 200_000 {
                var properties = AMQPProperties(persistent: true)
                properties.messageID = "\(index)"
                do {
                    try await publisher.publish(AMQPMessage("\(index)", properties: properties), exchange: "", routingKey: queue)
                    _ = confirmed.withLock { $0.insert(index) }
                    index += 1
                    if bounceOver.withLock({ $0 }) { afterBounce += 1 }
                } catch let error as AMQPError where error.isTransient {
                    retries += 1 // outcome unknown: publish again (duplicates are allowed, losses are not)
                }
            }
            return (retries, index)
        }
        #expect(await eventually { confirmed.withLock { $0.count } > 200 })
        try await bounceBroker()
        bounceOver.withLock { $0 = true }
        let (_, total) = try await publishing.value
        // Publishing spanned a lost and regained connection. (Whether a publish was in flight
        // at that moment, and so retried, is luck; waiting for the reconnect is the design.)
        let seen = await events.read { $0.contains { if case .reconnected = $0 { true } else { false } } }
        #expect(seen.contains { if case .disconnected = $0 { true } else { false } })
        #expect(confirmed.withLock { $0.count } == total)

        let consumer = try await publisher.consume(queue: queue, prefetch: 500)
        var stored = Set<Int>()
        for try await delivery in consumer {
            delivery.ack()
            stored.insert(Int(delivery.properties.messageID ?? "") ?? -1)
            if stored.count >= total { break }
        }
        #expect(stored == Set(0..<total))
        try await publisher.deleteQueue(queue)
    }

    @Test func serverNamedQueueAndItsBindingsComeBackUnderTheNameCallersKnow() async throws {
        let connection = try await AMQPConnection.connect(reconnectingConfiguration("exclusive"))
        defer { Task { await connection.close() } }
        let exchange = TestBroker.uniqueName("restart.view")
        try await connection.declare(ExchangeDeclaration(exchange, kind: .topic, durable: true))
        let queue = try await connection.declare(QueueDeclaration.serverNamedExclusive())
        try await connection.bind(QueueBinding(queue: queue.name, exchange: exchange, routingKey: "s.123456789"))
        let consumer = try await connection.consume(queue: queue.name)

        try await bounceBroker()
        try await connection.publish(AMQPMessage("after"), exchange: exchange, routingKey: "s.123456789")
        #expect(try await consumer.take(1).first?.body == Data("after".utf8))
        // A binding added after the reconnect, naming the queue by its first name, still works.
        try await connection.bind(QueueBinding(queue: queue.name, exchange: exchange, routingKey: "s.987654321"))
        try await connection.publish(AMQPMessage("later"), exchange: exchange, routingKey: "s.987654321")
        #expect(try await consumer.take(1).first?.body == Data("later".utf8))
        try await connection.deleteExchange(exchange)
    }

    @Test func consumerWhoseReaderIsCancelledWhileTheBrokerIsDownIsNotStartedAgain() async throws {
        // What stalled a masking filter's shard in the fault suite: its reader gave up during an
        // outage and a new consumer took over, but the reconnect brought the old one back as the
        // queue's single active consumer, which nobody read.
        let connection = try await AMQPConnection.connect(reconnectingConfiguration("abandoned"))
        defer { Task { await connection.close() } }
        let queue = TestBroker.uniqueName("restart.abandoned")
        try await connection.declare(QueueDeclaration(queue, durable: true, arguments: ["x-single-active-consumer": true]))
        let first = try await connection.consume(queue: queue)
        let reader = Task { for try await _ in first {} }

        try TestBroker.rabbitmqctl("stop_app")
        var restarted = false
        defer { if !restarted { try? TestBroker.rabbitmqctl("start_app"); try? TestBroker.rabbitmqctl("await_startup") } }
        #expect(await eventually { connection.state == .reconnecting })
        reader.cancel()
        _ = await reader.result
        try TestBroker.rabbitmqctl("start_app")
        try TestBroker.rabbitmqctl("await_startup")
        restarted = true
        #expect(await eventually { connection.state == .connected })

        let second = try await connection.consume(queue: queue)
        try await connection.publish(AMQPMessage("for the second"), exchange: "", routingKey: queue)
        #expect(try await second.take(1).first?.body == Data("for the second".utf8))
        _ = try await connection.deleteQueue(queue)
    }

    @Test func operationWaitsBoundedWhileTheBrokerIsDownThenFailsClearly() async throws {
        var configuration = try reconnectingConfiguration("bounded")
        configuration.disconnectedWaitLimit = .milliseconds(500)
        let connection = try await AMQPConnection.connect(configuration)
        defer { Task { await connection.close() } }
        try TestBroker.rabbitmqctl("stop_app")
        defer { try? TestBroker.rabbitmqctl("start_app"); try? TestBroker.rabbitmqctl("await_startup") }
        #expect(await eventually { connection.state == .reconnecting })
        await #expect {
            try await connection.publish(AMQPMessage("nowhere"), exchange: "", routingKey: "q")
        } throws: { error in
            if case .notConnected = error as? AMQPError { true } else { false }
        }
        await #expect {
            try await connection.publishUnconfirmed(AMQPMessage("nowhere"), exchange: "", routingKey: "q")
        } throws: { error in
            if case .notConnected = error as? AMQPError { true } else { false }
        }
    }

    @Test func withReconnectDisabledALostConnectionEndsConsumersWithTheReason() async throws {
        var configuration = try TestBroker.configuration(name: "no-reconnect")
        configuration.reconnect = .init(enabled: false)
        let connection = try await AMQPConnection.connect(configuration)
        let queue = TestBroker.uniqueName("no-reconnect")
        try await connection.declare(QueueDeclaration(queue, durable: false, autoDelete: true))
        let consumer = try await connection.consume(queue: queue)
        try TestBroker.rabbitmqctl("close_all_connections", "closed by test")
        var ending: (any Error)?
        do {
            for try await _ in consumer {}
        } catch {
            ending = error
        }
        guard case .connectionClosedByBroker(320, let text)? = ending as? AMQPError else {
            Issue.record("consumer ended with \(String(describing: ending)), expected 320 CONNECTION_FORCED")
            return
        }
        #expect(text.contains("closed by test"))
        #expect(await eventually { connection.state == .closed })
        await #expect(throws: AMQPError.closed) {
            try await connection.publish(AMQPMessage("late"), exchange: "", routingKey: queue)
        }
    }
}
