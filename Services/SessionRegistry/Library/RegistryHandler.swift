import CobrowseBroker
import CobrowseProtocol
import Crypto
import Foundation
import Logging

/// Turns one RPC body into one reply: decode, verify tokens, apply the rules in a store
/// transaction. Bad input of any kind is a refusal, never a thrown error, so the RPC consumer
/// acks every request exactly once and nothing is requeued forever.
public struct RegistryHandler: Sendable {
    let store: any SessionStoring
    let verifier: TokenVerifier
    let rules: SessionRules
    let logger: Logger
    /// The voice codes agents asked for (in memory: see `VoiceCodes`).
    public let voiceCodes: VoiceCodes
    /// This process's key for sealed requests (`RequestSealing`).
    public let opener: RequestOpener
    /// The masking filters' last health reports (in memory: see `LiveHealth`).
    public let health: LiveHealth
    let now: @Sendable () -> Date

    public init(store: any SessionStoring, verifier: TokenVerifier, rules: SessionRules, logger: Logger,
                voiceCodes: VoiceCodes = VoiceCodes(), opener: RequestOpener = RequestOpener(),
                health: LiveHealth = LiveHealth(), now: @escaping @Sendable () -> Date = Date.init) {
        self.opener = opener
        self.health = health
        self.store = store
        self.verifier = verifier
        self.rules = rules
        self.logger = logger
        self.voiceCodes = voiceCodes
        self.now = now
    }

    /// How far the contact center's clock may be behind ours when a transfer is matched to sessions.
    static let clockSlack: TimeInterval = 5

    /// Requests larger than this are refused unread (a request is a few hundred bytes).
    public static let maxRequestBytes = 64 * 1024

    public func reply(to body: Data) async -> RegistryReply {
        guard body.count <= Self.maxRequestBytes else {
            return .refused(RegistryRefusal(.malformedRequest, "request of \(body.count) bytes is over the \(Self.maxRequestBytes)-byte limit"))
        }
        let request: RegistryRequest
        do {
            request = try JSONDecoder.cobrowse.decode(RegistryRequest.self, from: body)
        } catch {
            return .refused(RegistryRefusal(.malformedRequest, "not a registry request: \(describeDecodingFailure(error))"))
        }
        guard request.version <= RegistryProtocol.version else {
            return .refused(RegistryRefusal(.unsupportedVersion,
                "request version \(request.version) is newer than this registry's \(RegistryProtocol.version)"))
        }
        do {
            let reply = try await execute(request.command)
            log(request.command, reply)
            return reply
        } catch let refusal as RegistryRefusal {
            logger.info("refused", metadata: ["command": "\(request.command.name)", "code": "\(refusal.code.rawValue)"])
            return .refused(refusal)
        } catch {
            logger.error("registry store failed", metadata: ["command": "\(request.command.name)", "error": "\(error)"])
            return .refused(RegistryRefusal(.unavailable, "the session registry cannot serve this now; try again"))
        }
    }

    /// The reply to a request from the RPC queue, where a command with a credential must come
    /// sealed to this process's key (so that no credential rests in the queue in clear): a
    /// sealed request is opened and answered; one sealed to another key is refused
    /// `sealing-key-unknown` (the client asks for the key again); an unsealed command with a
    /// credential is refused `credentials-in-clear`. Everything else is as `reply(to:)`.
    public func reply(toQueued body: Data) async -> RegistryReply {
        guard body.count <= Self.maxRequestBytes else { return await reply(to: body) }
        guard RequestSealing.isSealed(body) else {
            if let request = try? JSONDecoder.cobrowse.decode(RegistryRequest.self, from: body),
               request.version <= RegistryProtocol.version, request.command.carriesCredentials {
                logger.warning("refused a request that carried a credential unsealed", metadata: ["command": "\(request.command.name)"])
                return .refused(RegistryRefusal(.credentialsInClear, "\(request.command.name) carries a credential: seal it to the registry's key (sealingKey)"))
            }
            return await reply(to: body)
        }
        let opened: Data
        do {
            opened = try opener.open(body)
        } catch .unknownKey {
            return .refused(RegistryRefusal(.sealingKeyUnknown, "sealed to a key this registry does not hold; ask for sealingKey again"))
        } catch {
            return .refused(RegistryRefusal(.malformedRequest, "a sealed request that does not open"))
        }
        guard !RequestSealing.isSealed(opened) else { return .refused(RegistryRefusal(.malformedRequest, "a sealed request inside another")) }
        return await reply(to: opened)
    }

