import AMQP
import Foundation
import TestSupport
import Testing

/// Batched acknowledgements through the private broker: what a consumer that goes away leaves
/// for redelivery.
@Suite struct BatchedAcknowledgerTests {
    /// Consumes `count` messages on a connection of its own, hands each to `acks`, runs `before`
    /// and closes the connection; answers how many messages the broker then holds for redelivery
    /// (read until it is `expected`, for a few seconds, in case the requeue lags).
    func leftForRedelivery(count: Int, every: Int, expected: Int, before close: (BatchedAcknowledger) -> Void) async throws -> Int {
        let admin = try await TestBroker.connect()
        defer { Task { await admin.close() } }
        let queue = TestBroker.uniqueName("batched-acks")
        try await admin.declare(QueueDeclaration(queue, durable: false, autoDelete: false))
        for index in 0..<count { try await admin.publish(AMQPMessage("\(index)"), exchange: "", routingKey: queue) }

        let consumerConnection = try await TestBroker.connect()
        let acks = BatchedAcknowledger(every: every)
        // Held until the connection closes: a consumer dropped (or whose reader is cancelled) is
        // cancelled, and its unsettled deliveries go back to the queue at once.
        let consumer = try await consumerConnection.consume(queue: queue, prefetch: UInt16(count + 10))
        let deliveries = try await consumer.take(count, ack: false)
        #expect(deliveries.map { String(decoding: $0.body, as: UTF8.self) } == (0..<count).map(String.init))
        deliveries.forEach(acks.processed)
        close(acks)
        await consumerConnection.close()
        withExtendedLifetime(consumer) {}

        var ready = try await admin.inspectQueue(queue).messageCount
        for _ in 0..<50 where ready != expected {
            try await Task.sleep(for: .milliseconds(100))
            ready = try await admin.inspectQueue(queue).messageCount
        }
        try await admin.deleteQueue(queue)
        return ready
    }

    @Test func everyFullBatchIsAcknowledgedAndTheRestIsRedelivered() async throws {
        #expect(try await leftForRedelivery(count: 250, every: 100, expected: 50) { _ in } == 50)
    }

    @Test func flushAcknowledgesWhatIsLeft() async throws {
        #expect(try await leftForRedelivery(count: 250, every: 100, expected: 0) { $0.flush() } == 0)
    }
}
