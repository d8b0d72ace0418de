import ServiceKit

/// `masking-filter`: masks everything a sharer sends before any viewer gets it (passwords
/// always, scripts never pass), and fails closed when it lacks a session's snapshot.
public enum MaskingFilterService {
    public static let definition = ServiceDefinition(
        name: "masking-filter",
        defaultHTTPPort: 8082,
        topology: CobrowseTopology.maskingFilter,
        start: { _, logger in
            ServiceParts { connection in try await FilterWorker(connection: connection, logger: logger).run() }
        }
    )
}
