import CobrowseProtocol
import Foundation

/// A session's history as an auditor reads it: every step in order (created, the lead's join,
/// observers in and out, each write-mode request and its answer, the pages the customer showed,
/// the agent actions the filter passed on or dropped, the end) and how long it waited, ran and
/// spent in write mode. Derived from the stored session alone; nothing of page content is in it.
public struct SessionTimeline: Sendable, Codable, Equatable {
    /// One step.
    public struct Entry: Sendable, Codable, Equatable {
        /// `created`, `joined`, `observer-joined`, `observer-left`, `lead-left`, `write-requested`,
        /// `write-approved`, `write-denied`, `write-timed-out`, `write-revoked`, `page`,
        /// `action-forwarded`, `action-dropped`, `ended`.
        public var kind: String
        public var at: Date
        /// Who did it (for `action-dropped`: the lead, whose action it was).
        public var by: Actor?
        /// The agent's display name, for joins and leaves, when the token carried one.
        public var name: String?
        /// `ended`: why; `action-dropped`: why the filter dropped it.
        public var reason: String?
        /// `action-forwarded`, `action-dropped`: what the agent did or tried (`click`, `input`, `navigate`, `scroll`, …).
        public var action: String?
        /// `page`: the page's address as the record keeps it (no query; a masked page's URL pattern).
        public var url: String?
    }

    /// Durations in milliseconds; those that have not begun are nil. A live session's run until now.
    public struct Durations: Sendable, Codable, Equatable {
        /// From the customer's start to the lead agent's join (or to the end, if none joined).
        public var waitingForAgent: Int64
        /// From the join to the end.
        public var active: Int64?
        /// Time in write mode, every approval to its revocation (or the end) added up.
        public var writeMode: Int64
        /// Write-mode requests, and how many the customer approved.
        public var writeRequests: Int
        public var writeApprovals: Int
    }

    public var session: SessionID
    public var interactionID: String
    public var channel: InteractionChannel
    public var state: SessionState
    public var endReason: EndReason?
    public var durations: Durations
    public var entries: [Entry]
    /// Dropped actions the record counted beyond those it kept (it keeps the first ones).
    public var droppedActionsNotListed: Int
    /// Forwarded actions and pages counted beyond those kept, likewise.
    public var forwardedActionsNotListed: Int
    public var pagesNotListed: Int

    /// The timeline of `view`, with live durations measured to `now`.
    public init(_ view: SessionView, now: Date) {
        session = view.id
        interactionID = view.interactionID
        channel = view.channel
        state = view.state
        endReason = view.endReason
        var entries = [Entry(kind: "created", at: view.createdAt, by: .customer)]
        for visit in view.visits {
            let actor: Actor = visit.role == .supervisor ? .supervisor(visit.agentID) : .agent(visit.agentID)
            let lead = visit.agentID == view.leadAgentID && visit.role == .agent
            entries.append(Entry(kind: lead ? "joined" : "observer-joined", at: visit.joinedAt, by: actor, name: visit.name))
            // The lead's visit ends with the session; an observer's when it leaves.
            if let left = visit.leftAt, !(lead && left == view.endedAt) {
                entries.append(Entry(kind: lead ? "lead-left" : "observer-left", at: left, by: actor, name: visit.name))
            }
        }
        if view.visits.isEmpty, let joined = view.joinedAt, let lead = view.leadAgentID {
            entries.append(Entry(kind: "joined", at: joined, by: .agent(lead))) // a session from before visits were kept
        }
        for change in view.modeChanges {
            entries.append(Entry(kind: "write-\(change.kind.rawValue)", at: change.at, by: change.by))
        }
        let lead = view.leadAgentID.map(Actor.agent)
        for page in view.masking?.pages ?? [] {
            entries.append(Entry(kind: "page", at: page.at, by: .customer, url: page.url))
        }
        for action in view.masking?.forwardedActions ?? [] {
            entries.append(Entry(kind: "action-forwarded", at: action.at, by: lead, action: action.action))
        }
        forwardedActionsNotListed = max(0, (view.masking?.forwardedActionsTotal ?? 0) - (view.masking?.forwardedActions.count ?? 0))
        pagesNotListed = max(0, (view.masking?.pagesTotal ?? 0) - (view.masking?.pages.count ?? 0))
        let dropped = view.masking?.droppedActions ?? []
        for action in dropped {
            entries.append(Entry(kind: "action-dropped", at: action.at, by: lead, reason: action.reason,
                                 action: action.action))
        }
        droppedActionsNotListed = max(0, (view.masking?.droppedActionsTotal ?? 0) - dropped.count)
        if let ended = view.endedAt {
            entries.append(Entry(kind: "ended", at: ended, by: view.endedBy, reason: view.endReason?.rawValue))
        }
        // In time order; steps at the same instant keep the order above (created first, ended last).
        self.entries = entries.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)

        let end = view.endedAt ?? now
        let write = WriteModeFigures(view.modeChanges, openUntil: end)
        durations = Durations(waitingForAgent: view.createdAt.milliseconds(to: view.joinedAt ?? end),
                              active: view.joinedAt.map { $0.milliseconds(to: end) }, writeMode: write.time,
                              writeRequests: write.requests, writeApprovals: write.approvals)
    }
}
