import Foundation

/// Where a session is in its life. `ended` is terminal.
public enum SessionState: String, Sendable, Codable, CaseIterable {
    /// Created by the customer; no agent yet.
    case idle
    /// A lead agent has joined.
    case active
    /// Ended, for one of the `EndReason`s; nothing more happens to it.
    case ended
}

/// What the lead agent may do: point and annotate, or also act on the page with consent.
public enum SessionMode: String, Sendable, Codable {
    /// The agent may point and annotate only (every session starts here).
    case pointer
    /// The agent may also click, type, scroll and navigate, with the customer's consent.
    case write
}

/// The channel of the contact-center interaction the session belongs to.
public enum InteractionChannel: String, Sendable, Codable, CaseIterable {
    /// Web chat.
    case chat
    /// Web messaging (asynchronous).
    case messaging
    /// A phone call.
    case voice
}

/// Why a session ended.
public enum EndReason: String, Sendable, Codable, CaseIterable {
    /// The customer ended it.
    case customerExited = "customer-exited"
    /// The lead agent ended it.
    case agentExited = "agent-exited"
    /// The contact-center interaction ended.
    case interactionEnded = "interaction-ended"
    /// The interaction moved to another agent (who starts a new session).
    case interactionTransferred = "interaction-transferred"
    /// The interaction became a conference: co-browse is one customer with one agent.
    case interactionConferenced = "interaction-conferenced"
    /// Nobody did anything for the channel's inactivity timeout.
    case inactivity
    /// No agent joined in time.
    case noAgentJoined = "no-agent-joined"
    /// The lead agent's console was gone longer than its grace period.
    case agentAbsent = "agent-absent"
    /// The customer's page was gone (tab closed, left the site) longer than its grace period.
    case customerAbsent = "customer-absent"
    /// An administrator ended it (`POST /api/sessions/{id}/end`).
    case administrator
}

/// Who did something to a session (recorded with every end and mode change).
public enum Actor: Sendable, Hashable, TextCodable {
    /// How an actor looks as text, for decoding errors.
    public static let expectedForm = "an actor (customer, agent:<id>, supervisor:<id>, system:<name> or administrator)"

    /// The customer (proved by the customer key).
    case customer
    /// An agent, by agent id.
    case agent(String)
    /// A supervisor, by agent id.
    case supervisor(String)
    /// A service acting on its own (interaction watch, the write-request timer).
    case system(String)
    /// An administrator, through the reporting API.
    case administrator

    /// `customer`, `agent:<id>`, `supervisor:<id>`, `system:<name>` or `administrator`: how it is
    /// stored, reported and sent.
    public var description: String {
        switch self {
        case .customer: "customer"
        case let .agent(id): "agent:\(id)"
        case let .supervisor(id): "supervisor:\(id)"
        case let .system(name): "system:\(name)"
        case .administrator: "administrator"
        }
    }

    /// Parses `description` back (the form stored and reported).
    /// - Parameter text: An actor in the `description` form.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        switch (parts.first, parts.count) {
        case ("customer", 1): self = .customer
        case ("administrator", 1): self = .administrator
        case ("agent", 2): self = .agent(parts[1])
        case ("supervisor", 2): self = .supervisor(parts[1])
        case ("system", 2): self = .system(parts[1])
        default: return nil
        }
    }
}

/// One step in the history of a session's mode.
public struct ModeChange: Sendable, Codable, Equatable {
    /// What happened to the write-mode request.
    public enum Kind: String, Sendable, Codable {
        /// The lead asked for write mode; the customer approved or denied it; the request ran past
        /// `WRITE_REQUEST_TIMEOUT`; or the customer revoked write mode.
        case requested, approved, denied, timedOut = "timed-out", revoked
    }

    /// What happened.
    public var kind: Kind
    /// When.
    public var at: Date
    /// Who did it.
    public var by: Actor

    /// A step.
    /// - Parameters:
    ///   - kind: What happened.
    ///   - at: When.
    ///   - by: Who did it.
    public init(kind: Kind, at: Date, by: Actor) {
        self.kind = kind
        self.at = at
        self.by = by
    }
}

/// What masking did in a session, the evidence an auditor asks for: the rules it was masked under
/// and what the masking filter masked and refused. Never holds page content. The filter reports
/// it to the registry in increments (`RegistryCommand.recordMasking`), which the registry adds up.
public struct MaskingRecord: Sendable, Codable, Equatable {
    /// One agent action the filter did not pass on.
    public struct DroppedAction: Sendable, Codable, Equatable {
        /// When the filter dropped it.
        public var at: Date
        /// The action's type (`click`, `type`, `navigate`, …).
        public var action: String
        /// Why (`pointer-mode`, `masked-field`, `disabled-element`, …).
        public var reason: String

        /// A dropped action.
        /// - Parameters:
        ///   - at: When it was dropped.
        ///   - action: The action's type.
        ///   - reason: Why it was dropped.
        public init(at: Date, action: String, reason: String) {
            self.at = at
            self.action = action
            self.reason = reason
        }
    }

