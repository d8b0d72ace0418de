import Foundation

/// A change to a session, published on `cobrowse.lifecycle` with key `s.<id>.<kind>`.
public struct SessionEvent: Sendable, Equatable, Codable {
    /// What changed; the last part of the routing key.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// The customer created the session; a lead agent joined it.
        case created, activated
        /// A supervisor began observing.
        case observerJoined = "observer-joined"
        /// An observer's visit ended.
        case observerLeft = "observer-left"
        /// The lead agent asked for write mode.
        case modeRequested = "mode-requested"
        /// A write request was denied by the customer or timed out; the mode stays `pointer`.
        case modeRequestDeclined = "mode-request-declined"
        /// The mode changed (approved, or revoked by the customer).
        case modeChanged = "mode-changed"
        /// The session ended.
        case ended
    }

    /// The event's protocol version.
    public var version: Int
    /// What changed.
    public var kind: Kind
    /// When.
    public var at: Date
    /// Who made the change.
    public var by: Actor
    /// The session after the change.
    public var session: SessionView

    /// An event of the current version.
    /// - Parameters:
    ///   - kind: What changed.
    ///   - at: When.
    ///   - by: Who made the change.
    ///   - session: The session after the change.
    public init(kind: Kind, at: Date, by: Actor, session: SessionView) {
        version = RegistryProtocol.version
        self.kind = kind
        self.at = at
        self.by = by
        self.session = session
    }

    /// Its routing key on `cobrowse.lifecycle`: `s.<id>.<kind>`.
    public var routingKey: String { "\(session.id.routingKey).\(kind.rawValue)" }
}
