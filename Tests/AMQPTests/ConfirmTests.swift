import AMQP
import Foundation
import TestSupport
import Testing

/// Publisher confirms: acks, nacks and returns reach the caller.
@Suite struct ConfirmTests {
    @Test func fullQueueWithRejectPublishNacksTheOverflow() async throws {
        let connection = try await TestBroker.connect()
        defer { Task { await connection.close() } }
        let queue = TestBroker.uniqueName("full")
        try await connection.declare(QueueDeclaration(queue, durable: false, autoDelete: false,
                                                      arguments: ["x-max-length": 1, "x-overflow": "reject-publish"]))
        try await connection.publish(AMQPMessage("first"), exchange: "", routingKey: queue)
        await #expect(throws: AMQPError.nacked(exchange: "", routingKey: queue)) {
            try await connection.publish(AMQPMessage("second"), exchange: "", routingKey: queue)
        }
        #expect(try await connection.inspectQueue(queue).messageCount == 1)
        try await connection.deleteQueue(queue)
    }

    @Test func unroutableMandatoryMessageIsReturnedToTheCaller() async throws {
        let connection = try await TestBroker.connect()
        defer { Task { await connection.close() } }
        let exchange = TestBroker.uniqueName("noroute")
        try await connection.declare(ExchangeDeclaration(exchange, kind: .topic, durable: false, autoDelete: false))
        await #expect(throws: AMQPError.returned(code: 312, text: "NO_ROUTE", exchange: exchange, routingKey: "nobody.home")) {
            try await connection.publish(AMQPMessage("hello?"), exchange: exchange, routingKey: "nobody.home", mandatory: true)
        }
        // Without `mandatory` the broker drops it and confirms: that is the AMQP contract.
        try await connection.publish(AMQPMessage("hello?"), exchange: exchange, routingKey: "nobody.home")
        try await connection.deleteExchange(exchange)
    }

    @Test func unroutableMandatoryMessageOfTheFastPathComesBackOnTheReturnedStreamInOrder() async throws {
        let connection = try await TestBroker.connect()
        defer { Task { await connection.close() } }
        let exchange = TestBroker.uniqueName("noroute-fast")
        try await connection.declare(ExchangeDeclaration(exchange, kind: .direct, durable: false, autoDelete: false))
        let queue = TestBroker.uniqueName("routed")
        try await connection.declare(QueueDeclaration(queue, durable: false, autoDelete: false))
        try await connection.bind(QueueBinding(queue: queue, exchange: exchange, routingKey: "home"))
        for n in 1...3 {
            try await connection.publishUnconfirmed(AMQPMessage("lost \(n)"), exchange: exchange, routingKey: "nobody.home", mandatory: true)
            try await connection.publishUnconfirmed(AMQPMessage("kept \(n)"), exchange: exchange, routingKey: "home", mandatory: true)
        }
        // Not mandatory: dropped by the broker, never returned.
        try await connection.publishUnconfirmed(AMQPMessage("dropped"), exchange: exchange, routingKey: "nobody.home")
        var returned: [AMQPReturnedMessage] = []
        for await message in connection.returnedMessages {
            returned.append(message)
            if returned.count == 3 { break }
        }
        #expect(returned.map { String(decoding: $0.message.body, as: UTF8.self) } == ["lost 1", "lost 2", "lost 3"])
        #expect(returned.allSatisfy { $0.exchange == exchange && $0.routingKey == "nobody.home" })
        #expect(returned.first?.error == AMQPError.returned(code: 312, text: "NO_ROUTE", exchange: exchange, routingKey: "nobody.home"))
        // The routed ones reached their queue.
        #expect(await eventually { (try? await connection.inspectQueue(queue).messageCount) == 3 })
        try await connection.deleteQueue(queue)
        try await connection.deleteExchange(exchange)
    }
}

/// Request/reply over direct reply-to.
@Suite struct RPCTests {
    @Test func requestGetsItsReply() async throws {
        let server = try await TestBroker.connect()
        let client = try await TestBroker.connect()
        defer { Task { await server.close(); await client.close() } }
        let queue = TestBroker.uniqueName("rpc")
        try await server.declare(QueueDeclaration(queue, durable: false, autoDelete: true))
        let serving = Task {
            try await server.serveRPC(queue: queue) { request in
                AMQPMessage("echo: " + String(decoding: request.body, as: UTF8.self))
            }
        }
        defer { serving.cancel() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<20 {
                group.addTask {
                    let reply = try await client.call(AMQPMessage("ping \(index)"), routingKey: queue)
                    #expect(String(decoding: reply.body, as: UTF8.self) == "echo: ping \(index)")
                }
            }
            try await group.waitForAll()
        }
    }