    /// A page the customer's view showed (each new page's snapshot), by the address the rules let
    /// the record keep: origin and path, never the query; for a page the rules mask whole or keep
    /// private, the rule set's URL pattern instead of the path.
    public struct PageVisit: Sendable, Codable, Equatable {
        /// When its snapshot passed the filter.
        public var at: Date
        /// `https://shop.example/cart`, or `https://bank.example/statement*` for a masked page.
        public var url: String

        /// A page.
        /// - Parameters:
        ///   - at: When its snapshot passed the filter.
        ///   - url: The address as kept.
        public init(at: Date, url: String) {
            self.at = at
            self.url = url
        }
    }

    /// One agent action the filter passed on to the customer's page.
    public struct ForwardedAction: Sendable, Codable, Equatable {
        /// When the filter passed it on.
        public var at: Date
        /// The action's type (`click`, `type`, `scroll`, `navigate`, …).
        public var action: String

        /// A forwarded action.
        /// - Parameters:
        ///   - at: When it was passed on.
        ///   - action: The action's type.
        public init(at: Date, action: String) {
            self.at = at
            self.action = action
        }
    }

    /// The SHA-256 (hex) of each rules file the session was masked under, in the order they
    /// came into force (`sha256sum rules.json` gives the same).
    public var rulesHashes: [String] = []
    /// Elements masked, blocked or image-masked (counted once each per page load).
    public var maskedElements = 0
    /// Form values sent as `****` (field values and typed input).
    public var maskedValues = 0
    /// What each PII detector masked, by name (what reached the filter unmasked).
    public var detectorHits: [String: Int] = [:]
    /// What each PII detector of the SDK masked in the customer's browser, by name, as the SDK
    /// reported it (`detected` frames): what never left the page.
    public var sdkDetectorHits: [String: Int] = [:]
    /// The dropped agent actions, the first `droppedActionsKept` of them.
    public var droppedActions: [DroppedAction] = []
    /// Every dropped agent action, kept or not.
    public var droppedActionsTotal = 0
    /// The pages the customer showed, the first `listsKept` of them.
    public var pages: [PageVisit] = []
    /// Every page shown, kept or not.
    public var pagesTotal = 0
    /// The agent actions passed on to the page, the first `listsKept` of them.
    public var forwardedActions: [ForwardedAction] = []
    /// Every action passed on, kept or not.
    public var forwardedActionsTotal = 0
    /// Snapshots the filter asked the customer's page for (gaps, rules changes, viewers' asks).
    public var resyncRequests = 0

    /// Dropped actions kept per session (the count goes on).
    public static let droppedActionsKept = 200
    /// Pages and forwarded actions kept per session, each (the counts go on).
    public static let listsKept = 200

    /// An empty record: nothing masked, nothing dropped.
    public init() {}

    private enum Key: String, CodingKey {
        case rulesHashes, maskedElements, maskedValues, detectorHits, sdkDetectorHits, droppedActions, droppedActionsTotal
        case pages, pagesTotal, forwardedActions, forwardedActionsTotal, resyncRequests
    }

    /// Records stored before a field existed lack it: it reads as empty.
    /// - Parameter decoder: The decoder to read from.
    /// - Throws: `DecodingError` when a field is there with the wrong type.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        rulesHashes = try c.decodeIfPresent([String].self, forKey: .rulesHashes) ?? []
        maskedElements = try c.decodeIfPresent(Int.self, forKey: .maskedElements) ?? 0
        maskedValues = try c.decodeIfPresent(Int.self, forKey: .maskedValues) ?? 0
        detectorHits = try c.decodeIfPresent([String: Int].self, forKey: .detectorHits) ?? [:]
        sdkDetectorHits = try c.decodeIfPresent([String: Int].self, forKey: .sdkDetectorHits) ?? [:]
        droppedActions = try c.decodeIfPresent([DroppedAction].self, forKey: .droppedActions) ?? []
        droppedActionsTotal = try c.decodeIfPresent(Int.self, forKey: .droppedActionsTotal) ?? 0
        pages = try c.decodeIfPresent([PageVisit].self, forKey: .pages) ?? []
        pagesTotal = try c.decodeIfPresent(Int.self, forKey: .pagesTotal) ?? 0
        forwardedActions = try c.decodeIfPresent([ForwardedAction].self, forKey: .forwardedActions) ?? []
        forwardedActionsTotal = try c.decodeIfPresent(Int.self, forKey: .forwardedActionsTotal) ?? 0
        resyncRequests = try c.decodeIfPresent(Int.self, forKey: .resyncRequests) ?? 0
    }

    /// Nothing to report.
    public var isEmpty: Bool { self == MaskingRecord() }

    /// Adds an increment: counts summed, rules hashes, dropped and forwarded actions and pages
    /// appended. A rules hash equal to the last one is not repeated; the lists stop at their caps.
    /// - Parameter delta: The increment the filter reported.
    public mutating func add(_ delta: MaskingRecord) {
        for hash in delta.rulesHashes where rulesHashes.last != hash { rulesHashes.append(hash) }
        maskedElements += delta.maskedElements
        maskedValues += delta.maskedValues
        for (name, hits) in delta.detectorHits { detectorHits[name, default: 0] += hits }
        for (name, hits) in delta.sdkDetectorHits { sdkDetectorHits[name, default: 0] += hits }
        droppedActions += delta.droppedActions.prefix(max(0, Self.droppedActionsKept - droppedActions.count))
        droppedActionsTotal += delta.droppedActionsTotal
        pages += delta.pages.prefix(max(0, Self.listsKept - pages.count))
        pagesTotal += delta.pagesTotal
        forwardedActions += delta.forwardedActions.prefix(max(0, Self.listsKept - forwardedActions.count))
        forwardedActionsTotal += delta.forwardedActionsTotal
        resyncRequests += delta.resyncRequests
    }
}

