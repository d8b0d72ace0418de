import Foundation

/// Where a session is in its life. `ended` is terminal.
public enum SessionState: String, Sendable, Codable, CaseIterable {
    /// Created by the customer; no agent yet.
    case idle
    /// A lead agent has joined.
    case active
    case ended
}

/// What the lead agent may do: point and annotate, or also act on the page with consent.
public enum SessionMode: String, Sendable, Codable {
    case pointer
    case write
}

/// The channel of the contact-center interaction the session belongs to.
public enum InteractionChannel: String, Sendable, Codable, CaseIterable {
    case chat
    case messaging
    case voice
}

/// Why a session ended.
public enum EndReason: String, Sendable, Codable, CaseIterable {
    case customerExited = "customer-exited"
    case agentExited = "agent-exited"
    case interactionEnded = "interaction-ended"
    case interactionTransferred = "interaction-transferred"
    /// The interaction became a conference: co-browse is one customer with one agent.
    case interactionConferenced = "interaction-conferenced"
    case inactivity
    /// No agent joined in time.
    case noAgentJoined = "no-agent-joined"
    /// The lead agent's console was gone longer than its grace period.
    case agentAbsent = "agent-absent"
    /// The customer's page was gone (tab closed, left the site) longer than its grace period.
    case customerAbsent = "customer-absent"
    case administrator
}

/// Who did something to a session (recorded with every end and mode change).
public enum Actor: Sendable, Hashable, TextCodable {
    public static let expectedForm = "an actor (customer, agent:<id>, supervisor:<id>, system:<name> or administrator)"

    case customer
    case agent(String)
    case supervisor(String)
    /// A service acting on its own (interaction watch, the write-request timer).
    case system(String)
    case administrator

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
    public enum Kind: String, Sendable, Codable {
        case requested, approved, denied, timedOut = "timed-out", revoked
    }

    public var kind: Kind
    public var at: Date
    public var by: Actor

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
        public var at: Date
        /// The action's type (`click`, `type`, `navigate`, …).
        public var action: String
        /// Why (`pointer-mode`, `masked-field`, `disabled-element`, …).
        public var reason: String

        public init(at: Date, action: String, reason: String) {
            self.at = at
            self.action = action
            self.reason = reason
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

    /// Dropped actions kept per session (the count goes on).
    public static let droppedActionsKept = 200

    public init() {}

    private enum Key: String, CodingKey {
        case rulesHashes, maskedElements, maskedValues, detectorHits, sdkDetectorHits, droppedActions, droppedActionsTotal
    }

    /// Records stored before a field existed lack it: it reads as empty.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        rulesHashes = try c.decodeIfPresent([String].self, forKey: .rulesHashes) ?? []
        maskedElements = try c.decodeIfPresent(Int.self, forKey: .maskedElements) ?? 0
        maskedValues = try c.decodeIfPresent(Int.self, forKey: .maskedValues) ?? 0
        detectorHits = try c.decodeIfPresent([String: Int].self, forKey: .detectorHits) ?? [:]
        sdkDetectorHits = try c.decodeIfPresent([String: Int].self, forKey: .sdkDetectorHits) ?? [:]
        droppedActions = try c.decodeIfPresent([DroppedAction].self, forKey: .droppedActions) ?? []
        droppedActionsTotal = try c.decodeIfPresent(Int.self, forKey: .droppedActionsTotal) ?? 0
    }

    /// Nothing to report.
    public var isEmpty: Bool { self == MaskingRecord() }

    /// Adds an increment: counts summed, rules hashes and dropped actions appended.
    public mutating func add(_ delta: MaskingRecord) {
        for hash in delta.rulesHashes where rulesHashes.last != hash { rulesHashes.append(hash) }
        maskedElements += delta.maskedElements
        maskedValues += delta.maskedValues
        for (name, hits) in delta.detectorHits { detectorHits[name, default: 0] += hits }
        for (name, hits) in delta.sdkDetectorHits { sdkDetectorHits[name, default: 0] += hits }
        droppedActions += delta.droppedActions.prefix(max(0, Self.droppedActionsKept - droppedActions.count))
        droppedActionsTotal += delta.droppedActionsTotal
    }
}

/// A session as the registry reports it. Never holds page content.
public struct SessionView: Sendable, Codable, Equatable {
    public var id: SessionID
    public var state: SessionState
    public var mode: SessionMode
    /// The lead agent's write request awaiting the customer's answer, and until when.
    public var writeRequestPendingUntil: Date?
    public var interactionID: String
    public var channel: InteractionChannel
    public var leadAgentID: String?
    public var observers: [String]
    public var createdAt: Date
    public var joinedAt: Date?
    public var endedAt: Date?
    public var endReason: EndReason?
    public var endedBy: Actor?
    public var modeChanges: [ModeChange]
    /// Who watched and when: the lead agent from joining to the end, each observer from each join
    /// to its leave (or the end). Open visits (`leftAt` nil) are the people viewing now.
    public var visits: [Visit]
    /// What masking did in this session (nil until the masking filter first reports).
    public var masking: MaskingRecord?

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
    public var agentID: String
    public var name: String?
    public var role: AgentRole
    public var joinedAt: Date
    /// nil while the agent is there.
    public var leftAt: Date?

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
