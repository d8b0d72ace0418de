import CobrowseProtocol
import Foundation

/// How long a session may go without an agent, without activity, or without its customer or
/// agent connected before the watch ends it.
public struct TimeoutLimits: Sendable, Equatable {
    /// Per channel; a channel without a limit never ends for inactivity (voice, by default).
    public var inactivity: [InteractionChannel: TimeInterval]
    public var noAgent: TimeInterval
    public var agentGrace: TimeInterval
    public var customerGrace: TimeInterval
    /// How long a relay that last saw a party may stay silent (no report at all: cut from the
    /// broker, or dead) before that party's absence counts; a party on a dead relay reconnects
    /// to another one long before.
    public var relaySilence: TimeInterval

    public init(inactivity: [InteractionChannel: TimeInterval] = [.chat: 15 * 60, .messaging: 2 * 60],
                noAgent: TimeInterval = 10 * 60, agentGrace: TimeInterval = 60, customerGrace: TimeInterval = 30,
                relaySilence: TimeInterval = 120) {
        self.inactivity = inactivity
        self.noAgent = noAgent
        self.agentGrace = agentGrace
        self.customerGrace = customerGrace
        self.relaySilence = relaySilence
    }
}

/// The watch's picture of every live session, and which of them are due to end. Pure: every
/// instant is passed in, so tests drive it with their own clock.
///
/// It never ends a session early: times only move forward (a report can say a session was
/// active later, never earlier), sessions learned from the registry (at start, after a
/// reconnect) count from the moment they were learned, since what happened meanwhile is unknown,
/// and time nobody could hear is charged to no one: the watch's own outage is added to every
/// clock (`excuse(unheard:)`), and a party whose relay has fallen silent is not charged until
/// `relaySilence` has passed.
public struct SessionTimers: Sendable {
    /// A relay's report that saw a party: which relay, and how many reports it had sent then.
    struct Sighting: Sendable, Equatable {
        var relay: String
        var report: Int
    }

    struct Tracked: Sendable, Equatable {
        var channel: InteractionChannel
        var active: Bool
        var createdAt: Date
        var lastActivity: Date
        var customerSeen: Date
        var agentSeen: Date
        /// The last reports that saw the customer and the agent (nil: learned from the registry).
        var customerSighting: Sighting?
        var agentSighting: Sighting?
        /// An end was ordered; not ordered again unless it failed.
        var ending = false
    }

    public let limits: TimeoutLimits
    private(set) var sessions: [SessionID: Tracked] = [:]
    /// Reports received per relay: a relay whose count has not moved since it saw a party has
    /// said nothing since, so the party's absence is not known.
    private var reportsFrom: [String: Int] = [:]

    public init(limits: TimeoutLimits) {
        self.limits = limits
    }

    public var count: Int { sessions.count }
    public func tracks(_ id: SessionID) -> Bool { sessions[id] != nil }

    /// The registry's live sessions: adds the missing ones, drops the ones no longer live, and
    /// keeps what is known of the others.
    public mutating func reconcile(with live: [SessionView], now: Date) {
        let ids = Set(live.map(\.id))
        sessions = sessions.filter { ids.contains($0.key) }
        for view in live {
            if var tracked = sessions[view.id] {
                if view.state == .active, !tracked.active { tracked.activate(at: now) }
                sessions[view.id] = tracked
            } else {
                sessions[view.id] = Tracked(learned: view, at: now)
            }
        }
    }

    /// A lifecycle event from the registry.
    public mutating func apply(_ event: SessionEvent, now: Date) {
        let view = event.session
        switch event.kind {
        case .ended:
            sessions[view.id] = nil
        case .created:
            sessions[view.id] = sessions[view.id] ?? Tracked(learned: view, at: min(view.createdAt, now))
        case .activated:
            var tracked = sessions[view.id] ?? Tracked(learned: view, at: now)
            tracked.activate(at: now)
            sessions[view.id] = tracked
        case .observerJoined, .observerLeft, .modeRequested, .modeRequestDeclined, .modeChanged:
            // Someone acted on the session: that is activity too.
            sessions[view.id]?.lastActivity = now
        }
    }

