import CobrowseProtocol
import Foundation

/// An agent as proven by a verified agent token.
public struct AgentIdentity: Sendable, Equatable {
    public typealias Role = AgentRole

    public var id: String
    public var role: Role
    /// The display name the token carries, shown to the customer.
    public var name: String?

    public init(id: String, role: Role, name: String? = nil) {
        self.id = id
        self.role = role
        self.name = name
    }

    var actor: Actor { role == .agent ? .agent(id) : .supervisor(id) }
}

/// A live interaction as proven by a verified interaction token.
public struct InteractionGrant: Sendable, Equatable {
    public var interactionID: String
    public var channel: InteractionChannel

    public init(interactionID: String, channel: InteractionChannel) {
        self.interactionID = interactionID
        self.channel = channel
    }
}

/// A session as the registry keeps it: the public view plus the customer's key hash.
public struct SessionRecord: Sendable, Equatable {
    public var view: SessionView
    /// SHA-256 (hex) of the customer key handed out at creation; the key itself is never stored.
    public var customerKeyHash: String
}

/// The session state machine: every transition and every refusal, without storage or I/O.
/// Each operation changes the record and returns the event to publish (nil: nothing changed).
public struct SessionRules: Sendable {
    public var writeModeEnabled: Bool
    public var writeRequestTimeout: Duration

    public init(writeModeEnabled: Bool = true, writeRequestTimeout: Duration = .seconds(30)) {
        self.writeModeEnabled = writeModeEnabled
        self.writeRequestTimeout = writeRequestTimeout
    }

    static let writeTimer = Actor.system("write-request-timer")

    public static func newSession(id: SessionID, grant: InteractionGrant, customerKeyHash: String, now: Date) -> SessionRecord {
        SessionRecord(view: SessionView(
            id: id, state: .idle, mode: .pointer, writeRequestPendingUntil: nil, interactionID: grant.interactionID,
            channel: grant.channel, leadAgentID: nil, observers: [], createdAt: now, joinedAt: nil, endedAt: nil,
            endReason: nil, endedBy: nil, modeChanges: []), customerKeyHash: customerKeyHash)
    }

    /// `agentHoldsAnotherLiveSession`: whether the agent already leads a different live session.
    public func join(_ record: inout SessionRecord, agent: AgentIdentity, agentHoldsAnotherLiveSession: Bool,
                     now: Date) throws(RegistryRefusal) -> SessionEvent.Kind? {
        var s = record.view
        try refuseIfEnded(s)
        switch agent.role {
        case .supervisor:
            guard s.state == .active else {
                throw RegistryRefusal(.notActive, "a supervisor can watch only a session an agent has joined")
            }
            // A second console of an observer already there (another tab) is not a second visit.
            guard !s.visits.contains(where: { $0.agentID == agent.id && $0.role == .supervisor && $0.leftAt == nil }) else { return nil }
            if !s.observers.contains(agent.id) { s.observers.append(agent.id) }
            s.visits.append(Visit(agentID: agent.id, name: agent.name, role: .supervisor, joinedAt: now))
            record.view = s
            return .observerJoined
        case .agent:
            if s.state == .active {
                // The same agent coming back (a reloaded console) is not a second join.
                guard s.leadAgentID == agent.id else {
                    throw RegistryRefusal(.sessionTaken, "another agent has already joined this session")
                }
                return nil
            }
            guard !agentHoldsAnotherLiveSession else {
                throw RegistryRefusal.agentBusy
            }
            s.state = .active
            s.leadAgentID = agent.id
            s.joinedAt = now
            s.visits.append(Visit(agentID: agent.id, name: agent.name, role: .agent, joinedAt: now))
            record.view = s
            return .activated
        }
    }

    /// The observer's visit that began at `joinedAt` ends; nil when it already has (a repeated
    /// leave, the session's end) or never was.
    public func observerLeft(_ record: inout SessionRecord, agentID: String, joinedAt: Date, now: Date) -> SessionEvent.Kind? {
        guard record.view.state != .ended, let index = record.view.visits.firstIndex(where: {
            $0.agentID == agentID && $0.role == .supervisor && $0.joinedAt == joinedAt && $0.leftAt == nil
        }) else { return nil }
        record.view.visits[index].leftAt = now
        return .observerLeft
    }

