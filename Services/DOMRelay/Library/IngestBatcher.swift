import AMQP
import CobrowseBroker
import CobrowseProtocol
import Foundation
import Logging
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
///
/// Messages are mandatory. One the broker returns (no queue for its shard: the shard's node
/// died and a filter is declaring it again elsewhere) is held with everything after it for that
/// shard and published again, confirmed and one at a time, until a queue takes it; so the
/// snapshot a relay asks for after losing its node is not lost to a shard that is briefly
/// missing, which would cost the session a second resync.
final class IngestBatcher: Sendable {
    struct Limits: Sendable {
        /// How long a busy relay gathers records before the next round (`INGEST_BATCH_WINDOW`).
        var window: Duration = .milliseconds(5)
        /// A message is closed at this size; a bigger record (a snapshot) goes in one of its own.
        var messageBytes = 256 << 10
        /// What may wait in all: a record beyond it is refused (the broker is slower than the
        /// sharers; the filter sees the gap and asks for a snapshot).
        var bufferedBytes = 32 << 20
        /// How long a returned message is held and tried again before it is dropped (`no-route`:
        /// no filter declared its shard; the filter resyncs the session when one does).
        var holdFor: Duration = .seconds(10)
        /// The pause between attempts at a held shard.
        var retryInterval: Duration = .milliseconds(100)
    }

    /// A shard whose queue was missing: its messages wait here, oldest first.
    private struct HeldShard {
        var chunks: [Chunk] = []
        var bytes = 0
        let since: ContinuousClock.Instant
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
        /// Messages the broker returned, in the order it returned them.
        var returned: [(shard: Int, chunk: Chunk)] = []
        var returnedTotal = 0
        var droppedNoRoute = 0
    }

    let limits: Limits
    let shardCount: Int
    private let state = Mutex(State())
    private let wakes: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private static let messages = Counter(label: "cobrowse_relay_ingest_messages_total")
    private static let records = Counter(label: "cobrowse_relay_ingest_records_total")
    private static let returned = Counter(label: "cobrowse_relay_ingest_returned_total")
    private static let heldShards = Gauge(label: "cobrowse_relay_ingest_held_shards")

    private let logger: Logger

