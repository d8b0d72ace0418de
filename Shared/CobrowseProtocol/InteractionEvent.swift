import Foundation

/// A contact-center interaction event, as published on `contact.interactions` (routing key
/// `interaction.<channel>.<type>`) or posted to the watch's webhook; see docs/interactions.md.
public struct InteractionEvent: Sendable, Equatable, Codable {
    /// What happened to the interaction (the `type` field).
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// It started; ended; moved to another agent; or another party joined it.
        case started, ended, transferred, conferenced
    }

    /// The newest event version this code reads and the one it writes.
    public static let version = 1

    /// The event's version (`version`); a newer one than this code knows is refused.
    public var version: Int
    /// The contact center's id of this event, for logs (duplicates are harmless without it).
    public var id: String?
    /// What happened.
    public var type: Kind
    /// The contact center's interaction id (1–256 bytes), as in the interaction token's claim.
    public var interactionId: String
    /// The interaction's channel: chat, messaging or voice.
    public var channel: InteractionChannel
    /// The agent handling the interaction after the event (for a transfer, the new agent).
    public var agentId: String?
    /// When it happened, by the contact center's clock.
    public var at: Date

    /// An event of the current version.
    /// - Parameters:
    ///   - id: The contact center's id of the event, if it has one.
    ///   - type: What happened.
    ///   - interactionId: The interaction's id.
    ///   - channel: The interaction's channel.
    ///   - agentId: The agent handling the interaction after the event.
    ///   - at: When it happened.
    public init(id: String? = nil, type: Kind, interactionId: String, channel: InteractionChannel, agentId: String? = nil, at: Date) {
        version = Self.version
        self.id = id
        self.type = type
        self.interactionId = interactionId
        self.channel = channel
        self.agentId = agentId
        self.at = at
    }

    /// Its routing key on `contact.interactions`: `interaction.<channel>.<type>`.
    public var routingKey: String { "interaction.\(channel.rawValue).\(type.rawValue)" }

    /// Why a co-browse session of this interaction ends, if this event ends any.
    public var endReason: EndReason? {
        switch type {
        case .started: nil
        case .ended: .interactionEnded
        case .transferred: .interactionTransferred
        case .conferenced: .interactionConferenced
        }
    }

    /// Decodes and checks an event; the error says what is wrong, for the publisher to read.
    /// - Parameter body: The event's JSON, from the broker or the webhook.
    /// - Returns: The event.
    /// - Throws: `DecodingError` for JSON that is not an event; `InteractionEventError` for a
    ///   version newer than this code's or an `interactionId` not of 1 to 256 bytes.
    public static func decode(_ body: Data) throws -> InteractionEvent {
        let event = try JSONDecoder.cobrowse.decode(InteractionEvent.self, from: body)
        guard event.version <= version else {
            throw InteractionEventError("event version \(event.version) is newer than this watch's \(version)")
        }
        guard !event.interactionId.isEmpty, event.interactionId.utf8.count <= 256 else {
            throw InteractionEventError("interactionId must be 1 to 256 bytes")
        }
        return event
    }
}

/// Why an interaction event was not accepted.
public struct InteractionEventError: Error, Sendable, CustomStringConvertible {
    /// What is wrong with the event, in a sentence for its publisher.
    public let description: String
    /// An error saying what is wrong.
    /// - Parameter description: The sentence.
    public init(_ description: String) { self.description = description }
}

/// One relay's report of its sessions, published every few seconds on `cobrowse.activity`: who
/// is connected and how long since anyone did something. Batched per relay, not per event.
public struct ActivityReport: Sendable, Equatable, Codable {
    /// One session as one relay sees it.
    public struct Session: Sendable, Equatable, Codable {
        /// The session.
        public var id: SessionID
        /// Customer sockets (the shared page) connected to this relay at any time since its
        /// previous report: one that closed meanwhile still counts, once.
        public var sharers: Int
        /// The lead agent's console sockets, counted like `sharers`.
        public var leads: Int
        /// Observers' sockets connected now.
        public var observers: Int
        /// Milliseconds since the customer or the agent last did something on this relay
        /// (input, click, scroll, cursor, a new page, an agent action); nil: nothing yet.
        /// Relative, so the relay's and the watch's clocks need not agree.
        public var idleMilliseconds: Int?

        /// One session's counts.
        /// - Parameters:
        ///   - id: The session.
        ///   - sharers: Customer sockets since the previous report.
        ///   - leads: Lead-agent sockets since the previous report.
        ///   - observers: Observer sockets connected now.
        ///   - idleMilliseconds: Milliseconds since the last activity, or nil for none yet.
        public init(id: SessionID, sharers: Int, leads: Int, observers: Int, idleMilliseconds: Int?) {
            self.id = id
            self.sharers = sharers
            self.leads = leads
            self.observers = observers
            self.idleMilliseconds = idleMilliseconds
        }
    }

    /// The report format's version (1).
    public var version: Int
    /// The reporting relay's instance name (also its routing key, `relay.<instance>`).
    public var relay: String
    /// Every session the relay held a socket of since its previous report; empty is a report too.
    public var sessions: [Session]

    /// A version-1 report.
    /// - Parameters:
    ///   - relay: The relay's instance name.
    ///   - sessions: Its sessions.
    public init(relay: String, sessions: [Session]) {
        version = 1
        self.relay = relay
        self.sessions = sessions
    }
}
