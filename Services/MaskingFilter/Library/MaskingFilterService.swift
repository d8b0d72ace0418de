import ServiceKit

/// `masking-filter`: masks everything a sharer sends before any viewer gets it; checks agent actions.
public enum MaskingFilterService {
    public static let definition = ServiceDefinition(
        name: "masking-filter",
        defaultHTTPPort: 8082,
        topology: CobrowseTopology.maskingFilter,
        start: { _, _ in .idle }
    )
}
