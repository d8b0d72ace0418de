import ServiceKit

/// `dom-relay`: the public edge: WebSockets for sharers and viewers, the SDK and the agent console.
public enum DOMRelayService {
    public static let definition = ServiceDefinition(
        name: "dom-relay",
        defaultHTTPPort: 8080,
        topology: CobrowseTopology.domRelay,
        start: { _, _ in .idle }
    )
}
