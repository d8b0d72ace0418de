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

/// An agent console's socket (`/ws/view`): join, then the masked stream out and the agent's
/// commands and actions in; an observer's visit ends with its socket.
extension SocketRoutes {
    func serveViewer(_ messages: WebSocketInboundMessageStream, _ outbound: WebSocketOutboundWriter, client: String) async throws {
        var iterator = messages.makeAsyncIterator()
        guard let connection = try await broker(or: outbound) else { return }
        let deadline = openingDeadline(outbound)
        let first = try await iterator.next()
        deadline.cancel()
        guard case let .text(text)? = first,
              let opening = try? JSONDecoder().decode(Opening.self, from: Data(text.utf8)), opening.t == "join",
              let token = opening.agentToken, let id = opening.sessionId.flatMap(SessionID.init) else {
            return try await refuse(outbound, "malformed-request", "the first message must be {\"t\":\"join\",\"agentToken\",\"sessionId\"}")
        }
        let agent = Self.agent(ofToken: token)
        if let throttled = throttled([Self.addressKey(client)] + (agent.map { [Self.agentKey($0)] } ?? []), .join, client: client) {
            return try await refuseThrottled(outbound, throttled)
        }
        let registry = RegistryClient(connection: connection)
        let reply = try await registry.send(.join(session: id, agentToken: token))
        let session: SessionView
        do {
            session = try reply.get()
        } catch {
            let answer = answer(error, .join, client: client, agent: agent)
            return try await refuse(outbound, answer.code.rawValue, answer.message)
        }
        // Only the lead agent acts; observers (supervisors) watch.
        let lead: String? = if case let .agent(agent)? = reply.actor, session.leadAgentID == agent { agent } else { nil }
        var extra: [String: Any] = ["role": lead == nil ? "observer" : "lead"]
        if testHooks { extra["testHooks"] = true }
        let greeting = RelayMessage.session("joined", session, extra: extra) // sent by serve, once bound
        logger.info("viewer joined", metadata: ["session": "\(id)", "role": "\(lead == nil ? "observer" : "lead")"])
        defer { logger.info("viewer socket closed", metadata: ["session": "\(id)"]) }
        var activity = ActivityThrottle(hub: hub)
        // The customer's bar says the agent is reconnecting while the lead's console is away
        // (a reload, a dropped network, the back-forward cache) and the session goes on.
        var closedByEnd = false
        defer {
            if lead != nil, !closedByEnd { announce(.reconnecting, session: id) }
        }
        // An observer's visit ends when its socket closes (the session's end closes it otherwise).
        let visit = lead == nil ? Self.openVisit(of: reply.actor, in: session) : nil
        do {
            closedByEnd = try await serve(.viewer, session: id, outbound: outbound, registry: registry, lead: lead != nil,
                                          greeting: greeting) {
                // Ask the sharer (wherever it is connected) for a snapshot this viewer can start from.
                try requestSnapshot("a viewer joined", session: id)
                if lead != nil { announce(.connected, session: id) }
                var budget = FrameBudget(viewerBudget)
                while let message = try await iterator.next() {
                    guard try await admit(message, to: &budget, .viewer, outbound) else { continue }
                    if case let .text(text) = message { RelayMetrics.received(.viewer, bytes: text.utf8.count) }
                    guard case let .text(text) = message, let head = try? JSONDecoder().decode(FrameHead.self, from: Data(text.utf8)) else {
                        try await outbound.write(.text(RelayMessage.error("malformed-request", "messages are JSON objects with t")))
                        continue
                    }
                    guard Self.viewerTypes.contains(head.t) else {
                        RelayMetrics.refused(.viewer, "not-supported")
                        try await outbound.write(.text(RelayMessage.error(
                            "not-supported", "unknown message '\(head.t.prefix(40))'; see docs/stream-protocol.md for what viewers may send")))
                        continue
                    }
                    if head.t != "resync" { await activity.touch(id) }
                    switch head.t {
                    case "resync":
                        // The console saw a gap in the filter's sequence: a fresh snapshot. Only the
                        // lead asks; an observer's view follows the lead's snapshots.
                        guard lead != nil else {
                            RelayMetrics.refused(.viewer, "not-allowed")
                            try await outbound.write(.text(RelayMessage.error("not-allowed", "only the lead agent asks for a resync")))
                            continue
                        }
                        try requestSnapshot("a viewer saw a gap", session: id)
                    case "request-write":
                        try await answerRefusal(of: registry.send(.requestWrite(session: id, agentToken: token)), to: outbound)
                    case "end":
                        try await answerRefusal(of: registry.send(.end(session: id, by: .agent(token: token))), to: outbound)
                    default:
                        guard let action = try? JSONDecoder().decode(AgentAction.self, from: Data(text.utf8)) else {
                            try await outbound.write(.text(RelayMessage.error(
                                "not-supported", "unknown message '\(head.t)'; see docs/stream-protocol.md for what viewers may send")))
                            continue
                        }
                        guard let lead else {
                            try await outbound.write(.text(RelayMessage.error("not-allowed", "observers watch; only the lead agent acts")))
                            continue
                        }
                        // Without the broker an action cannot reach the filter: dropped (a pointer move is
                        // stale a moment later), never holding the console's socket.
                        guard hub.brokerConnected else {
                            RelayMetrics.refused(.viewer, "broker-down")
                            continue
                        }
                        // Through the filter, on the session's shard: it checks mode and rules in stream order.
                        if !sendToFilter(try JSONEncoder().encode(AgentActionFrame(agent: lead, action: action)), session: id) {
                            RelayMetrics.refused(.viewer, "relay-busy")
                        }
                    }
                }
            }
        } catch {
            if let visit { await leave(visit, session: id, registry: registry) }
            throw error
        }
        if let visit, !closedByEnd { await leave(visit, session: id, registry: registry) }
    }

    /// The observer's visit its join opened: the newest open one of that supervisor.
    static func openVisit(of actor: Actor?, in session: SessionView) -> Visit? {
        guard case let .supervisor(agentID)? = actor else { return nil }
        return session.visits.last { $0.agentID == agentID && $0.role == .supervisor && $0.leftAt == nil }
    }

    /// Records that an observer left. Best effort: without the broker the visit stays open
    /// until the session ends, which closes every visit.
    func leave(_ visit: Visit, session: SessionID, registry: RegistryClient) async {
        do {
            _ = try await registry.send(.observerLeft(session: session, agentID: visit.agentID, joinedAt: visit.joinedAt))
        } catch {
            logger.warning("observer's leave not recorded", metadata: ["session": "\(session)", "error": "\(error)"])
        }
    }
}