    init(limits: Limits = Limits(), shardCount: Int = CobrowseTopology.ingestShardCount,
         logger: Logger = Logger(label: "dom-relay")) {
        self.limits = limits
        self.shardCount = shardCount
        self.logger = logger
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

    /// Publishes the queued messages until cancelled, and takes back those the broker returns.
    /// A message the broker does not take (the connection is down past its wait) is dropped
    /// with its records, counted as `broker-down`.
    func run(on connection: AMQPConnection) async {
        await withDiscardingTaskGroup { group in
            group.addTask { [self] in
                for await returned in connection.returnedMessages { takeBack(returned) }
            }
            await publish(on: connection)
            group.cancelAll()
        }
    }

    /// Messages the broker has returned so far (each also counted in `cobrowse_relay_ingest_returned_total`).
    var returnedMessages: Int { state.withLock { $0.returnedTotal } }
    /// Records dropped because no queue took them within `holdFor` (`no-route`).
    var recordsDroppedForNoRoute: Int { state.withLock { $0.droppedNoRoute } }

    /// A message no queue took: held for its shard and tried again by the publishing task.
    func takeBack(_ returned: AMQPReturnedMessage) {
        guard returned.exchange == CobrowseTopology.ingestExchange,
              let shard = CobrowseTopology.ingestShard(routingKey: returned.routingKey) else { return }
        var reader = IngestBatch.Reader(returned.message.body)
        var records = 0
        while (try? reader.next()) != nil { records += 1 }
        let wakeNow = state.withLock { state in
            state.returned.append((shard, Chunk(data: returned.message.body, records: records)))
            state.returnedTotal += 1
            defer { state.woken = true }
            return !state.woken
        }
        Self.returned.increment()
        if wakeNow { wake.yield() }
    }

    private func publish(on connection: AMQPConnection) async {
        var held: [Int: HeldShard] = [:]
        for await _ in wakes {
            let (taken, returned) = state.withLock { state in
                defer {
                    state.pending = [:]
                    state.returned = []
                    state.bufferedBytes = 0
                    state.woken = false
                }
                return (state.pending, state.returned)
            }
            for (shard, chunk) in returned { hold(chunk, shard: shard, in: &held) }
            var busy = false
            for (shard, chunks) in taken {
                // Behind a held message, the shard's next ones wait their turn.
                if held[shard] != nil {
                    for chunk in chunks { hold(chunk, shard: shard, in: &held) }
                    continue
                }
                let key = CobrowseTopology.ingestRoutingKey(shard: shard)
                for chunk in chunks {
                    busy = busy || chunk.records > 1
                    do {
                        try await connection.publishUnconfirmed(
                            AMQPMessage(body: chunk.data, properties: AMQPProperties(contentType: IngestBatch.contentType)),
                            exchange: CobrowseTopology.ingestExchange, routingKey: key, mandatory: true)
                        Self.messages.increment()
                        Self.records.increment(by: chunk.records)
                    } catch {
                        RelayMetrics.refused(.sharer, "broker-down", count: chunk.records)
                    }
                }
            }
            for shard in held.keys.sorted() {
                held[shard] = await retry(held[shard]!, shard: shard, on: connection)
            }
            Self.heldShards.record(held.count)
            if !held.isEmpty {
                try? await Task.sleep(for: limits.retryInterval)
                wake.yield()
            } else if busy, limits.window > .zero {
                try? await Task.sleep(for: limits.window)
            }
        }
    }

    /// Adds a message to its shard's held ones, unless they already hold `bufferedBytes`.
    private func hold(_ chunk: Chunk, shard: Int, in held: inout [Int: HeldShard]) {
        if held[shard] == nil {
            logger.info("an ingest shard has no queue: holding its messages until a filter declares it",
                        metadata: ["shard": "\(shard)"])
        }
        var entry = held[shard] ?? HeldShard(since: .now)
        guard entry.bytes + chunk.data.count <= limits.bufferedBytes else {
            droppedForNoRoute(chunk.records)
            return
        }
        entry.chunks.append(chunk)
        entry.bytes += chunk.data.count
        held[shard] = entry
    }

    /// Publishes a held shard's messages in order, each confirmed (a confirm without a return
    /// says a queue took it), until one comes back again; nil once all are taken. Past
    /// `holdFor`, or when the broker cannot be reached, the rest is dropped.
    private func retry(_ entry: HeldShard, shard: Int, on connection: AMQPConnection) async -> HeldShard? {
        var entry = entry
        let key = CobrowseTopology.ingestRoutingKey(shard: shard)
        while let chunk = entry.chunks.first {
            let reason: String
            do {
                try await connection.publish(
                    AMQPMessage(body: chunk.data, properties: AMQPProperties(contentType: IngestBatch.contentType)),
                    exchange: CobrowseTopology.ingestExchange, routingKey: key, mandatory: true)
                entry.chunks.removeFirst()
                entry.bytes -= chunk.data.count
                continue
            } catch AMQPError.returned {
                guard ContinuousClock.now - entry.since >= limits.holdFor else { return entry }
                reason = "no-route"
            } catch {
                // The connection is gone (a reconnecting relay asks its sharers for snapshots).
                reason = "broker-down"
            }
            let records = entry.chunks.reduce(0) { $0 + $1.records }
            logger.warning("dropped the messages held for an ingest shard", metadata: [
                "shard": "\(shard)", "reason": "\(reason)", "records": "\(records)"])
            if reason == "no-route" { droppedForNoRoute(records) } else { RelayMetrics.refused(.sharer, reason, count: records) }
            return nil
        }
        logger.info("an ingest shard has a queue again: its held messages went out", metadata: [
            "shard": "\(shard)", "heldFor": "\(ContinuousClock.now - entry.since)"])
        return nil
    }

    private func droppedForNoRoute(_ records: Int) {
        state.withLock { $0.droppedNoRoute += records }
        RelayMetrics.refused(.sharer, "no-route", count: records)
    }
}
