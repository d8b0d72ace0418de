import Foundation

/// Protocol version of registry requests, replies and lifecycle events. A peer that receives a
/// higher version refuses it with `unsupportedVersion` instead of guessing.
public enum RegistryProtocol {
    public static let version = 1
}

/// How a party proves it may end a session.
public enum EndCredential: Sendable, Equatable {
    /// The secret the customer's browser got at creation.
    case customer(key: String)
    /// A lead agent's token.
    case agent(token: String)
    /// A service on the broker (trusted: only services reach the RPC queue), with its reason.
    case system(name: String, reason: EndReason)
    case administrator
}

/// What a caller asks the session registry to do.
public enum RegistryCommand: Sendable, Equatable {
    /// A customer starts a session inside a live interaction.
    case create(interactionToken: String)
    /// An agent joins as lead (role `agent`) or as a read-only observer (role `supervisor`).
    case join(session: SessionID, agentToken: String)
    /// An observer's console left (its relay saw the socket close): the visit that began at
    /// `joinedAt` ends. From a service on the broker (trusted, like a system end). Idempotent.
    case observerLeft(session: SessionID, agentID: String, joinedAt: Date)
    /// The lead agent asks for write mode; pending until the customer answers or it times out.
    case requestWrite(session: SessionID, agentToken: String)
    /// The customer approves or denies a pending write request.
    case answerWrite(session: SessionID, customerKey: String, approve: Bool)
    /// The customer takes write mode back.
    case revokeWrite(session: SessionID, customerKey: String)
    case end(session: SessionID, by: EndCredential)
    case get(session: SessionID)
    /// The customer's browser comes back (a dropped socket, the next page): proves it with the key.
    case resume(session: SessionID, customerKey: String)
    /// The contact center says an interaction ended, was transferred or conferenced: its live
    /// sessions end with `reason` (a transfer or conference only those created before it). An
    /// ended interaction is remembered, so no session can start in it later. Idempotent.
    case endInteraction(interactionID: String, reason: EndReason, occurredAt: Date, system: String)
    /// Every live (idle or active) session, oldest first.
    case listLive
    /// The masking filter's increment of a session's masking record (`MaskingRecord.add`).
    case recordMasking(session: SessionID, record: MaskingRecord)
    /// An agent on a call asks for a voice code bound to the call's interaction (its token,
    /// channel `voice`); the reply's `voiceCode` holds the code to read out.
    case issueVoiceCode(agentToken: String, interactionToken: String)
    /// A customer starts a session with the code the agent read out (instead of a token).
    case startWithVoiceCode(code: String)
    /// The agent who asked for a code asks whether it started a session yet (`voiceCode.sessionID`).
    case voiceCodeStatus(code: String, agentToken: String)

    public var name: String {
        switch self {
        case .create: "create"
        case .join: "join"
        case .observerLeft: "observerLeft"
        case .requestWrite: "requestWrite"
        case .answerWrite: "answerWrite"
        case .revokeWrite: "revokeWrite"
        case .end: "end"
        case .get: "get"
        case .resume: "resume"
        case .endInteraction: "endInteraction"
        case .listLive: "listLive"
        case .recordMasking: "recordMasking"
        case .issueVoiceCode: "issueVoiceCode"
        case .startWithVoiceCode: "startWithVoiceCode"
        case .voiceCodeStatus: "voiceCodeStatus"
        }
    }
}

/// A request on `cobrowse.registry.rpc`: flat JSON with a `command` discriminator.
public struct RegistryRequest: Sendable, Equatable, Codable {
    public var version: Int
    public var command: RegistryCommand

    public init(_ command: RegistryCommand, version: Int = RegistryProtocol.version) {
        self.version = version
        self.command = command
    }

