import Foundation

/// What an agent does in the console (`/ws/view`). The masking filter decides, by the
/// session's mode and the masking rules, whether it reaches the customer's browser, where the
/// SDK checks again. Flat JSON with `t`, like stream frames.
public enum AgentAction: Sendable, Equatable, Codable {
    /// Where `navigate` goes (its `to` field).
    public enum Navigation: String, Sendable, Codable {
        /// The browser's back, forward and reload; or the URL in `url`.
        case back, forward, reload, url
    }

    /// The agent's cursor, in page coordinates (any mode).
    case pointer(x: Double, y: Double)
    /// A click annotation: a circle drawn on both sides (any mode).
    case annotate(x: Double, y: Double)
    /// Write mode: a click on an element of the customer's page.
    case click(id: Int)
    /// Write mode: a form field's new value.
    case type(id: Int, value: String)
    /// Write mode: scroll the page (id 0) or an element.
    case scroll(id: Int, x: Double, y: Double)
    /// Write mode: back, forward, reload, or open a URL of the same site.
    case navigate(Navigation, url: String?)

    /// The action's `t` on the wire (`pointer`, `annotate`, `click`, `type`, `scroll`, `navigate`).
    public var type: String {
        switch self {
        case .pointer: "pointer"
        case .annotate: "annotate"
        case .click: "click"
        case .type: "type"
        case .scroll: "scroll"
        case .navigate: "navigate"
        }
    }

    /// Every action's `t`, as the wire spells it.
    public static let types: Set<String> = ["pointer", "annotate", "click", "type", "scroll", "navigate"]

    /// Pointer moves and annotations show what the agent means; everything else acts.
    public var needsWriteMode: Bool {
        switch self {
        case .pointer, .annotate: false
        default: true
        }
    }

    private enum Key: String, CodingKey { case t, x, y, id, value, to, url }

    /// Reads a flat action object (`t` and the action's fields).
    /// - Parameter decoder: The decoder to read from.
    /// - Throws: `DecodingError` for an unknown `t`, or a missing or ill-typed field.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        switch try c.decode(String.self, forKey: .t) {
        case "pointer": self = .pointer(x: try c.decode(Double.self, forKey: .x), y: try c.decode(Double.self, forKey: .y))
        case "annotate": self = .annotate(x: try c.decode(Double.self, forKey: .x), y: try c.decode(Double.self, forKey: .y))
        case "click": self = .click(id: try c.decode(Int.self, forKey: .id))
        case "type": self = .type(id: try c.decode(Int.self, forKey: .id), value: try c.decode(String.self, forKey: .value))
        case "scroll":
            self = .scroll(id: try c.decode(Int.self, forKey: .id), x: try c.decode(Double.self, forKey: .x), y: try c.decode(Double.self, forKey: .y))
        case "navigate":
            self = .navigate(try c.decode(Navigation.self, forKey: .to), url: try c.decodeIfPresent(String.self, forKey: .url))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .t, in: c, debugDescription: "unknown agent action '\(other)'")
        }
    }

    /// Writes the action as a flat object: `t` and its fields.
    /// - Parameter encoder: The encoder to write to.
    /// - Throws: What the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(type, forKey: .t)
        switch self {
        case let .pointer(x, y), let .annotate(x, y):
            try c.encode(x, forKey: .x)
            try c.encode(y, forKey: .y)
        case let .click(id):
            try c.encode(id, forKey: .id)
        case let .type(id, value):
            try c.encode(id, forKey: .id)
            try c.encode(value, forKey: .value)
        case let .scroll(id, x, y):
            try c.encode(id, forKey: .id)
            try c.encode(x, forKey: .x)
            try c.encode(y, forKey: .y)
        case let .navigate(to, url):
            try c.encode(to, forKey: .to)
            try c.encodeIfPresent(url, forKey: .url)
        }
    }
}

/// An agent action on its way to the filter (`cobrowse.ingest`, the session's key, so it is
/// ordered with the session's stream): `{"t":"agent","agent":<id>,"action":{…}}`. The relay
/// sends only actions of the session's lead agent, as the registry verified them.
public struct AgentActionFrame: Sendable, Equatable, Codable {
    /// The record's type, always `agent`.
    public var t = "agent"
    /// The lead agent's id.
    public var agent: String
    /// The action.
    public var action: AgentAction

    /// A lead agent's action for the filter.
    /// - Parameters:
    ///   - agent: The lead agent's id, as the registry verified it.
    ///   - action: The action.
    public init(agent: String, action: AgentAction) {
        self.agent = agent
        self.action = action
    }
}

/// An action the filter let through, to the sharer (`cobrowse.sharer`): `{"t":"action","action":{…}}`.
public struct ApprovedAction: Sendable, Equatable, Codable {
    /// The message's type, always `action`.
    public var t = "action"
    /// The action to carry out.
    public var action: AgentAction

