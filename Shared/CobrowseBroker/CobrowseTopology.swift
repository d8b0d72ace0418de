import AMQP
import CobrowseProtocol

/// The suite's exchanges and queues in one place. `deploy/rabbitmq/definitions.json` holds the
/// same (a test keeps them equal); each service declares its part at start, idempotently.
public enum CobrowseTopology {
    /// Relays → filter: direct, routing key `shard.<n>`. A relay picks each session's shard
    /// (`ingestShard(of:)`), so one message can carry many sessions' frames (`IngestBatch`)
    /// and one session always stays on one shard.
    public static let ingestExchange = "cobrowse.ingest"
    /// Filter → viewers' relays, routing key `s.<session id>`.
    public static let viewExchange = "cobrowse.view"
    /// Filter → sharer's relay (approved agent actions, resync requests), routing key `s.<session id>`.
    public static let sharerExchange = "cobrowse.sharer"
    /// Registry → everyone: session created, joined, mode changed, ended.
    public static let lifecycleExchange = "cobrowse.lifecycle"
    /// Where rejected, expired and overflowing messages go, with the broker's x-death reason.
    public static let deadLetterExchange = "cobrowse.dead"
    /// Contact center → interaction watch.
    public static let interactionsExchange = "contact.interactions"
    /// Relays → interaction watch: who is connected to each session and how long it has been idle.
    public static let activityExchange = "cobrowse.activity"
    /// Filters → filters: each filter's heartbeat, from which all of them share out the ingest shards.
    public static let filterPresenceExchange = "cobrowse.filter.presence"

    /// Header the filter puts on a masked frame: when the sharer's relay got the frame
    /// (milliseconds since 1970, from its ingest record), so the viewer's relay measures the live path.
    public static let receivedAtHeader = "x-received-ms"

    public static let registryRPCQueue = "cobrowse.registry.rpc"
    /// Relays → any filter: the rules editor's previews (`RulesPreview`), served by every filter.
    public static let rulesPreviewQueue = "cobrowse.filter.preview"
    public static let interactionsQueue = "interaction-watch.interactions"
    public static let deadLetterQueue = "cobrowse.dead.letters"
    /// The shard count of `definitions.json` and of services that do not set `INGEST_SHARDS`.
    public static let ingestShardCount = 16

    public static func ingestShardQueue(_ index: Int) -> String { "cobrowse.ingest.shard.\(index)" }

    /// The routing key of an ingest shard on `cobrowse.ingest`.
    public static func ingestRoutingKey(shard: Int) -> String { "shard.\(shard)" }

    /// The shard of an ingest routing key (`shard.<n>`); nil for any other key.
    public static func ingestShard(routingKey: String) -> Int? {
        guard routingKey.hasPrefix("shard.") else { return nil }
        return Int(routingKey.dropFirst("shard.".count))
    }

    /// The shard a session's frames go to. Session ids are uniformly random, so their value
    /// spreads sessions evenly; every relay computes the same shard for a session.
    public static func ingestShard(of session: SessionID, count: Int = ingestShardCount) -> Int {
        Int(session.digits)! % count
    }

    static let exchanges: [String: ExchangeDeclaration] = Dictionary(uniqueKeysWithValues: [
        ExchangeDeclaration(ingestExchange, kind: .direct),
        ExchangeDeclaration(viewExchange, kind: .topic),
        ExchangeDeclaration(sharerExchange, kind: .topic),
        ExchangeDeclaration(lifecycleExchange, kind: .topic),
        ExchangeDeclaration(deadLetterExchange, kind: .topic),
        ExchangeDeclaration(interactionsExchange, kind: .topic),
        ExchangeDeclaration(activityExchange, kind: .topic),
        ExchangeDeclaration(filterPresenceExchange, kind: .fanout),
    ].map { ($0.name, $0) })

    /// A durable queue replicated over the cluster's nodes (Raft): it survives any minority of
    /// nodes dying. What operators tune on it (TTL, length, dead-lettering) is in `policies`.
    static func quorumQueue(_ name: String, singleActiveConsumer: Bool = false) -> QueueDeclaration {
        var arguments: AMQPTable = ["x-queue-type": "quorum"]
        if singleActiveConsumer { arguments["x-single-active-consumer"] = true }
        return QueueDeclaration(name, durable: true, arguments: arguments)
    }

