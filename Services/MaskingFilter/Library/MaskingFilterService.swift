import ServiceKit

/// `masking-filter`: masks everything a sharer sends before any viewer gets it, by the
/// masking rules (passwords always, scripts never pass), and fails closed when it lacks a
/// session's snapshot.
public enum MaskingFilterService {
    public static let definition = ServiceDefinition(
        name: "masking-filter",
        defaultHTTPPort: 8082,
        topology: CobrowseTopology.maskingFilter,
        variables: [MaskingRulesConfiguration.variable],
        start: { configuration, logger in
            let rules = try MaskingRulesConfiguration.load(configuration.environment)
            return ServiceParts { connection in
                // Rules reload beside the stream; sessions pick up a new generation on their next frame or tick.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { await rules.watch(logger: logger) }
                    defer { group.cancelAll() }
                    try await FilterWorker(connection: connection, logger: logger, rules: rules).run()
                }
            }
        }
    )
}
