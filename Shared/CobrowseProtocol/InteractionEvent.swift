import Foundation

/// A contact-center interaction event, as published on `contact.interactions` (routing key
/// `interaction.<channel>.<type>`) or posted to the watch's webhook; see docs/interactions.md.
public struct InteractionEvent: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case started, ended, transferred, conferenced
    }

    public static let version = 1

    public var version: Int
    /// The contact center's id of this event, for logs (duplicates are harmless without it).
    public var id: String?
    public var type: Kind
    public var interactionId: String
    public var channel: InteractionChannel
    /// The agent handling the interaction after the event (for a transfer, the new agent).
    public var agentId: String?
    /// When it happened, by the contact center's clock.
    public var at: Date

    public init(id: String? = nil, type: Kind, interactionId: String, channel: InteractionChannel, agentId: String? = nil, at: Date) {
        version = Self.version
        self.id = id
        self.type = type
        self.interactionId = interactionId
        self.channel = channel
        self.agentId = agentId
        self.at = at
    }

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
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One relay's report of its sessions, published every few seconds on `cobrowse.activity`: who
/// is connected and how long since anyone did something. Batched per relay, not per event.
public struct ActivityReport: Sendable, Equatable, Codable {
    /// One session as one relay sees it.
    public struct Session: Sendable, Equatable, Codable {
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

        public init(id: SessionID, sharers: Int, leads: Int, observers: Int, idleMilliseconds: Int?) {
            self.id = id
            self.sharers = sharers
            self.leads = leads
            self.observers = observers
            self.idleMilliseconds = idleMilliseconds
        }
    }

    public var version: Int
    public var relay: String
    public var sessions: [Session]

    public init(relay: String, sessions: [Session]) {
        version = 1
        self.relay = relay
        self.sessions = sessions
    }
}
