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

/// The relay's WebSocket endpoints; see docs/stream-protocol.md ("Relay sockets").
///
/// - `/ws/share`: the customer's SDK. First message `start` (interaction token) or `resume`
///   (session id + customer key); then stream frames, which go to the ingest exchange for the
///   masking filter; resync requests and session events come back.
/// - `/ws/view`: an agent console. First message `join` (agent token + session id); then it
///   receives the masked stream and session events. Joining asks the sharer for a snapshot.
struct RelayEndpoints: Sendable {
    let hub: SocketHub
    let allowedOrigins: Set<String>
    let maxFrameBytes: Int
    /// What one customer socket and one agent console may send per second.
    let sharerBudget: FrameBudget.Limits
    let viewerBudget: FrameBudget.Limits
    /// How long a new socket may take to send its opening message.
    let firstMessageTimeout: Duration
    /// The relay serves HTTPS itself (`TLS_CERT_FILE`): its own origin is https.
    let servesTLS: Bool
    /// Wrong session ids and keys per client address (and, for joins, per agent).
    let attempts: AttemptLimiter
    /// Who the client is behind the load balancer (`TRUSTED_PROXIES`).
    let clientAddresses: ClientAddresses
    /// What goes to the masking filter, batched per ingest shard.
    let ingest: IngestBatcher
    let logger: Logger

    func add(to router: Router<ServiceWebSocketRequestContext>) {
        router.ws("/ws/share", shouldUpgrade: { request, _ in try checkOrigin(request) }) { inbound, outbound, context in
            try await serveSharer(inbound.messages(maxSize: maxFrameBytes), outbound,
                                  client: client(of: context.request, remote: context.requestContext.remoteIPAddress))
        }
        router.ws("/ws/view", shouldUpgrade: { request, _ in try checkOrigin(request) }) { inbound, outbound, context in
            try await serveViewer(inbound.messages(maxSize: maxFrameBytes), outbound,
                                  client: client(of: context.request, remote: context.requestContext.remoteIPAddress))
        }
    }

    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!

    /// The client's address: the peer's, or what a trusted proxy says it is.
    func client(of request: Request, remote: String?) -> String {
        clientAddresses.client(peer: remote, forwardedFor: request.headers[values: Self.forwardedFor])
    }

    // MARK: Wrong attempts

    /// What a wrong attempt was: a sharer's `resume`, a `POST /cobrowse/end`, an agent's `join`.
    enum AttemptKind: String, Sendable {
        case resume, end, join
        /// A sharer's start with a voice code.
        case code
    }

    /// The one answer for "no such session" and "not yours": it says nothing about whether the id exists.
    static let noSuchSession = RegistryRefusal(.unknownSession, "no session with this id for these credentials")

    /// The keys an attempt counts against: the client's address, and the agent once the registry verified its token.
    static func addressKey(_ client: String) -> String { "address \(client)" }
    static func agentKey(_ agent: String) -> String { "agent \(agent)" }

    /// A refusal (with the seconds to wait) if one of `keys` made too many wrong attempts lately;
    /// then the request goes no further (the registry is not asked).
    func throttled(_ keys: [String], _ kind: AttemptKind, client: String) -> (refusal: RegistryRefusal, retryAfter: Int)? {
        for key in keys {
            guard let throttled = attempts.check(key) else { continue }
            let seconds = AttemptLimiter.seconds(throttled.retryAfter)
            RelayMetrics.throttled(kind.rawValue)
            if throttled.first {
                // Once per key and spell over the limit, not per request; never a token or key.
                logger.warning("too many wrong session ids, keys or codes: refusing for a while", metadata: [
                    "client": "\(client)", "kind": "\(kind.rawValue)", "by": "\(key.hasPrefix("agent ") ? "agent" : "address")",
                    "limit": "\(attempts.limits.limit) per \(attempts.limits.window)", "retry-after": "\(seconds)",
                ])
            }
            return (RegistryRefusal(.tooManyAttempts, "too many wrong session ids, keys or codes; try again in \(seconds) s"), seconds)
        }
        return nil
    }

