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

/// The customer's socket (`/ws/share`): start or resume, then stream frames to the filter and
/// the customer's commands to the registry.
extension SocketRoutes {
    struct Opening: Decodable {
        let t: String
        let interactionToken: String?
        /// A voice code, instead of `interactionToken` (docs/stream-protocol.md).
        let voiceCode: String?
        let sessionId: String?
        let customerKey: String?
        let agentToken: String?
    }

    struct WriteAnswer: Decodable {
        let approve: Bool
    }

    /// Tells the socket why the registry refused a command, if it did.
    func answerRefusal(of reply: RegistryReply, to outbound: WebSocketOutboundWriter) async throws {
        if let refusal = reply.refusal {
            try await outbound.write(.text(RelayMessage.error(refusal.code.rawValue, refusal.message)))
        }
    }

    /// The two fields every stream frame must have before it is forwarded (and a snapshot's
    /// connection id, for the pause the relay may send on the sharer's behalf).
    struct FrameHead: Decodable {
        let t: String
        let seq: Int?
        let stream: String?
    }

    /// Closes a socket that has not sent its opening message in time (a connection held open
    /// for nothing takes a descriptor from a real customer). Cancel it once the message came.
    func openingDeadline(_ outbound: WebSocketOutboundWriter) -> Task<Void, Never> {
        Task {
            guard (try? await Task.sleep(for: firstMessageTimeout)) != nil else { return }
            RelayMetrics.closed("no-opening-message")
            try? await outbound.close(.policyViolation, reason: "no opening message within \(firstMessageTimeout)")
        }
    }

    func serveSharer(_ messages: WebSocketInboundMessageStream, _ outbound: WebSocketOutboundWriter, client: String) async throws {
        var iterator = messages.makeAsyncIterator()
        guard let connection = try await broker(or: outbound) else { return }
        let deadline = openingDeadline(outbound)
        let first = try await iterator.next()
        deadline.cancel()
        guard case let .text(text)? = first, let opening = try? JSONDecoder().decode(Opening.self, from: Data(text.utf8)) else {
            return try await refuse(outbound, "malformed-request", "the first message must be {\"t\":\"start\"} or {\"t\":\"resume\"}")
        }
        let registry = RegistryClient(connection: connection)
        let reply: RegistryReply
        let customerKey: String
        switch (opening.t, opening.interactionToken, opening.sessionId.flatMap(SessionID.init), opening.customerKey) {
        case let ("start", token?, _, _):
            reply = try await registry.send(.create(interactionToken: token))
            customerKey = reply.customerKey ?? ""
        case ("start", nil, _, _) where opening.voiceCode != nil:
            if let throttled = throttled([Self.addressKey(client)], .code, client: client) {
                return try await refuseThrottled(outbound, throttled)
            }
            reply = try await registry.send(.startWithVoiceCode(code: String(opening.voiceCode!.prefix(16))))
            customerKey = reply.customerKey ?? ""
        case let ("resume", _, id?, key?):
            if let throttled = throttled([Self.addressKey(client)], .resume, client: client) {
                return try await refuseThrottled(outbound, throttled)
            }
            reply = try await registry.send(.resume(session: id, customerKey: key))
            customerKey = key
        default:
            return try await refuse(outbound, "malformed-request",
                                    "start needs interactionToken or voiceCode; resume needs sessionId and customerKey")
        }
        let session: SessionView
        do {
            session = try reply.get()
        } catch {
            let answer = opening.t == "resume" ? answer(error, .resume, client: client)
                : opening.voiceCode != nil && opening.interactionToken == nil ? answer(error, .code, client: client) : error
            return try await refuse(outbound, answer.code.rawValue, answer.message)
        }
        // The SDK learns the frame limit so it never sends a frame that would close its socket.
        var extra: [String: Any] = opening.t == "start" ? ["customerKey": customerKey, "maxFrameBytes": maxFrameBytes]
                                                         : ["maxFrameBytes": maxFrameBytes]
        if testHooks { extra["testHooks"] = true }
        // Sent once the socket's bindings exist (serve's greeting), so no notice published after
        // it (an agent joining at once) can miss this socket.
        let greeting = RelayMessage.session(opening.t == "start" ? "started" : "resumed", session, extra: extra)
        logger.info(opening.t == "start" ? "sharing started" : "sharer resumed", metadata: ["session": "\(session.id)"])
        defer { logger.info("sharer socket closed", metadata: ["session": "\(session.id)"]) }
        // The last seq forwarded from this socket: when the socket goes away without an end
        // (tab closed, customer left the site, network gone) viewers are told the stream paused,
        // in sequence. The sharer's next snapshot ends the pause.
        var lastSeq: Int?
        var stream: String?
        var activity = ActivityThrottle(hub: hub)
        defer {
            if let lastSeq {
                let paused = StreamFrame(seq: lastSeq + 1, .paused(.init(url: nil, stream: stream)))
                if let body = try? JSONEncoder().encode(paused) { sendToFilter(body, session: session.id) }
            }
        }
        try await serve(.sharer, session: session.id, outbound: outbound, registry: registry, greeting: greeting) {
            var budget = FrameBudget(sharerBudget)
            while let message = try await iterator.next() {
                guard try await admit(message, to: &budget, .sharer, outbound) else { continue }
                guard case let .text(text) = message else {
                    try await outbound.write(.text(RelayMessage.error("malformed-frame", "frames are JSON text")))
                    continue
                }
                let body = Data(text.utf8)
                RelayMetrics.received(.sharer, bytes: body.count)
                // The head is read by a scan of the top level (any depth; the filter decodes the
                // frame, or refuses it as too deep), not by decoding the whole frame here.
                guard let head = FrameCoding.head(of: body).map({ FrameHead(t: $0.t, seq: $0.seq, stream: $0.stream) }) else {
                    try await outbound.write(.text(RelayMessage.error("malformed-frame", "a frame is a JSON object with t and seq")))
                    continue
                }
                guard Self.sharerTypes.contains(head.t) else {
                    RelayMetrics.refused(.sharer, "not-supported")
                    try await outbound.write(.text(RelayMessage.error(
                        "not-supported", "a sharer may not send '\(head.t.prefix(40))'; see docs/stream-protocol.md")))
                    continue
                }
                switch head.t {
                case "end":
                    lastSeq = nil
                    _ = try await registry.send(.end(session: session.id, by: .customer(key: customerKey)))
                    continue // the ended event closes the socket
                case "answer-write", "revoke-write":
                    await activity.touch(session.id)
                    // The customer's consent: the registry changes the mode and tells everyone.
                    let approve = (try? JSONDecoder().decode(WriteAnswer.self, from: body))?.approve ?? false
                    let command: RegistryCommand = head.t == "revoke-write"
                        ? .revokeWrite(session: session.id, customerKey: customerKey)
                        : .answerWrite(session: session.id, customerKey: customerKey, approve: approve)
                    try await answerRefusal(of: registry.send(command), to: outbound)
                    continue
                default:
                    break
                }
                guard let seq = head.seq else {
                    try await outbound.write(.text(RelayMessage.error("malformed-frame", "frame '\(head.t)' has no seq")))
                    continue
                }
                if Self.customerActivity.contains(head.t) { await activity.touch(session.id) }
                // Without the broker a frame cannot be forwarded: it is dropped (the filter sees the
                // gap and asks for a snapshot once the broker is back), and the socket stays open.
                guard hub.brokerConnected else {
                    RelayMetrics.refused(.sharer, "broker-down")
                    lastSeq = seq
                    continue
                }
                if !sendToFilter(body, session: session.id, stamped: true) { RelayMetrics.refused(.sharer, "relay-busy") }
                lastSeq = seq
                if head.t == "snapshot" { stream = head.stream }
            }
        }
    }

