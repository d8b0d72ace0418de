import ServiceKit

/// `session-registry`: owns co-browse sessions, their state machine and mode; serves the registry RPC queue.
public enum SessionRegistryService {
    public static let definition = ServiceDefinition(
        name: "session-registry",
        defaultHTTPPort: 8081,
        topology: CobrowseTopology.sessionRegistry,
        work: ServiceDefinition.untilShutdown
    )
}