    @Test func unansweredRequestTimesOut() async throws {
        let client = try await TestBroker.connect()
        defer { Task { await client.close() } }
        let queue = TestBroker.uniqueName("silent")
        try await client.declare(QueueDeclaration(queue, durable: false, autoDelete: false))
        await #expect(throws: AMQPError.timedOut(operation: "RPC to '\(queue)'", after: .milliseconds(300))) {
            _ = try await client.call(AMQPMessage("anyone?"), routingKey: queue, timeout: .milliseconds(300))
        }
        try await client.deleteQueue(queue)
    }

    @Test func requestToAQueueThatDoesNotExistIsRefusedAtOnce() async throws {
        let client = try await TestBroker.connect()
        defer { Task { await client.close() } }
        await #expect {
            _ = try await client.call(AMQPMessage("hello"), routingKey: TestBroker.uniqueName("absent"), timeout: .seconds(20))
        } throws: { error in
            if case .returned(312, "NO_ROUTE", _, _) = error as? AMQPError { true } else { false }
        }
    }

    @Test func failingHandlerDeadLettersTheRequestAndKeepsServing() async throws {
        let server = try await TestBroker.connect()
        let client = try await TestBroker.connect()
        defer { Task { await server.close(); await client.close() } }
        let queue = TestBroker.uniqueName("rpc.poison")
        try await server.declare(QueueDeclaration(queue, durable: false, autoDelete: true))
        struct Refused: Error {}
        let serving = Task {
            try await server.serveRPC(queue: queue) { request in
                if request.body == Data("poison".utf8) { throw Refused() }
                return AMQPMessage("ok")
            }
        }
        defer { serving.cancel() }
        await #expect(throws: AMQPError.self) {
            _ = try await client.call(AMQPMessage("poison"), routingKey: queue, timeout: .milliseconds(500))
        }
        let reply = try await client.call(AMQPMessage("fine"), routingKey: queue)
        #expect(reply.body == Data("ok".utf8))
        #expect(try await server.inspectQueue(queue).messageCount == 0)
    }
}

/// The consistent-hash exchange that shards the ingest stream.
@Suite struct ConsistentHashTests {
    @Test func oneRoutingKeyAlwaysLandsOnOneQueueInOrder() async throws {
        let connection = try await TestBroker.connect()
        defer { Task { await connection.close() } }
        let exchange = TestBroker.uniqueName("hash")
        let shards = (0..<4).map { TestBroker.uniqueName("shard\($0)") }
        try await connection.declare(Topology(
            exchanges: [ExchangeDeclaration(exchange, kind: .consistentHash, durable: false, autoDelete: false)],
            queues: shards.map { QueueDeclaration($0, durable: false, autoDelete: false) },
            bindings: shards.map { QueueBinding(queue: $0, exchange: exchange, routingKey: "1") }))
        let sessions = (0..<40).map { String(format: "%09d", 100_000_000 + $0 * 7_919) }
        for sequence in 0..<25 {
            for session in sessions {
                try await connection.publishUnconfirmed(AMQPMessage("\(session):\(sequence)"), exchange: exchange, routingKey: session)
            }
        }
        // Unconfirmed messages travel on their own channel: wait until the broker has them all.
        let expected = sessions.count * 25
        let arrived = try await eventually {
            var sum = 0
            for shard in shards { sum += try await connection.inspectQueue(shard).messageCount }
            return sum == expected
        }
        #expect(arrived)

        var shardOfSession: [String: Int] = [:]
        var sequencesOfSession: [String: [Int]] = [:]
        var total = 0
        for (index, shard) in shards.enumerated() {
            let count = try await connection.inspectQueue(shard).messageCount
            guard count > 0 else { continue }
            let consumer = try await connection.consume(queue: shard, prefetch: 1000)
            for delivery in try await consumer.take(count) {
                let text = String(decoding: delivery.body, as: UTF8.self)
                let parts = text.split(separator: ":")
                let session = String(parts[0])
                #expect(shardOfSession[session, default: index] == index, "session \(session) split across shards")
                shardOfSession[session] = index
                sequencesOfSession[session, default: []].append(Int(parts[1])!)
                total += 1
            }
            await consumer.cancel()
        }
        #expect(total == expected)
        #expect(sequencesOfSession.values.allSatisfy { $0 == Array(0..<25) })
        #expect(Set(shardOfSession.values).count > 1, "40 sessions should spread over more than one shard")
        for shard in shards { try await connection.deleteQueue(shard) }
        try await connection.deleteExchange(exchange)
    }
}