    /// An approved action for the sharer.
    /// - Parameter action: The action.
    public init(action: AgentAction) { self.action = action }
}

/// Why an agent action was dropped; told to the agent in the view stream.
public enum ActionRefusal: String, Sendable, Codable, CaseIterable {
    /// An action that needs write mode, in pointer mode.
    case pointerMode = "pointer-mode"
    /// An action on (or inside) an element no agent may use: submit controls by default.
    case disabledElement = "disabled-element"
    /// Typing into a masked or secret-named field.
    case maskedField = "masked-field"
    /// A URL on another origin than the customer's page.
    case offSite = "off-site"
    /// An element the filter does not know or hides.
    case unknownElement = "unknown-element"
    /// An action while the filter has no page of the session.
    case noPage = "no-page"

    /// A sentence for the agent.
    public var message: String {
        switch self {
        case .pointerMode: "In pointer mode you can point and annotate; ask the customer for control to act."
        case .disabledElement: "That element is not available to agents (the customer can use it)."
        case .maskedField: "That is masked: only the customer can use it."
        case .offSite: "Navigation off the customer's site, or into another window, is not allowed."
        case .unknownElement: "That element is no longer on the customer's page."
        case .noPage: "The customer's page is not available right now."
        }
    }
}

/// What a relay asks of the session's sharer on the viewers' behalf, through the filter (the only
/// service that may write to `cobrowse.sharer`), on the session's ingest key so it stays in order
/// with the stream: `{"t":"snapshot-wanted","reason":…,"at":…}` (a viewer joined or saw a gap; the
/// filter asks the sharer at most once per `SessionStream.resyncInterval`, and not at all when a
/// snapshot the sharer sent after `at` has already come) and
/// `{"t":"presence","lead":"connected"|"reconnecting"}` (the lead agent's console joined, or went
/// away without the session ending), which the filter passes to the sharer as it is.
public struct RelayRequest: Sendable, Equatable, Codable {
    /// What the relay asks (the request's `t`).
    public enum Kind: String, Sendable, Codable {
        /// A new snapshot from the sharer.
        case snapshotWanted = "snapshot-wanted"
        /// Tell the sharer whether the lead agent's console is connected.
        case presence
    }

    /// Whether the lead agent's console is connected.
    public enum Lead: String, Sendable, Codable {
        /// The console is connected; or it went away without the session ending.
        case connected, reconnecting
    }

    /// What the relay asks.
    public var t: Kind
    /// Why a snapshot is wanted (for `snapshot-wanted`), passed on in the sharer's `resync`.
    public var reason: String?
    /// The lead's presence (for `presence`).
    public var lead: Lead?
    /// When the relay made a `snapshot-wanted` request (ms since 1970, the relay's clock).
    public var at: Int64?
    /// When the relay got its queue back after reconnecting to the broker (ms since 1970, the
    /// relay's clock), on its one request per session after that: whatever the filter asked the
    /// sharer for before this may have gone to a queue that no longer existed.
    public var reconnectedAt: Int64?

    /// A request for a new snapshot.
    /// - Parameters:
    ///   - reason: Why (a viewer joined, a gap, …), for the sharer's `resync`.
    ///   - at: When the relay asked (ms since 1970), so the filter can tell a later snapshot answers it.
    ///   - reconnectedAt: When the relay got its queue back, if it asks because it reconnected.
    public static func snapshotWanted(_ reason: String, at: Int64? = nil, reconnectedAt: Int64? = nil) -> RelayRequest {
        RelayRequest(t: .snapshotWanted, reason: reason, at: at, reconnectedAt: reconnectedAt)
    }

    /// A presence message for the sharer.
    /// - Parameter lead: Whether the lead agent's console is connected.
    public static func presence(_ lead: Lead) -> RelayRequest { RelayRequest(t: .presence, lead: lead) }

    /// A request; the factory functions above make the valid combinations.
    /// - Parameters:
    ///   - t: What is asked.
    ///   - reason: Why a snapshot is wanted.
    ///   - lead: The lead's presence.
    ///   - at: When a snapshot was asked for (ms since 1970).
    ///   - reconnectedAt: When the relay got its queue back, if it asks because it reconnected.
    public init(t: Kind, reason: String? = nil, lead: Lead? = nil, at: Int64? = nil, reconnectedAt: Int64? = nil) {
        self.t = t
        self.reason = reason
        self.lead = lead
        self.at = at
        self.reconnectedAt = reconnectedAt
    }
}

/// The lead agent's presence, to the sharer (`cobrowse.sharer`): `{"t":"presence","lead":…}`.
public struct LeadPresence: Sendable, Equatable, Codable {
    /// The message's type, always `presence`.
    public var t = "presence"
    /// Whether the lead agent's console is connected.
    public var lead: RelayRequest.Lead

    /// A presence message.
    /// - Parameter lead: Whether the lead agent's console is connected.
    public init(lead: RelayRequest.Lead) { self.lead = lead }
}