    public func requestWrite(_ record: inout SessionRecord, agent: AgentIdentity, now: Date) throws(RegistryRefusal) -> SessionEvent.Kind? {
        var s = record.view
        try refuseIfEnded(s)
        guard writeModeEnabled else {
            throw RegistryRefusal(.writeModeDisabled, "write mode is disabled by the administrator")
        }
        guard agent.role == .agent else { throw RegistryRefusal(.notAllowed, "observers never get control") }
        guard s.state == .active else { throw RegistryRefusal(.notActive, "join the session before asking for control") }
        guard s.leadAgentID == agent.id else {
            throw RegistryRefusal(.notAllowed, "only the agent leading this session can ask for control")
        }
        guard s.mode == .pointer, s.writeRequestPendingUntil == nil else { return nil }
        s.writeRequestPendingUntil = now.addingTimeInterval(writeRequestTimeout.timeInterval).wholeMilliseconds
        s.modeChanges.append(ModeChange(kind: .requested, at: now, by: agent.actor))
        record.view = s
        return .modeRequested
    }

    public func answerWrite(_ record: inout SessionRecord, approve: Bool, now: Date) throws(RegistryRefusal) -> SessionEvent.Kind? {
        var s = record.view
        try refuseIfEnded(s)
        // A request past its deadline has lapsed even if the sweeper has not recorded it yet.
        guard let until = s.writeRequestPendingUntil, until > now else {
            throw RegistryRefusal(.noPendingWriteRequest, "the agent has no pending request for control")
        }
        if approve, !writeModeEnabled {
            // Disabled while the request was pending: the customer's approval cannot enable it.
            throw RegistryRefusal(.writeModeDisabled, "write mode is disabled by the administrator")
        }
        s.writeRequestPendingUntil = nil
        s.modeChanges.append(ModeChange(kind: approve ? .approved : .denied, at: now, by: .customer))
        if approve { s.mode = .write }
        record.view = s
        return approve ? .modeChanged : .modeRequestDeclined
    }

    /// The customer takes control back; also withdraws a pending request. Idempotent.
    public func revokeWrite(_ record: inout SessionRecord, now: Date) throws(RegistryRefusal) -> SessionEvent.Kind? {
        var s = record.view
        try refuseIfEnded(s)
        if s.mode == .write {
            s.mode = .pointer
            s.modeChanges.append(ModeChange(kind: .revoked, at: now, by: .customer))
            record.view = s
            return .modeChanged
        }
        guard s.writeRequestPendingUntil != nil else { return nil }
        s.writeRequestPendingUntil = nil
        s.modeChanges.append(ModeChange(kind: .denied, at: now, by: .customer))
        record.view = s
        return .modeRequestDeclined
    }

    public func end(_ record: inout SessionRecord, reason: EndReason, by actor: Actor, now: Date) throws(RegistryRefusal) -> SessionEvent.Kind? {
        var s = record.view
        try refuseIfEnded(s)
        s.state = .ended
        s.mode = .pointer
        s.writeRequestPendingUntil = nil
        s.endedAt = now
        s.endReason = reason
        s.endedBy = actor
        for index in s.visits.indices where s.visits[index].leftAt == nil { s.visits[index].leftAt = now }
        record.view = s
        return .ended
    }

    /// A pending write request past its deadline lapses; the mode stays `pointer`.
    public func expireWriteRequest(_ record: inout SessionRecord, now: Date) -> SessionEvent.Kind? {
        guard record.view.state != .ended, let until = record.view.writeRequestPendingUntil, until <= now else { return nil }
        record.view.writeRequestPendingUntil = nil
        record.view.modeChanges.append(ModeChange(kind: .timedOut, at: now, by: Self.writeTimer))
        return .modeRequestDeclined
    }

    private func refuseIfEnded(_ s: SessionView) throws(RegistryRefusal) {
        if s.state == .ended { throw RegistryRefusal.sessionEnded }
    }
}
