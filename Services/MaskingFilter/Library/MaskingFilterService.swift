import CobrowseBroker
import ServiceKit

/// `masking-filter`: masks everything a sharer sends before any viewer gets it, by the
/// masking rules (passwords always, scripts never pass), and fails closed when it lacks a
/// session's snapshot.
public enum MaskingFilterService {
    public static let shedFramesAfter = EnvironmentVariable(
        "SHED_FRAMES_AFTER", default: "1",
        "Seconds a sharer's frame may wait on its ingest shard; later ones are dropped unread and the session resyncs from a fresh snapshot (`0`: never).")
    public static let shedCursorsAfter = EnvironmentVariable(
        "SHED_CURSORS_AFTER", default: "0.25",
        "Seconds a cursor frame may wait on its ingest shard; later ones are skipped, without a resync (`0`: never).")

    /// The shedding limits the environment sets (`0`: that kind is never shed).
    public static func shedding(_ environment: ServiceEnvironment) throws -> SheddingPolicy {
        func limit(_ variable: EnvironmentVariable) throws -> Duration? {
            let value = try environment.seconds(variable, in: 0...3600)
            return value == .zero ? nil : value
        }
        return SheddingPolicy(frames: try limit(shedFramesAfter), cursors: try limit(shedCursorsAfter))
    }

    public static let definition = ServiceDefinition(
        name: "masking-filter",
        defaultHTTPPort: 8082,
        topology: CobrowseTopology.maskingFilter,
        variables: [MaskingRulesConfiguration.variable, shedFramesAfter, shedCursorsAfter, IngestShards.variable],
        start: { configuration, logger in
            let rules = try MaskingRulesConfiguration.load(configuration.environment)
            let shedding = try shedding(configuration.environment)
            let shardCount = try IngestShards.count(configuration.environment)
            let member = FilterGroup.memberName(instanceID: configuration.instanceID)
            // Every shard exists before the filter says it is ready, whoever consumes it, so
            // relays' frames always have a queue to wait in.
            return ServiceParts(beforeClose: { connection in
                await FilterGroup.sayGoodbye(member: member, shardCount: shardCount, on: connection, logger: logger)
            }, topology: CobrowseTopology.ingest(shards: shardCount)) { connection in
                // Rules reload beside the stream; sessions pick up a new generation on their next frame or tick.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { await rules.watch(logger: logger) }
                    defer { group.cancelAll() }
                    try await FilterWorker(connection: connection, logger: logger, rules: rules, shardCount: shardCount,
                                           member: member, shedding: shedding).run()
                }
            }
        }
    )
}