    private enum Key: String, CodingKey {
        case version, command, sessionID, interactionToken, agentToken, customerKey, approve, by, system, reason
        case interactionID, occurredAt, masking, voiceCode, agentID, joinedAt
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        version = try c.decode(Int.self, forKey: .version)
        guard version <= RegistryProtocol.version else {
            // Decoding the rest could misread a newer shape; the handler answers unsupportedVersion.
            command = .get(session: SessionID("000000000")!)
            return
        }
        func session() throws -> SessionID { try c.decode(SessionID.self, forKey: .sessionID) }
        switch try c.decode(String.self, forKey: .command) {
        case "create": command = .create(interactionToken: try c.decode(String.self, forKey: .interactionToken))
        case "join": command = .join(session: try session(), agentToken: try c.decode(String.self, forKey: .agentToken))
        case "observerLeft":
            command = .observerLeft(session: try session(), agentID: try c.decode(String.self, forKey: .agentID),
                                    joinedAt: try c.decode(Date.self, forKey: .joinedAt))
        case "requestWrite": command = .requestWrite(session: try session(), agentToken: try c.decode(String.self, forKey: .agentToken))
        case "answerWrite":
            command = .answerWrite(session: try session(), customerKey: try c.decode(String.self, forKey: .customerKey),
                                   approve: try c.decode(Bool.self, forKey: .approve))
        case "revokeWrite": command = .revokeWrite(session: try session(), customerKey: try c.decode(String.self, forKey: .customerKey))
        case "resume": command = .resume(session: try session(), customerKey: try c.decode(String.self, forKey: .customerKey))
        case "get": command = .get(session: try session())
        case "listLive": command = .listLive
        case "recordMasking": command = .recordMasking(session: try session(), record: try c.decode(MaskingRecord.self, forKey: .masking))
        case "issueVoiceCode":
            command = .issueVoiceCode(agentToken: try c.decode(String.self, forKey: .agentToken),
                                      interactionToken: try c.decode(String.self, forKey: .interactionToken))
        case "startWithVoiceCode": command = .startWithVoiceCode(code: try c.decode(String.self, forKey: .voiceCode))
        case "voiceCodeStatus":
            command = .voiceCodeStatus(code: try c.decode(String.self, forKey: .voiceCode), agentToken: try c.decode(String.self, forKey: .agentToken))
        case "endInteraction":
            command = .endInteraction(interactionID: try c.decode(String.self, forKey: .interactionID),
                                      reason: try c.decode(EndReason.self, forKey: .reason),
                                      occurredAt: try c.decode(Date.self, forKey: .occurredAt),
                                      system: try c.decode(String.self, forKey: .system))
        case "end":
            let credential: EndCredential
            switch try c.decode(String.self, forKey: .by) {
            case "customer": credential = .customer(key: try c.decode(String.self, forKey: .customerKey))
            case "agent": credential = .agent(token: try c.decode(String.self, forKey: .agentToken))
            case "system":
                credential = .system(name: try c.decode(String.self, forKey: .system), reason: try c.decode(EndReason.self, forKey: .reason))
            case "administrator": credential = .administrator
            case let other:
                throw DecodingError.dataCorruptedError(forKey: .by, in: c, debugDescription: "unknown party '\(other)'")
            }
            command = .end(session: try session(), by: credential)
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .command, in: c, debugDescription: "unknown command '\(other)'")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(version, forKey: .version)
        try c.encode(command.name, forKey: .command)
        switch command {
        case let .create(token): try c.encode(token, forKey: .interactionToken)
        case let .join(id, token), let .requestWrite(id, token):
            try c.encode(id, forKey: .sessionID)
            try c.encode(token, forKey: .agentToken)
        case let .observerLeft(id, agentID, joinedAt):
            try c.encode(id, forKey: .sessionID)
            try c.encode(agentID, forKey: .agentID)
            try c.encode(joinedAt, forKey: .joinedAt)
        case let .answerWrite(id, key, approve):
            try c.encode(id, forKey: .sessionID)
            try c.encode(key, forKey: .customerKey)
            try c.encode(approve, forKey: .approve)
        case let .revokeWrite(id, key), let .resume(id, key):
            try c.encode(id, forKey: .sessionID)
            try c.encode(key, forKey: .customerKey)
        case let .get(id): try c.encode(id, forKey: .sessionID)
        case .listLive: break
        case let .recordMasking(id, record):
            try c.encode(id, forKey: .sessionID)
            try c.encode(record, forKey: .masking)
        case let .issueVoiceCode(agentToken, interactionToken):
            try c.encode(agentToken, forKey: .agentToken)
            try c.encode(interactionToken, forKey: .interactionToken)
        case let .startWithVoiceCode(code): try c.encode(code, forKey: .voiceCode)
        case let .voiceCodeStatus(code, agentToken):
            try c.encode(code, forKey: .voiceCode)
            try c.encode(agentToken, forKey: .agentToken)
        case let .endInteraction(interactionID, reason, occurredAt, system):
            try c.encode(interactionID, forKey: .interactionID)
            try c.encode(reason, forKey: .reason)
            try c.encode(occurredAt, forKey: .occurredAt)
            try c.encode(system, forKey: .system)
        case let .end(id, credential):
            try c.encode(id, forKey: .sessionID)
            switch credential {
            case let .customer(key):
                try c.encode("customer", forKey: .by)
                try c.encode(key, forKey: .customerKey)
            case let .agent(token):
                try c.encode("agent", forKey: .by)
                try c.encode(token, forKey: .agentToken)
            case let .system(name, reason):
                try c.encode("system", forKey: .by)
                try c.encode(name, forKey: .system)
                try c.encode(reason, forKey: .reason)
            case .administrator:
                try c.encode("administrator", forKey: .by)
            }
        }
    }
}

/// A voice code as its agent sees it: six digits to read out, until when they work, and the
/// session they started (once the customer typed them).
public struct VoiceCode: Sendable, Equatable, Codable {
    public var code: String
    public var interactionID: String
    public var expiresAt: Date
    public var sessionID: SessionID?