    /// One relay's report, received at `receivedAt`.
    public mutating func apply(_ report: ActivityReport, receivedAt: Date) {
        let count = reportsFrom[report.relay, default: 0] + 1
        reportsFrom[report.relay] = count
        let sighting = Sighting(relay: report.relay, report: count)
        for session in report.sessions {
            guard var tracked = sessions[session.id] else { continue }
            if session.sharers > 0 {
                tracked.customerSeen = max(tracked.customerSeen, receivedAt)
                tracked.customerSighting = sighting
            }
            if session.leads > 0 {
                tracked.agentSeen = max(tracked.agentSeen, receivedAt)
                tracked.agentSighting = sighting
            }
            if let idle = session.idleMilliseconds {
                tracked.lastActivity = max(tracked.lastActivity, receivedAt.addingTimeInterval(-Double(idle) / 1000))
            }
            sessions[session.id] = tracked
        }
    }

    /// Sessions whose time is up, each with its reason; they are marked as ending, so the next
    /// call does not order their end again (`endFailed` puts one back).
    public mutating func due(now: Date) -> [(SessionID, EndReason)] {
        var due: [(SessionID, EndReason)] = []
        for (id, tracked) in sessions where !tracked.ending {
            guard let reason = reason(tracked, now: now) else { continue }
            sessions[id]?.ending = true
            due.append((id, reason))
        }
        return due.sorted { $0.0.digits < $1.0.digits }
    }

    /// The end could not be ordered (registry unreachable): try again on a later call.
    public mutating func endFailed(_ id: SessionID) {
        sessions[id]?.ending = false
    }

    /// The watch heard nothing for `unheard` seconds (its broker connection was down): that time
    /// is charged to no party, so every clock moves forward by it.
    public mutating func excuse(unheard: TimeInterval) {
        guard unheard > 0 else { return }
        for id in sessions.keys {
            sessions[id]?.createdAt += unheard
            sessions[id]?.lastActivity += unheard
            sessions[id]?.customerSeen += unheard
            sessions[id]?.agentSeen += unheard
        }
    }

    /// The session is over (ended, or unknown to the registry): forget it.
    public mutating func forget(_ id: SessionID) {
        sessions[id] = nil
    }

    /// Since when a party counts as absent: when it was last seen, unless the relay that saw it
    /// has said nothing since; then only once that relay has been silent for `relaySilence`.
    private func absentSince(_ seen: Date, _ sighting: Sighting?) -> Date {
        guard let sighting, reportsFrom[sighting.relay] == sighting.report else { return seen }
        return seen.addingTimeInterval(limits.relaySilence)
    }

    private func reason(_ s: Tracked, now: Date) -> EndReason? {
        if !s.active, now.timeIntervalSince(s.createdAt) >= limits.noAgent { return .noAgentJoined }
        if now.timeIntervalSince(absentSince(s.customerSeen, s.customerSighting)) >= limits.customerGrace { return .customerAbsent }
        if s.active, now.timeIntervalSince(absentSince(s.agentSeen, s.agentSighting)) >= limits.agentGrace { return .agentAbsent }
        if s.active, let limit = limits.inactivity[s.channel], now.timeIntervalSince(s.lastActivity) >= limit { return .inactivity }
        return nil
    }
}

extension SessionTimers.Tracked {
    /// A session first seen at `now`: created then (a `created` event) or earlier (the registry).
    init(learned view: SessionView, at now: Date) {
        self.init(channel: view.channel, active: view.state == .active, createdAt: view.createdAt,
                  lastActivity: now, customerSeen: now, agentSeen: now)
    }

    /// The lead agent joined: from now on the agent must stay, and activity counts.
    mutating func activate(at now: Date) {
        active = true
        agentSeen = max(agentSeen, now)
        lastActivity = max(lastActivity, now)
    }
}