    public func execute(_ command: RegistryCommand) async throws -> RegistryReply {
        let now = self.now().wholeMilliseconds
        let rules = self.rules
        switch command {
        case let .create(token):
            let grant = try await verifier.interaction(token, now: now)
            let key = Self.newCustomerKey()
            let record = try await store.create(grant: grant, customerKeyHash: Self.hash(key), now: now)
            return .ok(record.view, customerKey: key)

        case let .join(id, token):
            let agent = try await verifier.agent(token, now: now)
            // A session started with a voice code is the call's: its agent leads it (observers may watch).
            if agent.role == .agent, let lead = voiceCodes.lead(of: id), lead != agent.id {
                throw RegistryRefusal(.notAllowed, "this session was started with another agent's voice code")
            }
            return .ok(try await store.change(id, by: agent.actor, now: now) { record, context in
                try rules.join(&record, agent: agent, agentHoldsAnotherLiveSession: context.actorLeadsAnotherLiveSession, now: now)
            }.view, actor: agent.actor)

        case let .observerLeft(id, agentID, joinedAt):
            return .ok(try await store.change(id, by: .supervisor(agentID), now: now) { record, _ in
                rules.observerLeft(&record, agentID: agentID, joinedAt: joinedAt, now: now)
            }.view)

        case let .requestWrite(id, token):
            let agent = try await verifier.agent(token, now: now)
            return .ok(try await store.change(id, by: agent.actor, now: now) { record, _ in
                try rules.requestWrite(&record, agent: agent, now: now)
            }.view)

        case let .answerWrite(id, key, approve):
            return .ok(try await store.change(id, by: .customer, now: now) { record, _ in
                try Self.requireCustomer(key, of: record)
                return try rules.answerWrite(&record, approve: approve, now: now)
            }.view)

        case let .revokeWrite(id, key):
            return .ok(try await store.change(id, by: .customer, now: now) { record, _ in
                try Self.requireCustomer(key, of: record)
                return try rules.revokeWrite(&record, now: now)
            }.view)

        case let .end(id, credential):
            let (actor, reason): (Actor, EndReason)
            let customerKey: String? = if case let .customer(key) = credential { key } else { nil }
            switch credential {
            case .customer:
                (actor, reason) = (.customer, .customerExited)
            case let .agent(token):
                let agent = try await verifier.agent(token, now: now)
                (actor, reason) = (agent.actor, .agentExited)
            case let .system(name, why):
                (actor, reason) = (.system(name), why)
            case .administrator:
                (actor, reason) = (.administrator, .administrator)
            }
            return .ok(try await store.change(id, by: actor, now: now) { record, _ in
                if let customerKey { try Self.requireCustomer(customerKey, of: record) }
                if case let .agent(agentID) = actor, record.view.state != .ended, record.view.leadAgentID != agentID {
                    throw RegistryRefusal(.notAllowed, "only the agent leading this session can end it")
                }
                if case .supervisor = actor, record.view.state != .ended {
                    throw RegistryRefusal(.notAllowed, "observers cannot end a session")
                }
                return try rules.end(&record, reason: reason, by: actor, now: now)
            }.view)

        case let .get(id):
            guard let record = try await store.session(id) else { throw RegistryRefusal.unknownSession(id) }
            return .ok(record.view)

        case let .endInteraction(interactionID, reason, occurredAt, system):
            guard [.interactionEnded, .interactionTransferred, .interactionConferenced].contains(reason) else {
                throw RegistryRefusal(.malformedRequest, "an interaction ends sessions only with an interaction reason, not '\(reason.rawValue)'")
            }
            // An end covers every session, whenever created (and is remembered). A transfer or
            // conference covers those created before it, so a late or repeated event cannot end
            // a session started afterwards with the new agent; the slack allows for clocks that
            // disagree by a few seconds.
            let createdBefore = reason == .interactionEnded ? nil : occurredAt.addingTimeInterval(Self.clockSlack)
            return .list(try await store.endInteraction(interactionID, reason: reason, createdBefore: createdBefore,
                                                        remember: reason == .interactionEnded, by: .system(system),
                                                        rules: rules, now: now))

        case .listLive:
            return .list(try await store.liveSessions())

        case .sealingKey:
            return .sealing(opener.publicKey)

        case let .reportHealth(reports):
            guard reports.count <= SessionHealth.perRequest, reports.allSatisfy(\.isPlausible) else {
                throw RegistryRefusal(.malformedRequest, "a health report holds at most \(SessionHealth.perRequest) sessions, each a window of up to a minute with counts and latencies that could be measured")
            }
            health.record(reports, now: now)
            return .list([])

        case let .superviseLive(token):
            let agent = try await verifier.agent(token, now: now)
            guard agent.role == .supervisor else {
                throw RegistryRefusal(.notAllowed, "only a supervisor's token shows every live session")
            }
            let sessions = try await store.liveSessions().map { view in
                let reading = health.reading(of: view.id)
                return SupervisedSession(view, health: reading?.latest, recentResyncs: reading?.recentResyncs ?? 0, now: now)
            }
            return .supervising(Supervision(at: now, sessions: sessions))

        case let .recordMasking(id, delta):
            guard delta.maskedElements >= 0, delta.maskedValues >= 0, delta.droppedActionsTotal >= delta.droppedActions.count, delta.resyncRequests >= 0,
                  delta.detectorHits.values.allSatisfy({ $0 >= 0 }) else {
                throw RegistryRefusal(.malformedRequest, "a masking record adds counts: none may be negative")
            }
            guard let record = try await store.recordMasking(id, adding: delta) else { throw RegistryRefusal.unknownSession(id) }
            return .ok(record.view)

        case let .issueVoiceCode(agentToken, interactionToken):
            let agent = try await verifier.agent(agentToken, now: now)
            guard agent.role == .agent else { throw RegistryRefusal(.notAllowed, "only an agent, not an observer, can ask for a voice code") }
            let grant = try await verifier.interaction(interactionToken, now: now)
            guard grant.channel == .voice else {
                throw RegistryRefusal(.notVoice, "voice codes are for voice interactions; this one is \(grant.channel.rawValue)")
            }
            return try issueVoiceCode(interactionID: grant.interactionID, agentID: agent.id)

        case let .startWithVoiceCode(code):
            let (interactionID, _) = try voiceCodes.redeem(code, now: now)
            let key = Self.newCustomerKey()
            do {
                let record = try await store.create(grant: InteractionGrant(interactionID: interactionID, channel: .voice),
                                                    customerKeyHash: Self.hash(key), now: now)
                voiceCodes.bind(code, to: record.view.id)
                return .ok(record.view, customerKey: key)
            } catch {
                voiceCodes.release(code) // refused (the call ended, the store is down): not used up
                throw error
            }

        case let .voiceCodeStatus(code, agentToken):
            let agent = try await verifier.agent(agentToken, now: now)
            guard let status = voiceCodes.status(code, agentID: agent.id) else {
                throw RegistryRefusal(.codeUnknown, "you have no voice code \(code.prefix(6)) (codes are forgotten a while after they expire)")
            }
            return .code(status)

        case let .resume(id, key):
            guard let record = try await store.session(id) else { throw RegistryRefusal.unknownSession(id) }
            try Self.requireCustomer(key, of: record)
            guard record.view.state != .ended else { throw RegistryRefusal.sessionEnded }
            return .ok(record.view)
        }
    }

