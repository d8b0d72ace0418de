import AMQP
import CobrowseProtocol
import Foundation
import Logging
import ServiceKit

/// What the relay reads from its environment, beyond what every service reads.
public struct RelayConfiguration: Sendable {
    public static let allowedOrigins = EnvironmentVariable(
        "ALLOWED_ORIGINS", default: "",
        "Comma-separated origins whose pages may open co-browse sockets (`*` for any); empty: the relay's own origin only.")
    public static let maxFrameBytes = EnvironmentVariable(
        "MAX_FRAME_BYTES", default: "4194304", "Largest WebSocket message (a page snapshot) accepted; bigger closes the socket.")
    public static let variables = [allowedOrigins, maxFrameBytes]

    public var allowedOrigins: Set<String>
    public var maxFrameBytes: Int

    public init(_ environment: ServiceEnvironment) throws {
        allowedOrigins = Set(environment.string(Self.allowedOrigins).split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        maxFrameBytes = try environment.int(Self.maxFrameBytes, in: 1024...(64 << 20))
    }
}

/// `dom-relay`: the public edge. WebSockets for sharers and viewers; stateless beyond its
/// sockets, with one exclusive queue per instance whose bindings follow the sockets.
public enum DOMRelayService {
    public static let definition = ServiceDefinition(
        name: "dom-relay",
        defaultHTTPPort: 8080,
        topology: CobrowseTopology.domRelay,
        variables: RelayConfiguration.variables,
        start: start
    )

    static func start(_ configuration: ServiceConfiguration, logger: Logger) async throws -> ServiceParts {
        let relay = try RelayConfiguration(configuration.environment)
        let hub = SocketHub()
        let endpoints = RelayEndpoints(hub: hub, allowedOrigins: relay.allowedOrigins, maxFrameBytes: relay.maxFrameBytes)
        return ServiceParts(
            addRoutes: { router in endpoints.addRefusals(to: router) },
            addWebSocketRoutes: { router in endpoints.add(to: router) },
            maxWebSocketFrame: relay.maxFrameBytes,
            work: { connection in
                // This instance's own queue: a slow relay drops its oldest frames (viewers resync)
                // rather than growing without bound.
                let queue = try await connection.declare(QueueDeclaration.serverNamedExclusive(arguments: [
                    "x-max-length": 100_000, "x-overflow": "drop-head",
                ]))
                await hub.attach(connection: connection, queue: queue.name)
                for try await delivery in try await connection.consume(queue: queue.name, prefetch: 1000) {
                    await hub.deliver(exchange: delivery.exchange, routingKey: delivery.routingKey, body: delivery.body)
                    delivery.ack()
                }
            })
    }
}
