import Foundation

/// A voice code as its agent sees it: six digits to read out, until when they work, and the
/// session they started (once the customer typed them).
public struct VoiceCode: Sendable, Equatable, Codable {
    /// The six digits.
    public var code: String
    /// The call's interaction, which the session will belong to.
    public var interactionID: String
    /// When the code stops working.
    public var expiresAt: Date
    /// The session the code started, once the customer typed it.
    public var sessionID: SessionID?

    /// A voice code.
    /// - Parameters:
    ///   - code: The six digits.
    ///   - interactionID: The call's interaction.
    ///   - expiresAt: When it stops working.
    ///   - sessionID: The session it started, if any.
    public init(code: String, interactionID: String, expiresAt: Date, sessionID: SessionID? = nil) {
        self.code = code
        self.interactionID = interactionID
        self.expiresAt = expiresAt
        self.sessionID = sessionID
    }
}

/// The public half of the key a registry process opens sealed requests with (X25519), made when
/// it starts and never stored: what was sealed to it cannot be opened once the process is gone.
public struct SealingKey: Sendable, Equatable, Codable {
    /// Names the key, so a request sealed to another one is told apart at once.
    public var id: String
    /// The raw X25519 public key, base64.
    public var publicKey: String

    /// A key.
    /// - Parameters:
    ///   - id: Its name.
    ///   - publicKey: The raw public key, base64.
    public init(id: String, publicKey: String) {
        self.id = id
        self.publicKey = publicKey
    }
}

/// Why the registry said no: a stable code for programs and a sentence for people.
public struct RegistryRefusal: Error, Sendable, Equatable, Codable, CustomStringConvertible {
    /// The stable codes, as sent on the wire.
    public enum Code: String, Sendable, Codable {
        /// The request could not be read.
        case malformedRequest = "malformed-request"
        /// The request's version is newer than the registry's.
        case unsupportedVersion = "unsupported-version"
        /// A token that is not valid: signature, shape, algorithm, or the wrong kind of token.
        case invalidToken = "invalid-token"
        /// A token past its `exp`.
        case expiredToken = "expired-token"
        /// No session has this id.
        case unknownSession = "unknown-session"
        /// The session has ended.
        case sessionEnded = "session-ended"
        /// Another agent leads the session.
        case sessionTaken = "session-taken"
        /// The agent already leads a live session.
        case agentBusy = "agent-busy"
        /// The session has no lead agent yet, and the command needs one.
        case notActive = "not-active"
        /// The caller may not do this to the session (an observer taking control, another customer, …).
        case notAllowed = "not-allowed"
        /// Write mode is turned off (`WRITE_MODE_ENABLED=false`).
        case writeModeDisabled = "write-mode-disabled"
        /// There is no write request to answer (never made, answered, or past its deadline).
        case noPendingWriteRequest = "no-pending-write-request"
        /// The contact-center interaction is over: no co-browse session can start in it.
        case interactionEnded = "interaction-ended"
        /// The registry could not do it now (its store failed); try again.
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
        /// A sealed request for a key this registry does not hold (it restarted, or another took
        /// over): ask for `sealingKey` again and seal anew.
        case sealingKeyUnknown = "sealing-key-unknown"
        /// A command with a credential that came unsealed; seal it to the registry's key.
        case credentialsInClear = "credentials-in-clear"
    }

    /// The stable code, for programs.
    public var code: Code
    /// A sentence to show a person.
    public var message: String

    /// A refusal.
    /// - Parameters:
    ///   - code: The stable code.
    ///   - message: A sentence to show a person.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`, for logs.
    public var description: String { "\(code.rawValue): \(message)" }

    /// The refusal of any command on an ended session.
    public static let sessionEnded = RegistryRefusal(.sessionEnded, "session ended; start a new one")
    /// The refusal of an agent who already leads a live session.
    public static let agentBusy = RegistryRefusal(.agentBusy, "you already have a live co-browse session; end it first")
    /// The refusal of a session id no session has.
    /// - Parameter id: The id asked for, repeated in the message.
    public static func unknownSession(_ id: SessionID) -> RegistryRefusal {
        RegistryRefusal(.unknownSession, "no session \(id); check the number the customer read out")
    }
}

/// The registry's answer: the session as it now is, or a refusal.
public struct RegistryReply: Sendable, Equatable, Codable {
    /// The reply's protocol version.
    public var version: Int
    /// The session after the command, for commands about one session.
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
    /// The answer to `sealingKey`.
    public var sealingKey: SealingKey?
    /// The answer to `superviseLive`.
    public var supervision: Supervision?
    /// Why the registry said no; nil when it did what was asked.
    public var refusal: RegistryRefusal?

    /// The reply to `sealingKey`.
    /// - Parameter key: The registry process's public key.
    public static func sealing(_ key: SealingKey) -> RegistryReply {
        RegistryReply(version: RegistryProtocol.version, sealingKey: key)
    }

    /// The reply to `superviseLive`.
    /// - Parameter supervision: The live sessions with their health.
    public static func supervising(_ supervision: Supervision) -> RegistryReply {
        RegistryReply(version: RegistryProtocol.version, supervision: supervision)
    }

    /// The reply to `issueVoiceCode` and `voiceCodeStatus`.
    /// - Parameter code: The voice code.
    public static func code(_ code: VoiceCode) -> RegistryReply {
        RegistryReply(version: RegistryProtocol.version, voiceCode: code)
    }

    /// The reply to a command about one session.
    /// - Parameters:
    ///   - session: The session after the command.
    ///   - customerKey: The customer's key (only for `create` and `startWithVoiceCode`).
    ///   - actor: Who the caller was verified to be, when a token said so.
    public static func ok(_ session: SessionView, customerKey: String? = nil, actor: Actor? = nil) -> RegistryReply {
        RegistryReply(version: RegistryProtocol.version, session: session, customerKey: customerKey, actor: actor, refusal: nil)
    }

    /// The reply to `listLive` and `endInteraction`.
    /// - Parameter sessions: The sessions.
    public static func list(_ sessions: [SessionView]) -> RegistryReply {
        RegistryReply(version: RegistryProtocol.version, sessions: sessions)
    }

    /// A refusal.
    /// - Parameter refusal: Why not.
    public static func refused(_ refusal: RegistryRefusal) -> RegistryReply {
        RegistryReply(version: RegistryProtocol.version, refusal: refusal)
    }

    /// The sessions of a list reply, or the refusal thrown.
    /// - Throws: The reply's `RegistryRefusal`, or `unavailable` when the reply holds neither.
    public func list() throws(RegistryRefusal) -> [SessionView] {
        if let sessions { return sessions }
        throw refusal ?? RegistryRefusal(.unavailable, "empty reply from the registry")
    }

    /// The session, or the refusal thrown.
    /// - Throws: The reply's `RegistryRefusal`, or `unavailable` when the reply holds neither.
    public func get() throws(RegistryRefusal) -> SessionView {
        if let session { return session }
        throw refusal ?? RegistryRefusal(.unavailable, "empty reply from the registry")
    }
}