    /// A voice code for an agent's call (the `issueVoiceCode` command, and the admin API's
    /// `POST /api/voice-codes`, which the contact center calls with ids it vouches for).
    public func issueVoiceCode(interactionID: String, agentID: String) throws(RegistryRefusal) -> RegistryReply {
        let code = try voiceCodes.issue(interactionID: interactionID, agentID: agentID, now: now())
        logger.info("voice code issued", metadata: ["interaction": "\(interactionID)", "agent": "\(agentID)"])
        return .code(code)
    }

    /// One line per change, with the session id (never a token or key), for operators.
    private func log(_ command: RegistryCommand, _ reply: RegistryReply) {
        switch command {
        case .get, .resume, .listLive, .recordMasking, .issueVoiceCode, .voiceCodeStatus, .reportHealth, .superviseLive:
            return
        case .endInteraction:
            for session in reply.sessions ?? [] {
                logger.info("ended", metadata: ["command": "\(command.name)", "session": "\(session.id)",
                                                 "reason": "\(session.endReason?.rawValue ?? "")"])
            }
        default:
            guard let session = reply.session else { return }
            var metadata: Logger.Metadata = ["command": "\(command.name)", "session": "\(session.id)",
                                             "state": "\(session.state.rawValue)", "mode": "\(session.mode.rawValue)"]
            if let reason = session.endReason { metadata["reason"] = "\(reason.rawValue)" }
            logger.info("session", metadata: metadata)
        }
    }

    /// 256 random bits, URL-safe: the customer's proof of ownership, kept only in their browser.
    static func newCustomerKey() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func hash(_ key: String) -> String {
        SHA256.hash(data: Data(key.utf8)).hex
    }

    static func requireCustomer(_ key: String, of record: SessionRecord) throws(RegistryRefusal) {
        guard hash(key) == record.customerKeyHash else {
            throw RegistryRefusal(.notAllowed, "only the customer who started this session can do that")
        }
    }
}
