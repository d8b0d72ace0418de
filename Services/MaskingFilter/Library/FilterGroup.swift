import AMQP
import CobrowseBroker
import Foundation
import Logging
import Metrics
import ServiceKit
import Synchronization

/// The running filters and the ingest shards this one takes among them. Each filter publishes
/// a heartbeat on `cobrowse.filter.presence` (fanout) and hears everyone's on a queue of its
/// own; from the members heard lately every filter computes the same `ShardAssignment`. While
/// two filters briefly disagree, a shard's single active consumer keeps it to one of them.
struct FilterGroup: Sendable {
    let connection: AMQPConnection
    /// This filter's name in the group: unique per process, sorted with the others'.
    let member: String
    let shardCount: Int
    let heartbeat: Duration
    let expiry: Duration
    let logger: Logger

    static let members = Gauge(label: "cobrowse_filter_group_members")
    /// Members of this process that said goodbye (the process is stopping).
    private static let departed = Mutex<Set<String>>([])
    static let owned = Gauge(label: "cobrowse_filter_shards_owned")
    static let disagreements = Counter(label: "cobrowse_filter_group_shard_count_mismatches_total")

    /// How long the shares wait for more newcomers (`FilterMembership.settle`).
    let settle: Duration

    init(connection: AMQPConnection, member: String, shardCount: Int, heartbeat: Duration = .seconds(1),
         expiry: Duration = .milliseconds(3500), settle: Duration = .milliseconds(1500), logger: Logger) {
        self.connection = connection
        self.member = member
        self.shardCount = shardCount
        self.heartbeat = heartbeat
        self.expiry = expiry
        self.settle = settle
        self.logger = logger
    }

    /// A filter's name in the group: its instance id, plus a suffix, since two processes may
    /// share an INSTANCE_ID (the host name by default).
    static func memberName(instanceID: String) -> String {
        "\(instanceID)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    private enum Event: Sendable {
        case heard(FilterPresence)
        case tick
    }

    /// Runs until cancelled, calling `assign` with this filter's shards once it has listened for
    /// the others for `settle` (alone, it takes them all), and again whenever the group changes:
    /// at once when a filter leaves, `settle` after the last newcomer when filters join. (The
    /// goodbye is `sayGoodbye`'s, at shutdown.)
    func run(assign: @escaping @Sendable ([Int]) async -> Void) async throws {
        let queue = try await connection.declare(QueueDeclaration.serverNamedExclusive())
        try await connection.bind(QueueBinding(queue: queue.name, exchange: CobrowseTopology.filterPresenceExchange, routingKey: ""))
        let consumer = try await connection.consume(queue: queue.name, prefetch: 64, autoAck: true)
        var membership = FilterMembership(expiry: expiry, settle: settle, startedAt: .now)
        var current: [Int]?
        let decoder = JSONDecoder()
        let (events, feed) = AsyncThrowingStream<Event, any Error>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    for try await delivery in consumer {
                        if let presence = try? decoder.decode(FilterPresence.self, from: delivery.body) { feed.yield(.heard(presence)) }
                    }
                    feed.finish()
                } catch {
                    feed.finish(throwing: error)
                }
            }
            group.addTask {
                // Ticks four times per heartbeat, so a settled join is applied promptly.
                while !Task.isCancelled {
                    feed.yield(.tick)
                    try await Task.sleep(for: heartbeat / 4)
                }
            }
            defer { group.cancelAll() }
            var lastHeartbeat: ContinuousClock.Instant?
            for try await event in events {
                let now = ContinuousClock.now
                switch event {
                case .tick:
                    // No heartbeat after the goodbye: it would deal this filter in again.
                    if lastHeartbeat.map({ now - $0 >= heartbeat }) ?? true, !Self.departed.withLock({ $0.contains(member) }) {
                        lastHeartbeat = now
                        try? await Self.publish(FilterPresence(filter: member, shards: shardCount), on: connection)
                    }
                    _ = membership.expire(now: now)
                case let .heard(presence) where presence.filter == member:
                    continue
                case let .heard(presence) where presence.shards != shardCount:
                    // Sharing shards with a filter that counts them differently would split sessions.
                    Self.disagreements.increment()
                    logger.error("a filter counts a different number of ingest shards; ignoring it until INGEST_SHARDS agrees",
                                 metadata: ["filter": "\(presence.filter)", "its": "\(presence.shards)", "ours": "\(shardCount)"])
                    continue
                case let .heard(presence):
                    if presence.leaving {
                        _ = membership.left(presence.filter)
                    } else {
                        _ = membership.heard(presence.filter, at: now)
                    }
                }
                guard membership.mayAssign(now: now) else { continue }
                let shards = ShardAssignment.shards(of: member, among: membership.members, count: shardCount)
                guard shards != current else { continue }
                current = shards
                let filters = membership.members.union([member]).count
                Self.members.record(filters)
                Self.owned.record(shards.count)
                logger.info("ingest shards assigned", metadata: [
                    "filters": "\(filters)", "shards": "\(shards.map(String.init).joined(separator: ","))",
                ])
                await assign(shards)
            }
        }
    }

    private static func publish(_ presence: FilterPresence, on connection: AMQPConnection) async throws {
        try await connection.publishUnconfirmed(
            AMQPMessage(body: try JSONEncoder().encode(presence), properties: AMQPProperties(contentType: "application/json")),
            exchange: CobrowseTopology.filterPresenceExchange, routingKey: "")
    }

    /// Tells the others, before the connection closes at shutdown, so they take this filter's
    /// shards at once instead of after `expiry`.
    static func sayGoodbye(member: String, shardCount: Int, on connection: AMQPConnection, logger: Logger) async {
        departed.withLock { _ = $0.insert(member) }
        do {
            try await publish(FilterPresence(filter: member, shards: shardCount, leaving: true), on: connection)
            logger.info("said goodbye to the other filters")
        } catch {
            logger.warning("could not say goodbye to the other filters; they take the shards after the heartbeat expiry",
                           metadata: ["error": "\(error)"])
        }
    }
}