    public init(code: String, interactionID: String, expiresAt: Date, sessionID: SessionID? = nil) {
        self.code = code
        self.interactionID = interactionID
        self.expiresAt = expiresAt
        self.sessionID = sessionID
    }
}

/// Why the registry said no: a stable code for programs and a sentence for people.
public struct RegistryRefusal: Error, Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable {
        case malformedRequest = "malformed-request"
        case unsupportedVersion = "unsupported-version"
        case invalidToken = "invalid-token"
        case expiredToken = "expired-token"
        case unknownSession = "unknown-session"
        case sessionEnded = "session-ended"
        case sessionTaken = "session-taken"
        case agentBusy = "agent-busy"
        case notActive = "not-active"
        case notAllowed = "not-allowed"
        case writeModeDisabled = "write-mode-disabled"
        case noPendingWriteRequest = "no-pending-write-request"
        /// The contact-center interaction is over: no co-browse session can start in it.
        case interactionEnded = "interaction-ended"
        case unavailable
        /// The relay's answer to a client that made too many wrong attempts (unknown session
        /// ids, wrong keys, wrong voice codes) lately; never the registry's.
        case tooManyAttempts = "too-many-attempts"
        /// No live voice code is these six digits.
        case codeUnknown = "code-unknown"
        /// The voice code was right but is older than its lifetime.
        case codeExpired = "code-expired"
        /// The voice code already started a session.
        case codeUsed = "code-used"
        /// A voice code was asked for an interaction whose channel is not `voice`.
        case notVoice = "not-voice"
        /// The agent asked for more voice codes than allowed lately.
        case tooManyCodes = "too-many-codes"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    public static let sessionEnded = RegistryRefusal(.sessionEnded, "session ended; start a new one")
    public static let agentBusy = RegistryRefusal(.agentBusy, "you already have a live co-browse session; end it first")
    public static func unknownSession(_ id: SessionID) -> RegistryRefusal {
        RegistryRefusal(.unknownSession, "no session \(id); check the number the customer read out")
    }
}

/// The registry's answer: the session as it now is, or a refusal.
public struct RegistryReply: Sendable, Equatable, Codable {
    public var version: Int
    public var session: SessionView?
    /// Only in the reply to `create`, for the customer's browser alone: it proves the customer.
    public var customerKey: String?
    /// Who the registry verified the caller to be (agent or supervisor, from the token), so an
    /// edge knows whether a viewer leads the session without reading tokens itself.
    public var actor: Actor?
    /// The answer to `listLive` (the live sessions) and `endInteraction` (the sessions it ended).
    public var sessions: [SessionView]?
    /// The answer to `issueVoiceCode` and `voiceCodeStatus`.
    public var voiceCode: VoiceCode?
    public var refusal: RegistryRefusal?

    public static func code(_ code: VoiceCode) -> RegistryReply {
        RegistryReply(version: RegistryProtocol.version, voiceCode: code)
    }

    public static func ok(_ session: SessionView, customerKey: String? = nil, actor: Actor? = nil) -> RegistryReply {
        RegistryReply(version: RegistryProtocol.version, session: session, customerKey: customerKey, actor: actor, refusal: nil)
    }

    public static func list(_ sessions: [SessionView]) -> RegistryReply {
        RegistryReply(version: RegistryProtocol.version, sessions: sessions)
    }

    public static func refused(_ refusal: RegistryRefusal) -> RegistryReply {
        RegistryReply(version: RegistryProtocol.version, refusal: refusal)
    }

    /// The sessions of a list reply, or the refusal thrown.
    public func list() throws(RegistryRefusal) -> [SessionView] {
        if let sessions { return sessions }
        throw refusal ?? RegistryRefusal(.unavailable, "empty reply from the registry")
    }

    /// The session, or the refusal thrown.
    public func get() throws(RegistryRefusal) -> SessionView {
        if let session { return session }
        throw refusal ?? RegistryRefusal(.unavailable, "empty reply from the registry")
    }
}

/// A change to a session, published on `cobrowse.lifecycle` with key `s.<id>.<kind>`.
public struct SessionEvent: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case created, activated
        case observerJoined = "observer-joined"
        case observerLeft = "observer-left"
        case modeRequested = "mode-requested"
        /// A write request was denied by the customer or timed out; the mode stays `pointer`.
        case modeRequestDeclined = "mode-request-declined"
        case modeChanged = "mode-changed"
        case ended
    }

    public var version: Int
    public var kind: Kind
    public var at: Date
    public var by: Actor
    /// The session after the change.
    public var session: SessionView

    public init(kind: Kind, at: Date, by: Actor, session: SessionView) {
        version = RegistryProtocol.version
        self.kind = kind
        self.at = at
        self.by = by
        self.session = session
    }

    public var routingKey: String { "\(session.id.routingKey).\(kind.rawValue)" }
}