    /// Counts a refusal that says the id and credential do not go together, and gives the answer
    /// the client sees: "unknown" and "not yours" answer alike where no credential proves more.
    /// `agent`: the agent a join's token names (counted only when the registry verified the token).
    func answer(_ refusal: RegistryRefusal, _ kind: AttemptKind, client: String, agent: String? = nil) -> RegistryRefusal {
        let wrong: Bool, verified: Bool, unified: Bool
        switch (kind, refusal.code) {
        case (.resume, .unknownSession), (.resume, .notAllowed), (.end, .unknownSession), (.end, .notAllowed):
            (wrong, verified, unified) = (true, false, true)
        case (.join, .unknownSession), (.join, .sessionTaken), (.join, .notActive):
            (wrong, verified, unified) = (true, true, true)
        case (.join, .sessionEnded):
            // Kept as it is: a reloaded console of the session's own lead needs it.
            (wrong, verified, unified) = (true, true, false)
        case (.join, .invalidToken):
            // The token proves nothing: it counts against the address only.
            (wrong, verified, unified) = (true, false, false)
        case (.code, .codeUnknown), (.code, .codeExpired), (.code, .codeUsed):
            // Guessing codes is guessing sessions: counted like wrong ids. Kept as they are, so the
            // customer hears whether to check the digits or ask for a new code.
            (wrong, verified, unified) = (true, false, false)
        default:
            return refusal
        }
        if wrong {
            RelayMetrics.wrongAttempt(kind.rawValue)
            attempts.record(Self.addressKey(client))
            if verified, let agent { attempts.record(Self.agentKey(agent)) }
        }
        return unified ? Self.noSuchSession : refusal
    }