/// A session as the registry reports it. Never holds page content.
public struct SessionView: Sendable, Codable, Equatable {
    /// The session's id.
    public var id: SessionID
    /// Idle, active or ended.
    public var state: SessionState
    /// Pointer or write mode.
    public var mode: SessionMode
    /// The lead agent's write request awaiting the customer's answer, and until when.
    public var writeRequestPendingUntil: Date?
    /// The contact-center interaction the session belongs to (from the interaction token).
    public var interactionID: String
    /// The interaction's channel.
    public var channel: InteractionChannel
    /// The lead agent's id, once one joined.
    public var leadAgentID: String?
    /// The ids of the supervisors who observed, each once, ever.
    public var observers: [String]
    /// When the customer created it.
    public var createdAt: Date
    /// When the lead agent joined.
    public var joinedAt: Date?
    /// When it ended.
    public var endedAt: Date?
    /// Why it ended.
    public var endReason: EndReason?
    /// Who ended it.
    public var endedBy: Actor?
    /// The history of write-mode requests and changes, oldest first.
    public var modeChanges: [ModeChange]
    /// Who watched and when: the lead agent from joining to the end, each observer from each join
    /// to its leave (or the end). Open visits (`leftAt` nil) are the people viewing now.
    public var visits: [Visit]
    /// What masking did in this session (nil until the masking filter first reports).
    public var masking: MaskingRecord?

    /// A session view.
    /// - Parameters:
    ///   - id: The session's id.
    ///   - state: Idle, active or ended.
    ///   - mode: Pointer or write mode.
    ///   - writeRequestPendingUntil: The deadline of a pending write request, if any.
    ///   - interactionID: The contact-center interaction.
    ///   - channel: The interaction's channel.
    ///   - leadAgentID: The lead agent, once one joined.
    ///   - observers: The supervisors who observed.
    ///   - createdAt: When it was created.
    ///   - joinedAt: When the lead joined.
    ///   - endedAt: When it ended.
    ///   - endReason: Why it ended.
    ///   - endedBy: Who ended it.
    ///   - modeChanges: The mode history.
    ///   - visits: Who watched and when.
    ///   - masking: What masking did, if the filter reported yet.
    public init(id: SessionID, state: SessionState, mode: SessionMode, writeRequestPendingUntil: Date?,
                interactionID: String, channel: InteractionChannel, leadAgentID: String?, observers: [String],
                createdAt: Date, joinedAt: Date?, endedAt: Date?, endReason: EndReason?, endedBy: Actor?,
                modeChanges: [ModeChange], visits: [Visit] = [], masking: MaskingRecord? = nil) {
        self.id = id
        self.state = state
        self.mode = mode
        self.writeRequestPendingUntil = writeRequestPendingUntil
        self.interactionID = interactionID
        self.channel = channel
        self.leadAgentID = leadAgentID
        self.observers = observers
        self.createdAt = createdAt
        self.joinedAt = joinedAt
        self.endedAt = endedAt
        self.endReason = endReason
        self.endedBy = endedBy
        self.modeChanges = modeChanges
        self.visits = visits
        self.masking = masking
    }
}

/// One agent's time in a session, with the display name their token carried (if any).
public struct Visit: Sendable, Codable, Equatable {
    /// The agent's id (the token's `agent_id`).
    public var agentID: String
    /// The agent's display name (the token's `name` claim), if it had one.
    public var name: String?
    /// Whether the agent led or observed.
    public var role: AgentRole
    /// When the visit began.
    public var joinedAt: Date
    /// nil while the agent is there.
    public var leftAt: Date?

    /// A visit.
    /// - Parameters:
    ///   - agentID: The agent's id.
    ///   - name: The display name, if the token had one.
    ///   - role: Lead agent or supervisor.
    ///   - joinedAt: When it began.
    ///   - leftAt: When it ended; nil while it is open.
    public init(agentID: String, name: String?, role: AgentRole, joinedAt: Date, leftAt: Date? = nil) {
        self.agentID = agentID
        self.name = name
        self.role = role
        self.joinedAt = joinedAt
        self.leftAt = leftAt
    }
}

/// What an agent token lets its holder do.
public enum AgentRole: String, Sendable, Codable {
    /// May lead a session.
    case agent
    /// May watch an active session, read-only.
    case supervisor
}
