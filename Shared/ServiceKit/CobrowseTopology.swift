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

    /// Header the filter puts on a masked frame: when the sharer's relay got the frame
    /// (milliseconds since 1970, from its ingest record), so the viewer's relay measures the live path.
    public static let receivedAtHeader = "x-received-ms"

    public static let registryRPCQueue = "cobrowse.registry.rpc"
    public static let interactionsQueue = "interaction-watch.interactions"
    public static let deadLetterQueue = "cobrowse.dead.letters"
    public static let ingestShardCount = 4

    public static func ingestShardQueue(_ index: Int) -> String { "cobrowse.ingest.shard.\(index)" }

    /// The routing key of an ingest shard on `cobrowse.ingest`.
    public static func ingestRoutingKey(shard: Int) -> String { "shard.\(shard)" }

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
    ].map { ($0.name, $0) })

    /// Dead letters are kept (bounded) for operators to inspect.
    public static let deadLetters = Topology(
        exchanges: [exchanges[deadLetterExchange]!],
        queues: [QueueDeclaration(deadLetterQueue, arguments: ["x-max-length": 100_000])],
        bindings: [QueueBinding(queue: deadLetterQueue, exchange: deadLetterExchange, routingKey: "#")])

    /// Ingest shards: one active consumer each (order per session), bounded, stale frames expire
    /// (a viewer resyncs from a fresh snapshot anyway), overflow refused so the relay knows.
    public static let ingest = Topology(
        exchanges: [exchanges[ingestExchange]!],
        queues: (0..<ingestShardCount).map {
            QueueDeclaration(ingestShardQueue($0), arguments: [
                "x-single-active-consumer": true, "x-max-length": 100_000, "x-overflow": "reject-publish",
                "x-message-ttl": 60_000, "x-dead-letter-exchange": .string(deadLetterExchange),
            ])
        },
        bindings: (0..<ingestShardCount).map {
            QueueBinding(queue: ingestShardQueue($0), exchange: ingestExchange, routingKey: ingestRoutingKey(shard: $0))
        })

    public static let sessionRegistry = deadLetters.merging(Topology(
        exchanges: [exchanges[lifecycleExchange]!],
        queues: [QueueDeclaration(registryRPCQueue, arguments: [
            "x-single-active-consumer": true, "x-message-ttl": 30_000, "x-dead-letter-exchange": .string(deadLetterExchange),
        ])]))

    public static let domRelay = deadLetters.merging(Topology(exchanges: [
        exchanges[ingestExchange]!, exchanges[viewExchange]!, exchanges[sharerExchange]!, exchanges[lifecycleExchange]!,
        exchanges[activityExchange]!,
    ]))

    public static let maskingFilter = deadLetters.merging(ingest).merging(Topology(exchanges: [
        exchanges[viewExchange]!, exchanges[sharerExchange]!, exchanges[lifecycleExchange]!,
    ]))

    public static let interactionWatch = deadLetters.merging(Topology(
        exchanges: [exchanges[interactionsExchange]!, exchanges[lifecycleExchange]!, exchanges[activityExchange]!],
        queues: [QueueDeclaration(interactionsQueue, arguments: [
            "x-single-active-consumer": true, "x-dead-letter-exchange": .string(deadLetterExchange),
        ])],
        bindings: [QueueBinding(queue: interactionsQueue, exchange: interactionsExchange, routingKey: "#")]))

    /// Everything, as `definitions.json` should hold it.
    public static let all = sessionRegistry.merging(domRelay).merging(maskingFilter).merging(interactionWatch)
}