    /// The agent an agent token names (its `agent_id` claim), unverified: only a key for counting,
    /// counted only after the registry verified the same token (a forged one never counts
    /// against a real agent).
    static func agent(ofToken token: String) -> String? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1].count <= 8192 else { return nil }
        var base64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64),
              let claims = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
        return claims["agent_id"] as? String
    }

    private func refuseThrottled(_ outbound: WebSocketOutboundWriter, _ throttled: (refusal: RegistryRefusal, retryAfter: Int)) async throws {
        try await outbound.write(.text(RelayMessage.encode([
            "t": "error", "code": throttled.refusal.code.rawValue, "message": throttled.refusal.message, "retryAfter": throttled.retryAfter,
        ])))
        try await outbound.close(.policyViolation, reason: "too many wrong attempts")
    }

    /// Browsers always send `Origin` on a WebSocket upgrade: it must be listed, or (with no list)
    /// be this relay's own origin. Programs that send none are let through; they prove
    /// themselves with tokens like everyone else.
    func checkOrigin(_ request: Request) throws -> RouterShouldUpgrade {
        // A declined upgrade is answered 400 by the WebSocket layer; a plain GET of the same
        // path reaches the HTTP routes below, which say why (403 or 426).
        refusedOrigin(request) == nil ? .upgrade([:]) : .dontUpgrade
    }

    /// The first presented Origin that may not connect (a browser sends exactly one).
    func refusedOrigin(_ request: Request) -> String? {
        request.headers[values: .origin].first { !allows(origin: $0, host: request.head.authority) }
    }

    /// What `/ws/…` answers when it is not upgraded: 403 for a refused origin, 426 otherwise.
    func addRefusals(to router: Router<ServiceRequestContext>) {
        for path in ["/ws/share", "/ws/view"] {
            router.get(RouterPath(path)) { request, _ -> Response in
                if let origin = refusedOrigin(request) {
                    throw HTTPError(.forbidden, message: "origin \(origin) is not allowed to open co-browse sockets")
                }
                throw HTTPError(.upgradeRequired, message: "this is a WebSocket endpoint")
            }
        }
    }

    /// `POST /cobrowse/end` `{"sessionId", "customerKey"}`: the customer's Exit when the SDK
    /// has no socket (reconnecting after a relay went away), so the registry records that the
    /// customer ended the session rather than, a grace later, that they were gone. The SDK
    /// sends it as a beacon (text/plain, no preflight); the customer key is the proof.
    func addCustomerEnd(to router: Router<ServiceRequestContext>) {
        router.post(RouterPath(Self.customerEndPath)) { request, context -> Response in
            if let origin = refusedOrigin(request) {
                return jsonResponse(.forbidden, RegistryRefusal(.notAllowed, "origin \(origin) may not end co-browse sessions"))
            }
            let body = try await request.body.collect(upTo: 4096)
            guard let end = try? JSONDecoder().decode(CustomerEnd.self, from: body), let id = SessionID(end.sessionId) else {
                return jsonResponse(.badRequest, RegistryRefusal(.malformedRequest, #"send {"sessionId": "<nine digits>", "customerKey": "<the key from started>"}"#))
            }
            let client = client(of: request, remote: context.remoteIPAddress)
            if let throttled = throttled([Self.addressKey(client)], .end, client: client) {
                var response = jsonResponse(throttled.refusal.httpStatus, throttled.refusal)
                response.headers[.retryAfter] = "\(throttled.retryAfter)"
                return response
            }
            guard let reply = await RegistryOverHTTP.reply(
                to: .end(session: id, by: .customer(key: end.customerKey)), over: await connectedBroker(), logger: logger,
                failure: "customer end not delivered to the registry", metadata: ["session": "\(id)"]) else {
                return RegistryOverHTTP.unavailable
            }
            if let refusal = reply.refusal {
                let answer = answer(refusal, .end, client: client)
                return jsonResponse(answer.httpStatus, answer)
            }
            logger.info("customer ended the session without a socket", metadata: ["session": "\(id)"])
            return Response(status: .noContent)
        }
    }

    static let customerEndPath = "/cobrowse/end"

    struct CustomerEnd: Decodable {
        let sessionId: String
        let customerKey: String
    }

    /// An origin on the list (or any, with `*`); with no list, the relay's own origin: the same
    /// host and port as the `Host` the browser connected to (a `Host` without a port means the
    /// default port of the origin's scheme), a scheme of http or https — https only when the
    /// relay itself serves TLS (behind a TLS-terminating load balancer it sees plain HTTP).
    func allows(origin: String, host: String?) -> Bool {
        if allowedOrigins.contains(origin) || allowedOrigins.contains("*") { return true }
        guard allowedOrigins.isEmpty, let host, let url = URL(string: origin), let scheme = url.scheme?.lowercased(),
              let originHost = url.host?.lowercased(), url.path.isEmpty, url.query == nil else { return false }
        let defaultPort: Int
        switch scheme {
        case "https": defaultPort = 443
        case "http" where !servesTLS: defaultPort = 80
        default: return false
        }
        let (hostName, hostPort) = Self.split(authority: host)
        return hostName == originHost && (hostPort ?? defaultPort) == (url.port ?? defaultPort)
    }

    /// `host[:port]` (an IPv6 literal in brackets), lower-cased; nil port when none is given.
    static func split(authority: String) -> (host: String, port: Int?) {
        let text = authority.lowercased()
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let name = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            return (name, rest.hasPrefix(":") ? Int(rest.dropFirst()) : nil)
        }
        guard let colon = text.lastIndex(of: ":") else { return (text, nil) }
        return (String(text[..<colon]), Int(text[text.index(after: colon)...]))
    }

    // MARK: Sharer

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
    private func answerRefusal(of reply: RegistryReply, to outbound: WebSocketOutboundWriter) async throws {
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
    private func openingDeadline(_ outbound: WebSocketOutboundWriter) -> Task<Void, Never> {
        Task {
            guard (try? await Task.sleep(for: firstMessageTimeout)) != nil else { return }
            RelayMetrics.closed("no-opening-message")
            try? await outbound.close(.policyViolation, reason: "no opening message within \(firstMessageTimeout)")
        }
    }

    private func serveSharer(_ messages: WebSocketInboundMessageStream, _ outbound: WebSocketOutboundWriter, client: String) async throws {
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
        let extra: [String: Any] = opening.t == "start" ? ["customerKey": customerKey, "maxFrameBytes": maxFrameBytes]
                                                         : ["maxFrameBytes": maxFrameBytes]
        try await outbound.write(.text(RelayMessage.session(opening.t == "start" ? "started" : "resumed", session, extra: extra)))
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
        try await serve(.sharer, session: session.id, outbound: outbound, registry: registry) {
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
    func requestSnapshot(_ reason: String, session: SessionID) throws {
        RelayMetrics.resyncRequested(reason)
        sendToFilter(try JSONEncoder().encode(RelayRequest.snapshotWanted(reason, at: Date().millisecondsSince1970)),
                     session: session)
    }

    /// Tells the session's sharer whether its lead agent is connected (for the customer's bar).
    private func announce(_ lead: RelayRequest.Lead, session: SessionID) {
        if let body = try? JSONEncoder().encode(RelayRequest.presence(lead)) { sendToFilter(body, session: session) }
    }

    // MARK: Viewer

    private func serveViewer(_ messages: WebSocketInboundMessageStream, _ outbound: WebSocketOutboundWriter, client: String) async throws {
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
        try await outbound.write(.text(RelayMessage.session("joined", session, extra: ["role": lead == nil ? "observer" : "lead"])))
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
            closedByEnd = try await serve(.viewer, session: id, outbound: outbound, registry: registry, lead: lead != nil) {
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
    private func leave(_ visit: Visit, session: SessionID, registry: RegistryClient) async {
        do {
            _ = try await registry.send(.observerLeft(session: session, agentID: visit.agentID, joinedAt: visit.joinedAt))
        } catch {
            logger.warning("observer's leave not recorded", metadata: ["session": "\(session)", "error": "\(error)"])
        }
    }

    // MARK: Shared

    /// Whether a browser's message is within its socket's budget; over it, the message is
    /// dropped and counted, and a socket that keeps on is closed (1008, "over budget").
    private func admit(_ message: WebSocketMessage, to budget: inout FrameBudget, _ side: SocketHub.Side,
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
    private func serve(_ side: SocketHub.Side, session: SessionID, outbound: WebSocketOutboundWriter, registry: RegistryClient,
                       lead: Bool = false, reader: () async throws -> Void) async throws -> Bool {
        let id = UUID()
        let (stream, continuation) = AsyncStream<Outbound>.makeStream(bufferingPolicy: .bufferingNewest(4096))
        try await hub.register(id, SocketHub.Socket(side: side, outbound: continuation, lead: lead), session: session)
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
    private func broker(or outbound: WebSocketOutboundWriter) async throws -> AMQPConnection? {
        if let connection = await connectedBroker() { return connection }
        try await refuse(outbound, "unavailable", "the relay is not connected to the broker yet; try again")
        return nil
    }

    /// The broker connection, or nil if there is none within 5 s.
    private func connectedBroker() async -> AMQPConnection? {
        await hub.connectedBroker()
    }

    private func refuse(_ outbound: WebSocketOutboundWriter, _ code: String, _ message: String) async throws {
        try await outbound.write(.text(RelayMessage.error(code, message)))
        try await outbound.close(.policyViolation, reason: String(message.prefix(120)))
    }
}

/// Tells the hub a socket's person did something, at most once a second: the watch's
/// timeouts are in seconds, and a cursor streams many frames a second.
struct ActivityThrottle {
    let hub: SocketHub
    private var last: ContinuousClock.Instant?

    init(hub: SocketHub) {
        self.hub = hub
    }

    mutating func touch(_ session: SessionID) async {
        let now = ContinuousClock.now
        if let last, now - last < .seconds(1) { return }
        last = now
        await hub.touch(session)
    }
}
