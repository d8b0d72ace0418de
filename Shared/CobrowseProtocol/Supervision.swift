import Foundation

/// How one live session's stream fared at the masking filter over one report window: what a
/// supervisor reads as the session's health (docs/registry.md, "Supervision").
public struct SessionHealth: Sendable, Codable, Equatable {
    /// The session.
    public var sessionID: SessionID
    /// When the window closed.
    public var at: Date
    /// How long the window was.
    public var windowMilliseconds: Int
    /// Masked frames passed on to the viewers in the window.
    public var framesPassed: Int
    /// The median time from the customer's relay receiving a frame to its masked form leaving
    /// the filter, over the window's frames (nil: no frame).
    public var latencyP50Milliseconds: Int?
    /// The longest such time in the window (nil: no frame).
    public var latencyMaxMilliseconds: Int?
    /// Snapshots asked of the customer's page in the window.
    public var resyncs: Int
    /// When the sharer's last frame passed the filter (nil: none since the filter took the session on).
    public var lastFrameAt: Date?

    /// A window's figures.
    /// - Parameters:
    ///   - sessionID: The session.
    ///   - at: When the window closed.
    ///   - windowMilliseconds: Its length.
    ///   - framesPassed: Masked frames passed on.
    ///   - latencyP50Milliseconds: The median latency, if any frame passed.
    ///   - latencyMaxMilliseconds: The longest latency, if any frame passed.
    ///   - resyncs: Snapshots asked for.
    ///   - lastFrameAt: When the last frame passed.
    public init(sessionID: SessionID, at: Date, windowMilliseconds: Int, framesPassed: Int,
                latencyP50Milliseconds: Int?, latencyMaxMilliseconds: Int?, resyncs: Int, lastFrameAt: Date?) {
        self.sessionID = sessionID
        self.at = at
        self.windowMilliseconds = windowMilliseconds
        self.framesPassed = framesPassed
        self.latencyP50Milliseconds = latencyP50Milliseconds
        self.latencyMaxMilliseconds = latencyMaxMilliseconds
        self.resyncs = resyncs
        self.lastFrameAt = lastFrameAt
    }

    /// Sessions one `reportHealth` request holds at most (about 200 bytes each): a filter splits
    /// a larger report into several.
    public static let perRequest = 100

    /// Whether the figures could be a window's: nothing negative, latencies both there or both
    /// absent and in order, a window of at most a minute.
    public var isPlausible: Bool {
        guard windowMilliseconds > 0, windowMilliseconds <= 60_000, framesPassed >= 0, resyncs >= 0 else { return false }
        switch (latencyP50Milliseconds, latencyMaxMilliseconds) {
        case (nil, nil): return true
        case let (p50?, max?): return p50 >= 0 && p50 <= max
        default: return false
        }
    }
}

/// A supervisor's verdict on a session's health, from its last window.
public enum HealthStatus: String, Sendable, Codable, CaseIterable {
    /// The customer's changes reach the agent promptly.
    case good
    /// The last window's median latency reached `slowMedian`, or its longest `slowMax`.
    case slow
    /// No report from a masking filter in the last `HealthStatus.reportFreshness`.
    case unknown

    /// A median latency from this on is slow.
    public static let slowMedianMilliseconds = 250
    /// A longest latency from this on is slow.
    public static let slowMaxMilliseconds = 1000
    /// A report older than this says nothing any more (the filter reports every 2 s).
    public static let reportFreshness: TimeInterval = 10

    /// The verdict on a session's last report.
    /// - Parameters:
    ///   - health: The last report, if any.
    ///   - now: The present.
    public init(_ health: SessionHealth?, now: Date) {
        guard let health, now.timeIntervalSince(health.at) <= Self.reportFreshness else {
            self = .unknown
            return
        }
        let slow = (health.latencyP50Milliseconds ?? 0) >= Self.slowMedianMilliseconds
            || (health.latencyMaxMilliseconds ?? 0) >= Self.slowMaxMilliseconds
        self = slow ? .slow : .good
    }
}

/// One live session as a supervisor's list shows it: who leads and watches, its state and mode,
/// how long it has run, and its health. Nothing of the page.
public struct SupervisedSession: Sendable, Codable, Equatable {
    /// An observer watching now.
    public struct Observer: Sendable, Codable, Equatable {
        /// The supervisor's id.
        public var agentID: String
        /// The name their token carried, if any.
        public var name: String?
        /// When they began watching.
        public var joinedAt: Date
    }

    /// The session's id.
    public var sessionID: SessionID
    /// Idle (waiting for an agent) or active.
    public var state: SessionState
    /// Pointer or write mode.
    public var mode: SessionMode
    /// Whether the lead agent's write request awaits the customer's answer.
    public var writeRequestPending: Bool
    /// The contact-center interaction.
    public var interactionID: String
    /// Its channel.
    public var channel: InteractionChannel
    /// The lead agent, once one joined.
    public var leadAgentID: String?
    /// The name the lead agent's token carried, if any.
    public var leadAgentName: String?
    /// The observers watching now.
    public var observers: [Observer]
    /// When the customer started it.
    public var createdAt: Date
    /// When the lead agent joined.
    public var joinedAt: Date?
    /// Snapshots the masking filters asked the customer's page for in the last minute of
    /// reports (a rising count is a stream that keeps breaking; the session's masking record
    /// keeps the whole count).
    public var recentResyncs: Int
    /// The verdict on `health`.
    public var healthStatus: HealthStatus
    /// The masking filter's last window, if it reported within `HealthStatus.reportFreshness`.
    public var health: SessionHealth?

    /// A live session's summary.
    /// - Parameters:
    ///   - view: The session.
    ///   - health: The masking filter's last report on it, if any.
    ///   - recentResyncs: Snapshots asked for in the last minute of reports.
    ///   - now: The present (how fresh the report is).
    public init(_ view: SessionView, health: SessionHealth?, recentResyncs: Int, now: Date) {
        sessionID = view.id
        state = view.state
        mode = view.mode
        writeRequestPending = view.writeRequestPendingUntil.map { $0 > now } ?? false
        interactionID = view.interactionID
        channel = view.channel
        leadAgentID = view.leadAgentID
        let open = view.visits.filter { $0.leftAt == nil }
        leadAgentName = open.first { $0.role == .agent && $0.agentID == view.leadAgentID }?.name
        observers = open.filter { $0.role == .supervisor }.map { Observer(agentID: $0.agentID, name: $0.name, joinedAt: $0.joinedAt) }
        createdAt = view.createdAt
        joinedAt = view.joinedAt
        healthStatus = HealthStatus(health, now: now)
        self.health = healthStatus == .unknown ? nil : health
        self.recentResyncs = healthStatus == .unknown ? 0 : recentResyncs
    }
}

/// The answer to a supervisor's `superviseLive`: every live session, oldest first, as of `at`
/// (the registry's clock, which the durations are to be reckoned against).
public struct Supervision: Sendable, Codable, Equatable {
    /// When the registry answered.
    public var at: Date
    /// The live sessions.
    public var sessions: [SupervisedSession]

    /// A supervisor's list.
    /// - Parameters:
    ///   - at: When the registry answered.
    ///   - sessions: The live sessions.
    public init(at: Date, sessions: [SupervisedSession]) {
        self.at = at
        self.sessions = sessions
    }
}
