import Foundation

/// Protocol version of registry requests, replies and lifecycle events. A peer that receives a
/// higher version refuses it with `unsupportedVersion` instead of guessing.
public enum RegistryProtocol {
    /// The version this code speaks and writes.
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
    /// An administrator, through the registry's reporting API.
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
    /// Ends a session; the credential says who ends it, and so the reason.
    case end(session: SessionID, by: EndCredential)
    /// Reads a session.
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
    /// The registry's public key for sealed requests (the reply's `sealingKey`); asked unsealed.
    case sealingKey
    /// A masking filter's last report window for the sessions of one shard (`SessionHealth`):
    /// kept in the active registry's memory for supervisors. From a service on the broker.
    case reportHealth(sessions: [SessionHealth])
    /// A supervisor asks for every live session with its health (the reply's `supervision`).
    case superviseLive(agentToken: String)

    /// Whether the command carries a credential (a token, a customer key, a voice code): the
    /// registry takes such a command only sealed to its key, so no credential rests in a queue.
    public var carriesCredentials: Bool {
        switch self {
        case .create, .join, .requestWrite, .answerWrite, .revokeWrite, .resume, .issueVoiceCode, .startWithVoiceCode, .voiceCodeStatus,
             .superviseLive:
            true
        case let .end(_, credential):
            switch credential {
            case .customer, .agent: true
            case .system, .administrator: false
            }
        case .observerLeft, .get, .endInteraction, .listLive, .recordMasking, .sealingKey, .reportHealth:
            false
        }
    }

    /// The command's name on the wire (the request's `command` field).
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
        case .sealingKey: "sealingKey"
        case .reportHealth: "reportHealth"
        case .superviseLive: "superviseLive"
        }
    }
}

/// A request on `cobrowse.registry.rpc`: flat JSON with a `command` discriminator.
public struct RegistryRequest: Sendable, Equatable, Codable {
    /// The request's protocol version.
    public var version: Int
    /// What is asked.
    public var command: RegistryCommand

    /// A request.
    /// - Parameters:
    ///   - command: What to ask.
    ///   - version: The protocol version to claim (this code's by default).
    public init(_ command: RegistryCommand, version: Int = RegistryProtocol.version) {
        self.version = version
        self.command = command
    }

    private enum Key: String, CodingKey {
        case version, command, sessionID, interactionToken, agentToken, customerKey, approve, by, system, reason
        case interactionID, occurredAt, masking, voiceCode, agentID, joinedAt, health
    }

    /// Reads a request. A version newer than this code's is read no further (the command is then a
    /// placeholder): the handler answers `unsupportedVersion` without guessing at the rest.
    /// - Parameter decoder: The decoder to read from.
    /// - Throws: `DecodingError` for a missing `version` or `command`, an unknown command or
    ///   `by` party, or a missing or ill-typed field of the command.
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
        case "sealingKey": command = .sealingKey
        case "reportHealth": command = .reportHealth(sessions: try c.decode([SessionHealth].self, forKey: .health))
        case "superviseLive": command = .superviseLive(agentToken: try c.decode(String.self, forKey: .agentToken))
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

    /// Writes the request as flat JSON: `version`, `command`, and the command's fields.
    /// - Parameter encoder: The encoder to write to.
    /// - Throws: What the encoder throws.
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
        case .listLive, .sealingKey: break
        case let .reportHealth(sessions): try c.encode(sessions, forKey: .health)
        case let .superviseLive(token): try c.encode(token, forKey: .agentToken)
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
