import AMQP
import CobrowseBroker
import CobrowseProtocol
@testable import DOMRelay
import Foundation
import ServiceKit
import TestSupport
import Testing

/// The relay's batching of what goes to the filter, through a real broker: one message per
/// shard and round, each session's records in order, a bound on what may wait.
@Suite struct IngestBatcherTests {
    static func session(onShard shard: Int) -> SessionID {
        while true {
            let id = SessionID.random()
            if CobrowseTopology.ingestShard(of: id) == shard { return id }
        }
    }

    /// A connection to a virtual host of its own, with the ingest exchange and shards declared.
    static func ingestTopology(_ name: String) async throws -> AMQPConnection {
        let connection = try await AMQPConnection.connect(url: try await TestBroker.isolatedVirtualHost(name))
        _ = try await connection.declare(CobrowseTopology.ingest(shards: CobrowseTopology.ingestShardCount))
        return connection
    }

    /// What reaches one ingest shard, acknowledged as it arrives.
    static func consume(shard: Int, on connection: AMQPConnection) async throws -> AMQPConsumer {
        try await connection.consume(queue: CobrowseTopology.ingestShardQueue(shard), prefetch: 1000, autoAck: true)
    }

    @Test func recordsGoToTheirSessionsShardInOrderAndBusyRoundsShareMessages() async throws {
        let connection = try await Self.ingestTopology("ingest-batcher")
        defer { Task { await connection.close() } }
        let shard0 = try await Self.consume(shard: 0, on: connection)
        let shard3 = try await Self.consume(shard: 3, on: connection)
        let batcher = IngestBatcher()
        let a = Self.session(onShard: 0), b = Self.session(onShard: 3)
        // Everything queued before the publishing task runs: one round, one message per shard.
        for seq in 1...300 {
            #expect(batcher.enqueue(.init(session: a, receivedAt: Int64(seq), body: Data("a\(seq)".utf8))))
            #expect(batcher.enqueue(.init(session: b, body: Data("b\(seq)".utf8))))
        }
        let publisher = Task { await batcher.run(on: connection) }
        defer { publisher.cancel() }
        var onShard0: [IngestBatch.Record] = [], messages0 = 0
        for try await delivery in shard0 {
            #expect(delivery.properties.contentType == IngestBatch.contentType)
            let decoded = IngestBatch.decode(delivery.body)
            #expect(decoded.error == nil)
            onShard0 += decoded.records
            messages0 += 1
            if onShard0.count == 300 { break }
        }
        #expect(messages0 == 1)
        #expect(onShard0.map(\.session) == Array(repeating: a, count: 300))
        #expect(onShard0.map { String(decoding: $0.body, as: UTF8.self) } == (1...300).map { "a\($0)" })
        #expect(onShard0.map(\.receivedAt) == (1...300).map { Int64($0) })
        var onShard3: [IngestBatch.Record] = []
        for try await delivery in shard3 {
            onShard3 += IngestBatch.decode(delivery.body).records
            if onShard3.count == 300 { break }
        }
        #expect(onShard3.map { String(decoding: $0.body, as: UTF8.self) } == (1...300).map { "b\($0)" })
        #expect(onShard3.allSatisfy { $0.receivedAt == nil })
    }

    @Test func aBigRecordStartsAMessageOfItsOwnAndOrderStillHolds() async throws {
        let connection = try await Self.ingestTopology("ingest-batcher-big")
        defer { Task { await connection.close() } }
        let shard = try await Self.consume(shard: 1, on: connection)
        let batcher = IngestBatcher(limits: .init(messageBytes: 1024))
        let session = Self.session(onShard: 1)
        let bodies = [Data("small 1".utf8), Data(repeating: 0x61, count: 4000), Data("small 2".utf8)]
        for body in bodies { batcher.enqueue(.init(session: session, body: body)) }
        let publisher = Task { await batcher.run(on: connection) }
        defer { publisher.cancel() }
        var received: [Data] = [], messages = 0
        for try await delivery in shard {
            received += IngestBatch.decode(delivery.body).records.map(\.body)
            messages += 1
            if received.count == 3 { break }
        }
        #expect(received == bodies)
        #expect(messages == 3)
    }

    @Test func aMessageNoQueueTakesIsHeldAndDeliveredInOrderOnceTheShardIsDeclaredAgain() async throws {
        let connection = try await Self.ingestTopology("ingest-batcher-held")
        defer { Task { await connection.close() } }
        // Shard 2's queue is gone (its node died); a filter declares it again a moment later.
        _ = try await connection.deleteQueue(CobrowseTopology.ingestShardQueue(2))
        let batcher = IngestBatcher(limits: .init(window: .zero, retryInterval: .milliseconds(20)))
        let session = Self.session(onShard: 2)
        let publisher = Task { await batcher.run(on: connection) }
        defer { publisher.cancel() }
        batcher.enqueue(.init(session: session, body: Data("snapshot".utf8)))
        // Records that come after the returned one wait behind it, in order.
        #expect(await eventually { batcher.returnedMessages >= 1 })
        for seq in 1...50 { batcher.enqueue(.init(session: session, body: Data("frame \(seq)".utf8))) }
        _ = try await connection.declare(CobrowseTopology.ingestShardTopology(2))
        let shard = try await Self.consume(shard: 2, on: connection)
        var received: [String] = []
        for try await delivery in shard {
            received += IngestBatch.decode(delivery.body).records.map { String(decoding: $0.body, as: UTF8.self) }
            if received.count >= 51 { break }
        }
        #expect(received == ["snapshot"] + (1...50).map { "frame \($0)" })
    }

    @Test func aMessageNoQueueTakesForTheWholeHoldIsDroppedAndCountedAsNoRoute() async throws {
        let connection = try await Self.ingestTopology("ingest-batcher-no-route")
        defer { Task { await connection.close() } }
        _ = try await connection.deleteQueue(CobrowseTopology.ingestShardQueue(5))
        let batcher = IngestBatcher(limits: .init(window: .zero, holdFor: .milliseconds(300), retryInterval: .milliseconds(20)))
        let publisher = Task { await batcher.run(on: connection) }
        defer { publisher.cancel() }
        for seq in 1...3 { batcher.enqueue(.init(session: Self.session(onShard: 5), body: Data("lost \(seq)".utf8))) }
        #expect(await eventually { batcher.recordsDroppedForNoRoute == 3 })
        #expect(batcher.returnedMessages >= 1)
        // Declared afterwards, the shard receives nothing of what was dropped, and new records flow.
        _ = try await connection.declare(CobrowseTopology.ingestShardTopology(5))
        let shard = try await Self.consume(shard: 5, on: connection)
        batcher.enqueue(.init(session: Self.session(onShard: 5), body: Data("after".utf8)))
        for try await delivery in shard {
            #expect(IngestBatch.decode(delivery.body).records.map { String(decoding: $0.body, as: UTF8.self) } == ["after"])
            break
        }
    }

    @Test func pastTheBoundNewRecordsAreRefusedNotQueued() {
        // No publishing task: nothing drains.
        let batcher = IngestBatcher(limits: .init(bufferedBytes: 10_000))
        let session = SessionID.random()
        var accepted = 0
        for _ in 0..<100 where batcher.enqueue(.init(session: session, body: Data(count: 1000))) { accepted += 1 }
        #expect(accepted == 9) // 1,048 bytes each counted, 10,000 allowed
        // One record always fits an empty buffer, however big (a snapshot over the bound).
        let empty = IngestBatcher(limits: .init(bufferedBytes: 10))
        #expect(empty.enqueue(.init(session: session, body: Data(count: 5000))))
    }
}
