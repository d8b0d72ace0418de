import AMQP
import CobrowseProtocol
import Foundation
import Synchronization

/// Talks to the session registry over its RPC queue. Every request is sealed to the registry
/// process's key (`RequestSealing`), which the client asks for once per connection and again
/// when the registry says it does not hold it (it restarted, or a standby took over).
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
        guard command != .sealingKey else { return try await call(body) }
        let known = Self.keys.withLock { $0[ObjectIdentifier(connection)] }
        if let known {
            let reply = try await call(try RequestSealing.seal(body, to: known))
            guard reply.refusal?.code == .sealingKeyUnknown else { return reply }
        }
        // No key yet, or a registry that does not hold it: ask, then seal to the answer.
        let asked = try await call(try JSONEncoder.cobrowse.encode(RegistryRequest(.sealingKey)))
        guard let key = asked.sealingKey else { return asked } // a refusal: pass it on
        Self.keys.withLock { $0[ObjectIdentifier(connection)] = key }
        return try await call(try RequestSealing.seal(body, to: key))
    }

    /// Sends raw bytes (for tests of malformed requests).
    public func sendRaw(_ body: Data) async throws -> RegistryReply {
        try await call(body)
    }

    private func call(_ body: Data) async throws -> RegistryReply {
        let reply = try await connection.call(AMQPMessage(body: body, properties: AMQPProperties(contentType: "application/json")),
                                              routingKey: CobrowseTopology.registryRPCQueue, timeout: timeout)
        return try JSONDecoder.cobrowse.decode(RegistryReply.self, from: reply.body)
    }

    /// The registry's key as each connection last heard it. (A connection's identifier can be
    /// reused after it is gone; the registry then says the key is unknown, and it is asked again.)
    private static let keys = Mutex<[ObjectIdentifier: SealingKey]>([:])
}
