import Foundation

/// What an agent does in the console (`/ws/view`). The masking filter decides, by the
/// session's mode and the masking rules, whether it reaches the customer's browser, where the
/// SDK checks again. Flat JSON with `t`, like stream frames.
public enum AgentAction: Sendable, Equatable, Codable {
    public enum Navigation: String, Sendable, Codable {
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
    public var t = "agent"
    public var agent: String
    public var action: AgentAction

    public init(agent: String, action: AgentAction) {
        self.agent = agent
        self.action = action
    }
}

/// An action the filter let through, to the sharer (`cobrowse.sharer`): `{"t":"action","action":{…}}`.
public struct ApprovedAction: Sendable, Equatable, Codable {
    public var t = "action"
    public var action: AgentAction

    public init(action: AgentAction) { self.action = action }
}

/// Why an agent action was dropped; told to the agent in the view stream.
public enum ActionRefusal: String, Sendable, Codable, CaseIterable {
    case pointerMode = "pointer-mode"
    case disabledElement = "disabled-element"
    case maskedField = "masked-field"
    case offSite = "off-site"
    case unknownElement = "unknown-element"
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
    public enum Kind: String, Sendable, Codable {
        case snapshotWanted = "snapshot-wanted"
        case presence
    }

    /// Whether the lead agent's console is connected.
    public enum Lead: String, Sendable, Codable {
        case connected, reconnecting
    }

    public var t: Kind
    public var reason: String?
    public var lead: Lead?
    /// When the relay made a `snapshot-wanted` request (ms since 1970, the relay's clock).
    public var at: Int64?

    public static func snapshotWanted(_ reason: String, at: Int64? = nil) -> RelayRequest {
        RelayRequest(t: .snapshotWanted, reason: reason, at: at)
    }

    public static func presence(_ lead: Lead) -> RelayRequest { RelayRequest(t: .presence, lead: lead) }

    public init(t: Kind, reason: String? = nil, lead: Lead? = nil, at: Int64? = nil) {
        self.t = t
        self.reason = reason
        self.lead = lead
        self.at = at
    }
}

/// The lead agent's presence, to the sharer (`cobrowse.sharer`): `{"t":"presence","lead":…}`.
public struct LeadPresence: Sendable, Equatable, Codable {
    public var t = "presence"
    public var lead: RelayRequest.Lead

    public init(lead: RelayRequest.Lead) { self.lead = lead }
}
