import AMQP
import Foundation
import TestSupport
import Testing

/// Publishing and consuming through the private broker.
@Suite struct PublishConsumeTests {
    @Test func confirmedMessageRoundTripsWithItsProperties() async throws {
        let connection = try await TestBroker.connect()
        defer { Task { await connection.close() } }
        let queue = TestBroker.uniqueName("roundtrip")
        try await connection.declare(QueueDeclaration(queue, durable: false, autoDelete: true))
        let consumer = try await connection.consume(queue: queue)

        var properties = AMQPProperties(contentType: "application/json", headers: ["session": "123456789", "seq": 7],
                                        persistent: true, messageID: "m-1", type: "dom.snapshot")
        properties.correlationID = "c-1"
        try await connection.publish(AMQPMessage(#"{"hello":"世界"}"#, properties: properties), exchange: "", routingKey: queue)

        let delivery = try #require(try await consumer.take(1).first)
        #expect(String(decoding: delivery.body, as: UTF8.self) == #"{"hello":"世界"}"#)
        #expect(delivery.properties == properties)
        #expect(delivery.routingKey == queue)
        #expect(!delivery.redelivered)
    }

    @Test func unconfirmedFastPathKeepsOrder() async throws {
        let connection = try await TestBroker.connect()
        defer { Task { await connection.close() } }
        let queue = TestBroker.uniqueName("fastpath")
        try await connection.declare(QueueDeclaration(queue, durable: false, autoDelete: true))
        let consumer = try await connection.consume(queue: queue, prefetch: 500)
        for sequence in 0..<2_000 {
            try await connection.publishUnconfirmed(AMQPMessage("\(sequence)"), exchange: "", routingKey: queue)
        }
        let received = try await consumer.take(2_000).map { Int(String(decoding: $0.body, as: UTF8.self))! }
        #expect(received == Array(0..<2_000))
    }

    @Test func manyConfirmedPublishesMayBeInFlightAtOnce() async throws {
        let connection = try await TestBroker.connect()
        defer { Task { await connection.close() } }
        let queue = TestBroker.uniqueName("pipelined")
        try await connection.declare(QueueDeclaration(queue, durable: false, autoDelete: false))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<500 {
                group.addTask { try await connection.publish(AMQPMessage("\(index)"), exchange: "", routingKey: queue) }
            }
            try await group.waitForAll()
        }
        #expect(try await connection.inspectQueue(queue).messageCount == 500)
        try await connection.deleteQueue(queue)
    }

    @Test func nackedDeliveryIsRequeuedAndRedelivered() async throws {
        let connection = try await TestBroker.connect()
        defer { Task { await connection.close() } }
        let queue = TestBroker.uniqueName("requeue")
        try await connection.declare(QueueDeclaration(queue, durable: false, autoDelete: true))
        let consumer = try await connection.consume(queue: queue, prefetch: 1)
        try await connection.publish(AMQPMessage("again"), exchange: "", routingKey: queue)
        var iterator = consumer.makeAsyncIterator()
        let first = try #require(try await iterator.next())
        first.nack(requeue: true)
        let second = try #require(try await iterator.next())
        second.ack()
        #expect(second.redelivered)
        #expect(second.body == first.body)
    }

    @Test func rejectedMessageGoesToTheDeadLetterExchange() async throws {
        let connection = try await TestBroker.connect()
        defer { Task { await connection.close() } }
        let dlx = TestBroker.uniqueName("dlx")
        let dead = TestBroker.uniqueName("dead")
        let work = TestBroker.uniqueName("work")
        try await connection.declare(Topology(
            exchanges: [ExchangeDeclaration(dlx, kind: .fanout, durable: false, autoDelete: true)],
            queues: [QueueDeclaration(dead, durable: false, autoDelete: true),
                     QueueDeclaration(work, durable: false, autoDelete: true, arguments: ["x-dead-letter-exchange": .string(dlx)])],
            bindings: [QueueBinding(queue: dead, exchange: dlx, routingKey: "")]))
        let workConsumer = try await connection.consume(queue: work)
        let deadConsumer = try await connection.consume(queue: dead)
        try await connection.publish(AMQPMessage("poison"), exchange: "", routingKey: work)
        try await workConsumer.take(1, ack: false).first?.reject(requeue: false)
        let deadLetter = try #require(try await deadConsumer.take(1).first)
        #expect(String(decoding: deadLetter.body, as: UTF8.self) == "poison")
        #expect(deadLetter.properties.headers["x-death"] != nil)
    }

    @Test func redeclaringWithTheSameSettingsIsHarmless() async throws {
        let connection = try await TestBroker.connect()
        defer { Task { await connection.close() } }
        let queue = QueueDeclaration(TestBroker.uniqueName("idempotent"), durable: true,
                                     arguments: ["x-message-ttl": 60_000, "x-max-length": 10, "x-overflow": "reject-publish",
                                                 "x-single-active-consumer": true])
        let exchange = ExchangeDeclaration(TestBroker.uniqueName("idempotent.x"), kind: .topic, durable: true)
        for _ in 0..<3 {
            try await connection.declare(exchange)
            try await connection.declare(queue)
            try await connection.bind(QueueBinding(queue: queue.name, exchange: exchange.name, routingKey: "s.*"))
        }
        try await connection.deleteQueue(queue.name)
        try await connection.deleteExchange(exchange.name)
    }

    @Test func conflictingRedeclarationIsRefusedAndTheConnectionCarriesOn() async throws {
        let connection = try await TestBroker.connect()
        defer { Task { await connection.close() } }
        let name = TestBroker.uniqueName("conflict")
        try await connection.declare(QueueDeclaration(name, durable: false, autoDelete: true, arguments: ["x-max-length": 5]))
        await #expect {
            try await connection.declare(QueueDeclaration(name, durable: false, autoDelete: true, arguments: ["x-max-length": 6]))
        } throws: { error in
            if case .channelClosedByBroker(406, let text) = error as? AMQPError { text.contains("inequivalent arg 'x-max-length'") } else { false }
        }
        #expect(try await connection.inspectQueue(name).messageCount == 0)
    }

