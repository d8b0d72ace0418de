import AMQP
import CobrowseBroker
import CobrowseProtocol
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import Metrics
import ServiceKit
import Synchronization

/// What both sides share: budgets, the hub registration for the socket's life, the broker, refusals.
extension SocketRoutes {
    /// Whether a browser's message is within its socket's budget; over it, the message is
    /// dropped and counted, and a socket that keeps on is closed (1008, "over budget").
    func admit(_ message: WebSocketMessage, to budget: inout FrameBudget, _ side: SocketHub.Side,
                       _ outbound: WebSocketOutboundWriter) async throws -> Bool {
        let size = switch message {
        case let .text(text): text.utf8.count
        case let .binary(buffer): buffer.readableBytes
        }
        switch budget.admit(bytes: size) {
        case .pass:
            return true
        case .drop:
            RelayMetrics.refused(side, "over-budget")
            return false
        case .close:
            RelayMetrics.refused(side, "over-budget")
            RelayMetrics.closed("over-budget")
            logger.warning("socket closed: over its budget", metadata: ["side": "\(side)"])
            try await outbound.close(.policyViolation, reason: "over budget: too many messages or bytes per second")
            return false
        }
    }

    /// Registers the socket, runs its writer (hub → browser) beside `reader` (browser → relay),
    /// and unregisters when either ends. Returns whether the socket closed because its session
    /// ended (rather than the browser going away).
    @discardableResult
    func serve(_ side: SocketHub.Side, session: SessionID, outbound: WebSocketOutboundWriter, registry: RegistryClient,
                       lead: Bool = false, greeting: String? = nil, reader: () async throws -> Void) async throws -> Bool {
        let id = UUID()
        let (stream, continuation) = AsyncStream<Outbound>.makeStream(bufferingPolicy: .bufferingNewest(4096))
        try await hub.register(id, SocketHub.Socket(side: side, outbound: continuation, lead: lead), session: session, greeting: greeting)
        // An end between the registry's answer and the binding just made was published to no one
        // here: ask once more, now that any later end will arrive.
        if let view = try? await registry.send(.get(session: session)).session, view.state == .ended {
            for message in SocketHub.ended(view) { continuation.yield(message) }
        }
        let sessionEnded = Mutex(false)
        let writer = Task {
            for await message in stream {
                switch message {
                case let .text(text): try await outbound.write(.text(text))
                case let .close(reason):
                    // Closing ends the inbound stream too, which ends the reader.
                    sessionEnded.withLock { $0 = true }
                    try await outbound.close(.normalClosure, reason: reason)
                    return
                }
            }
        }
        defer {
            writer.cancel()
            continuation.finish()
        }
        do {
            try await reader()
        } catch {
            await hub.unregister(id, session: session)
            throw error
        }
        await hub.unregister(id, session: session)
        return sessionEnded.withLock { $0 }
    }

    /// The broker connection, waiting a moment for it: `/ready` turns green once the topology
    /// is declared, a beat before the relay's own queue is, and a browser may arrive in between.
    func broker(or outbound: WebSocketOutboundWriter) async throws -> AMQPConnection? {
        if let connection = await connectedBroker() { return connection }
        try await refuse(outbound, "unavailable", "the relay is not connected to the broker yet; try again")
        return nil
    }

    /// The broker connection, or nil if there is none within 5 s.
    func connectedBroker() async -> AMQPConnection? {
        await hub.connectedBroker()
    }

    func refuse(_ outbound: WebSocketOutboundWriter, _ code: String, _ message: String) async throws {
        try await outbound.write(.text(RelayMessage.error(code, message)))
        try await outbound.close(.policyViolation, reason: String(message.prefix(120)))
    }
}
