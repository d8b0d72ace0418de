import ServiceKit

/// `interaction-watch`: follows contact-center interactions and ends co-browse sessions when they should end.
public enum InteractionWatchService {
    public static let definition = ServiceDefinition(
        name: "interaction-watch",
        defaultHTTPPort: 8083,
        topology: CobrowseTopology.interactionWatch,
        start: { _, _ in .idle }
    )
}
