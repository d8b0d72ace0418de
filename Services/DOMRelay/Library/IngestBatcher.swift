import AMQP
import CobrowseProtocol
import Foundation
import Metrics
import ServiceKit
import Synchronization

/// Coalesces what this relay sends the masking filter into one AMQP message per ingest shard
/// (`IngestBatch`), because the broker's cost is per message. It adds no wait to a quiet relay:
/// a record is published as soon as the publishing task is free. Only once the relay is busy
/// (a round carried more than one record for a shard) does the task wait `window` before the
/// next round, so batches grow with the load.
///
/// Order holds per session: a session's records go to one shard, one task publishes the
/// shards' messages in the order their records came, on one channel.
final class IngestBatcher: Sendable {
    struct Limits: Sendable {
        /// How long a busy relay gathers records before the next round (`INGEST_BATCH_WINDOW`).
        var window: Duration = .milliseconds(5)
        /// A message is closed at this size; a bigger record (a snapshot) goes in one of its own.
        var messageBytes = 256 << 10
        /// What may wait in all: a record beyond it is refused (the broker is slower than the
        /// sharers; the filter sees the gap and asks for a snapshot).
        var bufferedBytes = 32 << 20
    }

    private struct Chunk {
        var data = Data()
        var records = 0
    }

    private struct State {
        /// Per shard, the messages to publish in order; the last one may still grow.
        var pending: [Int: [Chunk]] = [:]
        var bufferedBytes = 0
        /// The publishing task has been woken since it last took the pending messages.
        var woken = false
    }

    let limits: Limits
    let shardCount: Int
    private let state = Mutex(State())
    private let wakes: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private static let messages = Counter(label: "cobrowse_relay_ingest_messages_total")
    private static let records = Counter(label: "cobrowse_relay_ingest_records_total")

    init(limits: Limits = Limits(), shardCount: Int = CobrowseTopology.ingestShardCount) {
        self.limits = limits
        self.shardCount = shardCount
        (wakes, wake) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues a record for its session's shard; false when the relay already holds
    /// `bufferedBytes` for the broker (the record is dropped: count it, the filter resyncs).
    @discardableResult
    func enqueue(_ record: IngestBatch.Record) -> Bool {
        let shard = CobrowseTopology.ingestShard(of: record.session, count: shardCount)
        let size = record.body.count + 48
        let wakeNow: Bool? = state.withLock { state in
            guard state.bufferedBytes + size <= limits.bufferedBytes || state.bufferedBytes == 0 else { return nil }
            state.bufferedBytes += size
            var chunks = state.pending.removeValue(forKey: shard) ?? []
            if chunks.isEmpty || chunks[chunks.count - 1].data.count + size > limits.messageBytes {
                chunks.append(Chunk())
            }
            IngestBatch.append(record, to: &chunks[chunks.count - 1].data)
            chunks[chunks.count - 1].records += 1
            state.pending[shard] = chunks
            defer { state.woken = true }
            return !state.woken
        }
        guard let wakeNow else { return false }
        if wakeNow { wake.yield() }
        return true
    }

    /// Publishes the queued messages until cancelled. A message the broker does not take (the
    /// connection is down past its wait) is dropped with its records, counted as `broker-down`.
    func run(on connection: AMQPConnection) async {
        for await _ in wakes {
            let taken = state.withLock { state in
                defer {
                    state.pending = [:]
                    state.bufferedBytes = 0
                    state.woken = false
                }
                return state.pending
            }
            var busy = false
            for (shard, chunks) in taken {
                let key = CobrowseTopology.ingestRoutingKey(shard: shard)
                for chunk in chunks {
                    busy = busy || chunk.records > 1
                    do {
                        try await connection.publishUnconfirmed(
                            AMQPMessage(body: chunk.data, properties: AMQPProperties(contentType: IngestBatch.contentType)),
                            exchange: CobrowseTopology.ingestExchange, routingKey: key)
                        Self.messages.increment()
                        Self.records.increment(by: chunk.records)
                    } catch {
                        RelayMetrics.refused(.sharer, "broker-down", count: chunk.records)
                    }
                }
            }
            if busy, limits.window > .zero { try? await Task.sleep(for: limits.window) }
        }
    }
}