    /// Dead letters are kept (bounded by a policy) for operators to inspect.
    public static let deadLetters = Topology(
        exchanges: [exchanges[deadLetterExchange]!],
        queues: [quorumQueue(deadLetterQueue)],
        bindings: [QueueBinding(queue: deadLetterQueue, exchange: deadLetterExchange, routingKey: "#")])

    /// One ingest shard: one active consumer (order per session). Transient and classic on
    /// purpose: a stale frame is worth nothing (a viewer resyncs from a fresh snapshot), so
    /// frames are never written to disk nor replicated, and when the node holding the queue dies
    /// the broker deletes it and the filters declare it again on a node that lives.
    public static func ingestShardDeclaration(_ index: Int) -> QueueDeclaration {
        QueueDeclaration(ingestShardQueue(index), durable: false, arguments: ["x-single-active-consumer": true])
    }

    /// Ingest shard `index` with its binding: what a filter declares for each shard.
    public static func ingestShardTopology(_ index: Int) -> Topology {
        Topology(queues: [ingestShardDeclaration(index)],
                 bindings: [QueueBinding(queue: ingestShardQueue(index), exchange: ingestExchange, routingKey: ingestRoutingKey(shard: index))])
    }

    /// Every ingest shard of a count, with the exchange.
    public static func ingest(shards count: Int) -> Topology {
        (0..<count).reduce(Topology(exchanges: [exchanges[ingestExchange]!])) { $0.merging(ingestShardTopology($1)) }
    }

    public static let sessionRegistry = deadLetters.merging(Topology(
        exchanges: [exchanges[lifecycleExchange]!],
        queues: [quorumQueue(registryRPCQueue, singleActiveConsumer: true)]))

    public static let domRelay = deadLetters.merging(Topology(exchanges: [
        exchanges[ingestExchange]!, exchanges[viewExchange]!, exchanges[sharerExchange]!, exchanges[lifecycleExchange]!,
        exchanges[activityExchange]!,
    ]))

    /// The rules editor's preview requests carry a customer's page: transient and classic, like
    /// the ingest shards (never on disk); a filter declares it again if its node died with it.
    public static let rulesPreviewDeclaration = QueueDeclaration(rulesPreviewQueue, durable: false)

    /// The filter's fixed part; the shards it declares itself, as many as `INGEST_SHARDS` says.
    public static let maskingFilter = deadLetters.merging(Topology(exchanges: [
        exchanges[ingestExchange]!, exchanges[viewExchange]!, exchanges[sharerExchange]!, exchanges[lifecycleExchange]!,
        exchanges[filterPresenceExchange]!,
    ], queues: [rulesPreviewDeclaration]))

    public static let interactionWatch = deadLetters.merging(Topology(
        exchanges: [exchanges[interactionsExchange]!, exchanges[lifecycleExchange]!, exchanges[activityExchange]!],
        queues: [quorumQueue(interactionsQueue, singleActiveConsumer: true)],
        bindings: [QueueBinding(queue: interactionsQueue, exchange: interactionsExchange, routingKey: "#")]))

    /// What operators tune on the suite's queues, applied by the broker (`definitions.json`'s
    /// `policies`), so a change needs no redeclaration: a queue's arguments cannot change
    /// once it exists, a policy can at any time.
    public static let policies: [BrokerPolicy] = [
        BrokerPolicy(name: "cobrowse-registry-rpc", pattern: "^cobrowse\\.registry\\.rpc$", definition: [
            // A request nobody served in 30 s is dead: its caller gave up long ago.
            "message-ttl": 30_000, "dead-letter-exchange": .string(deadLetterExchange),
        ]),
        BrokerPolicy(name: "cobrowse-interactions", pattern: "^interaction-watch\\.interactions$", definition: [
            "dead-letter-exchange": .string(deadLetterExchange),
        ]),
        BrokerPolicy(name: "cobrowse-dead-letters", pattern: "^cobrowse\\.dead\\.letters$", definition: [
            "max-length": 100_000,
        ]),
        // Bounded, overflow refused so the relay knows; stale frames expire and are gone: a page
        // that was never masked must not wait in the dead letters (a quorum queue, on disk).
        BrokerPolicy(name: "cobrowse-ingest-shards", pattern: "^cobrowse\\.ingest\\.shard\\.[0-9]+$", definition: [
            "max-length": 100_000, "overflow": "reject-publish", "message-ttl": 60_000,
        ]),
    ]

    /// Everything, as `definitions.json` should hold it.
    public static let all = sessionRegistry.merging(domRelay).merging(maskingFilter).merging(interactionWatch)
        .merging(ingest(shards: ingestShardCount))
}
