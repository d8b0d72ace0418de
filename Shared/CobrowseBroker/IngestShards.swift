import AMQP
import Logging
import ServiceKit

/// How many ingest shards relays spread sessions over and filters share out (`INGEST_SHARDS`).
/// Every relay and filter must use the same count: a session's shard is its id modulo the count.
public enum IngestShards {
    public static let variable = EnvironmentVariable(
        "INGEST_SHARDS", default: "\(CobrowseTopology.ingestShardCount)",
        "Ingest shards (1–1024): the most filters that share the masking work. The same value in every relay and filter (and in definitions.json); checked against the broker at start.")

    public static func count(_ environment: ServiceEnvironment) throws -> Int {
        try environment.int(variable, in: 1...1024)
    }

    /// Refuses to run beside services (or queues left behind) with more shards: with ours, queue
    /// `cobrowse.ingest.shard.<count>` cannot exist. (One with fewer shards finds ours and refuses.)
    public static func check(_ count: Int, on connection: AMQPConnection, logger: Logger) async throws {
        let extra = CobrowseTopology.ingestShardQueue(count)
        do {
            _ = try await connection.inspectQueue(extra)
        } catch let AMQPError.channelClosedByBroker(code, _) where code == 404 {
            return
        }
        let error = ConfigurationError(
            variable: variable.name, value: "\(count)",
            expected: "the count every relay and filter uses, but the broker has \(extra): another relay or filter counts more shards, or the queues of a larger count were left (delete them after lowering it)")
        logger.critical("\(error)")
        throw error
    }
}