    /// What a customer's socket may send after its opening message: the SDK's stream frames and
    /// its commands. Anything else (an agent action, a relay's own `paused`, the filter's
    /// notices) is refused with `not-supported`, so a sharer can never speak for another party.
    static let sharerTypes: Set<String> = ["snapshot", "mutations", "input", "scroll", "viewport", "cursor", "click", "detected",
                                           "end", "answer-write", "revoke-write"]
    /// What an agent console may send after `join`: its commands and the agent actions.
    static let viewerTypes: Set<String> = Set(["resync", "request-write", "end"]).union(AgentAction.types)

    /// Frames that mean the customer did something (for the inactivity timeout); mutations
    /// alone do not: a page can animate by itself.
    static let customerActivity: Set<String> = ["snapshot", "input", "click", "scroll", "cursor", "viewport"]

    /// Queues a message for the session's masking filter (`IngestBatcher`); false when the relay
    /// holds too much for the broker already and dropped it. `stamped`: a sharer's frame, marked
    /// with when it arrived, so the filter can shed it when late and the viewers' relays can
    /// measure the live path (the filter carries the mark over to the masked frame).
    @discardableResult
    func sendToFilter(_ body: Data, session: SessionID, stamped: Bool = false) -> Bool {
        ingest.enqueue(IngestBatch.Record(session: session, receivedAt: stamped ? Date().millisecondsSince1970 : nil, body: body))
    }

    /// Asks the session's sharer, wherever it is connected, for a fresh snapshot: through the
    /// filter, which alone writes to sharers and holds each session to one snapshot per interval.
    func requestSnapshot(_ reason: String, session: SessionID, reconnectedAt: Int64? = nil) throws {
        RelayMetrics.resyncRequested(reason)
        sendToFilter(try JSONEncoder().encode(RelayRequest.snapshotWanted(reason, at: Date().millisecondsSince1970,
                                                                          reconnectedAt: reconnectedAt)),
                     session: session)
    }

    /// Tells the session's sharer whether its lead agent is connected (for the customer's bar).
    func announce(_ lead: RelayRequest.Lead, session: SessionID) {
        if let body = try? JSONEncoder().encode(RelayRequest.presence(lead)) { sendToFilter(body, session: session) }
    }
}