    @Test func publishingToAMissingExchangeFailsThatPublishOnly() async throws {
        let connection = try await TestBroker.connect()
        defer { Task { await connection.close() } }
        await #expect {
            try await connection.publish(AMQPMessage("lost"), exchange: TestBroker.uniqueName("missing"), routingKey: "k")
        } throws: { error in
            if case .channelClosedByBroker(404, _) = error as? AMQPError { true } else { false }
        }
        let queue = TestBroker.uniqueName("after404")
        try await connection.declare(QueueDeclaration(queue, durable: false, autoDelete: false))
        try await connection.publish(AMQPMessage("fine"), exchange: "", routingKey: queue)
        #expect(try await connection.inspectQueue(queue).messageCount == 1)
        try await connection.deleteQueue(queue)
    }

    @Test func inspectingAMissingQueueSaysNotFound() async throws {
        let connection = try await TestBroker.connect()
        defer { Task { await connection.close() } }
        await #expect {
            try await connection.inspectQueue(TestBroker.uniqueName("nowhere"))
        } throws: { error in
            if case .channelClosedByBroker(404, let text) = error as? AMQPError { text.contains("NOT_FOUND") } else { false }
        }
    }
}

/// rabbitmq-c answers heartbeats only inside its own calls; the connection thread must keep
/// calling even when the application is idle.
@Suite struct HeartbeatTests {
    /// A queue deleted under its consumer (in a cluster: its node died) cancels the consumer; the
    /// connection carries on, and consuming again, on the channel number just freed, works.
    @Test func consumerCancelledByTheBrokerEndsItsStreamAndTheConnectionCarriesOn() async throws {
        let connection = try await TestBroker.connect()
        let other = try await TestBroker.connect()
        defer { Task { await connection.close(); await other.close() } }
        let queue = TestBroker.uniqueName("cancelled")
        try await connection.declare(QueueDeclaration(queue, durable: false))
        let consumer = try await connection.consume(queue: queue)
        _ = try await other.deleteQueue(queue)
        await #expect {
            for try await _ in consumer {}
        } throws: { error in
            if case .consumerCancelled(queue) = error as? AMQPError { true } else { false }
        }
        for round in 0..<3 {
            try await connection.declare(QueueDeclaration(queue, durable: false))
            let again = try await connection.consume(queue: queue)
            try await connection.publish(AMQPMessage("round \(round)"), exchange: "", routingKey: queue)
            let delivery = try #require(try await again.take(1).first)
            #expect(String(decoding: delivery.body, as: UTF8.self) == "round \(round)")
            _ = try await other.deleteQueue(queue)
            await #expect(throws: AMQPError.self) { for try await _ in again {} }
        }
        #expect(connection.state == .connected)
    }

    @Test func cancellingTheReadingTaskCancelsTheConsumerOnTheBroker() async throws {
        // With a single active consumer the broker feeds only the first: one left behind by a
        // cancelled reader would take every message from the consumer that replaced it.
        let connection = try await TestBroker.connect()
        defer { Task { await connection.close() } }
        let queue = TestBroker.uniqueName("abandoned")
        try await connection.declare(QueueDeclaration(queue, durable: false, arguments: ["x-single-active-consumer": true]))
        let first = try await connection.consume(queue: queue)
        let reader = Task { for try await _ in first {} }
        reader.cancel()
        _ = await reader.result
        let second = try await connection.consume(queue: queue)
        try await connection.publish(AMQPMessage("for the second"), exchange: "", routingKey: queue)
        #expect(try await second.take(1).first?.body == Data("for the second".utf8))
        _ = try await connection.deleteQueue(queue)
    }

    @Test func idleConnectionWithAShortHeartbeatStaysUp() async throws {
        var configuration = try TestBroker.configuration()
        // Each side drops a peer silent for two intervals. Idle for four: a connection thread
        // that answered no heartbeat while the application is idle would be dropped twice over.
        // (With a 1 s interval, a loaded 2-core CI machine once stalled a side for 2 s.)
        configuration.heartbeat = .seconds(3)
        configuration.reconnect = .init(enabled: false)
        let connection = try await AMQPConnection.connect(configuration)
        defer { Task { await connection.close() } }
        let events = connection.events()
        try await Task.sleep(for: .seconds(12))
        #expect(connection.state == .connected)
        let queue = TestBroker.uniqueName("heartbeat")
        try await connection.declare(QueueDeclaration(queue, durable: false, autoDelete: true))
        let consumer = try await connection.consume(queue: queue)
        try await connection.publish(AMQPMessage("still here"), exchange: "", routingKey: queue)
        #expect(try await consumer.take(1).first?.body == Data("still here".utf8))
        await connection.close()
        let seen = await events.read { $0.contains(.closed) }
        #expect(seen.contains(.closed))
        #expect(!seen.contains { if case .disconnected = $0 { true } else { false } })
    }
}
