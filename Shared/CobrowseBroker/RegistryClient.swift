import AMQP
import CobrowseProtocol
import Foundation

/// Talks to the session registry over its RPC queue.
public struct RegistryClient: Sendable {
    let connection: AMQPConnection
    let timeout: Duration

    public init(connection: AMQPConnection, timeout: Duration = .seconds(10)) {
        self.connection = connection
        self.timeout = timeout
    }

    /// Sends one command; the reply holds the session or a refusal. Throws only for transport
    /// problems: `returned` when the RPC queue does not exist, `timedOut` when no registry
    /// answers in time (the queue exists but nothing consumes it, or the registry is slow).
    public func send(_ command: RegistryCommand) async throws -> RegistryReply {
        let body = try JSONEncoder.cobrowse.encode(RegistryRequest(command))
        let reply = try await connection.call(AMQPMessage(body: body, properties: AMQPProperties(contentType: "application/json")),
                                              routingKey: CobrowseTopology.registryRPCQueue, timeout: timeout)
        return try JSONDecoder.cobrowse.decode(RegistryReply.self, from: reply.body)
    }

    /// Sends raw bytes (for tests of malformed requests).
    public func sendRaw(_ body: Data) async throws -> RegistryReply {
        let reply = try await connection.call(AMQPMessage(body: body), routingKey: CobrowseTopology.registryRPCQueue, timeout: timeout)
        return try JSONDecoder.cobrowse.decode(RegistryReply.self, from: reply.body)
    }
}
