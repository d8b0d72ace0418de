import CobrowseProtocol
import Foundation

/// The registry's durable sessions, whatever holds them (`SQLiteSessionStore` on one host,
/// `PostgresSessionStore` for registries on several). Every change is one transaction that also
/// appends its lifecycle event to an outbox, so a crash between commit and publish loses no
/// event. A refusal thrown inside a change rolls it back and reaches the caller as it was thrown.
public protocol SessionStoring: Sendable {
    /// Creates a session with a fresh id, refused (`interaction-ended`) in an interaction the
    /// contact center has ended. Ids are never reused, so an ended session's id can never be
    /// joined again.
    func create(grant: InteractionGrant, customerKeyHash: String, now: Date) async throws -> SessionRecord

    /// Reads a session, applies `change` and, if it returns an event, saves the session and the
    /// event together. `change` also gets what the rules need from other rows, read in the same
    /// transaction. The one-live-session-per-agent index firing is refused `agent-busy`.
    func change(_ id: SessionID, by actor: Actor, now: Date,
                _ change: @escaping @Sendable (inout SessionRecord, SessionChangeContext) throws -> SessionEvent.Kind?)
        async throws -> SessionRecord

    /// Ends the live sessions of an interaction (only those created before `createdBefore`, if
    /// given) in one transaction; `remember` records the interaction as ended. Returns the
    /// sessions it ended: none when called again with the same event.
    func endInteraction(_ interactionID: String, reason: EndReason, createdBefore: Date?, remember: Bool,
                        by actor: Actor, rules: SessionRules, now: Date) async throws -> [SessionView]

    /// Lapses every write request past its deadline; returns how many.
    func expireWriteRequests(rules: SessionRules, now: Date) async throws -> Int

    /// Retention: deletes up to `limit` sessions that ended before `cutoff`, with their masking
    /// records, and forgets interactions ended before it; returns how many sessions it deleted.
    /// Their ids are not issued again (`SessionIDPermutation`).
    func deleteHistory(endedBefore cutoff: Date, limit: Int) async throws -> Int

    func session(_ id: SessionID) async throws -> SessionRecord?

    /// Adds an increment to a session's masking record (`MaskingRecord.add`), live or ended, in
    /// one transaction; nil for an unknown session. No lifecycle event: nothing changes state.
    func recordMasking(_ id: SessionID, adding delta: MaskingRecord) async throws -> SessionRecord?

    /// The sessions a report asks for, oldest first.
    func sessions(_ filter: SessionFilter, limit: Int) async throws -> [SessionView]

    /// What reports need of the sessions created in `[from, to)`, in creation order, at most
    /// `limit` after `cursor` (keyset pagination: each page is one indexed range read).
    func reportRows(createdFrom from: Date, to: Date, after cursor: ReportCursor?, limit: Int) async throws -> [ReportRow]

    /// Every live session, oldest first.
    func liveSessions() async throws -> [SessionView]

    /// Live sessions by state, for dashboards.
    func liveCounts() async throws -> [SessionState: Int]

    /// Publishes up to `limit` events, oldest first, and removes them once `publish` returned
    /// for each: the events this process wrote, plus any another process left behind longer than
    /// `orphanAge` ago (it died before publishing them). Returns how many it published. If
    /// `publish` throws, nothing is removed and the events are published again later (at least
    /// once).
    func drainOutbox(limit: Int, orphanAge: Duration, now: Date,
                     publish: @escaping @Sendable (OutboxEntry) async throws -> Void) async throws -> Int

    /// Events waiting to be published, by any process.
    func outboxCount() async throws -> Int
}

extension SessionStoring {
    public func sessions(_ filter: SessionFilter) async throws -> [SessionView] {
        try await sessions(filter, limit: 1000)
    }
}

/// What a change may need beyond its own session, read by the store in the change's transaction.
public struct SessionChangeContext: Sendable, Equatable {
    /// Whether the acting agent (an `.agent` actor) leads a live session other than the one
    /// changed; false for every other actor.
    public var actorLeadsAnotherLiveSession: Bool

    public init(actorLeadsAnotherLiveSession: Bool) {
        self.actorLeadsAnotherLiveSession = actorLeadsAnotherLiveSession
    }
}

/// Which sessions a report asks for.
public enum SessionFilter: Sendable {
    case interaction(String)
    /// Sessions the agent led or observed.
    case agent(String)
    /// Sessions created in `[from, to)`.
    case created(from: Date, to: Date)
}

/// One lifecycle event waiting in the outbox to be published.
public struct OutboxEntry: Sendable, Equatable {
    public let sequence: Int64
    public let routingKey: String
    public let body: Data

    public init(sequence: Int64, routingKey: String, body: Data) {
        self.sequence = sequence
        self.routingKey = routingKey
        self.body = body
    }
}

extension ReportRow {
    /// A row from the stores' columns: mode changes as JSON, the masking record's JSON if any.
    init(id: String, createdAt: Int64, joinedAt: Int64?, endedAt: Int64?, channel: String, leadAgentID: String?,
         endReason: String?, modeChanges: String, masking: String?) throws {
        guard let session = SessionID(id), let channel = InteractionChannel(rawValue: channel) else {
            throw InvalidStoredSession(id: id, column: "id or channel")
        }
        var dropped: [String: Int] = [:]
        if let masking, let record = try? JSONDecoder.cobrowse.decode(MaskingRecord.self, from: Data(masking.utf8)) {
            for action in record.droppedActions { dropped[action.reason, default: 0] += 1 }
            // The record keeps the first ones only; the rest are counted without their reason.
            let unlisted = record.droppedActionsTotal - record.droppedActions.count
            if unlisted > 0 { dropped["not-listed", default: 0] += unlisted }
        }
        self.init(id: session, createdAt: Date(millisecondsSince1970: createdAt), joinedAt: joinedAt.map(Date.init(millisecondsSince1970:)),
                  endedAt: endedAt.map(Date.init(millisecondsSince1970:)), channel: channel, leadAgentID: leadAgentID,
                  endReason: endReason.flatMap(EndReason.init(rawValue:)),
                  modeChanges: modeChanges == "[]" ? [] : try JSONDecoder.cobrowse.decode([ModeChange].self, from: Data(modeChanges.utf8)),
                  droppedActions: dropped)
    }
}

/// A lifecycle event as a store writes it to its outbox.
struct OutboxEvent {
    let routingKey: String
    let body: Data

    init(_ kind: SessionEvent.Kind, record: SessionRecord, by actor: Actor, now: Date) throws {
        let event = SessionEvent(kind: kind, at: now, by: actor, session: record.view)
        routingKey = event.routingKey
        body = try JSONEncoder.cobrowse.encode(event)
    }
}

/// A session as both stores keep it: one value per column, instants as milliseconds since 1970,
/// observers, mode changes and visits as JSON text.
struct SessionRow {
    var id: String
    var customerKeyHash: String
    var interactionID: String
    var channel: String
    var state: String
    var mode: String
    var writeRequestPendingUntil: Int64?
    var leadAgentID: String?
    var observers: String
    var modeChanges: String
    var createdAt: Int64
    var joinedAt: Int64?
    var endedAt: Int64?
    var endReason: String?
    var endedBy: String?
    var visits: String

    /// The columns in the order `init(_:)` and `record()` list them (and the stores select them).
    static let columns = "id, customerKeyHash, interactionID, channel, state, mode, writeRequestPendingUntil, leadAgentID, "
        + "observers, modeChanges, createdAt, joinedAt, endedAt, endReason, endedBy, visits"
}

extension SessionRow {
    init(_ record: SessionRecord) throws {
        let s = record.view
        self.init(
            id: s.id.digits, customerKeyHash: record.customerKeyHash, interactionID: s.interactionID,
            channel: s.channel.rawValue, state: s.state.rawValue, mode: s.mode.rawValue,
            writeRequestPendingUntil: s.writeRequestPendingUntil?.millisecondsSince1970, leadAgentID: s.leadAgentID,
            observers: String(decoding: try JSONEncoder.cobrowse.encode(s.observers), as: UTF8.self),
            modeChanges: String(decoding: try JSONEncoder.cobrowse.encode(s.modeChanges), as: UTF8.self),
            createdAt: s.createdAt.millisecondsSince1970, joinedAt: s.joinedAt?.millisecondsSince1970,
            endedAt: s.endedAt?.millisecondsSince1970, endReason: s.endReason?.rawValue, endedBy: s.endedBy?.description,
            visits: String(decoding: try JSONEncoder.cobrowse.encode(s.visits), as: UTF8.self))
    }

    /// The session this row holds; throws `InvalidStoredSession` for a value no registry writes.
    func record() throws -> SessionRecord {
        func required<T>(_ value: T?, _ column: String) throws -> T {
            guard let value else { throw InvalidStoredSession(id: id, column: column) }
            return value
        }
        let instant = { (milliseconds: Int64?) in milliseconds.map(Date.init(millisecondsSince1970:)) }
        let view = SessionView(
            id: try required(SessionID(id), "id"),
            state: try required(SessionState(rawValue: state), "state"),
            mode: try required(SessionMode(rawValue: mode), "mode"),
            writeRequestPendingUntil: instant(writeRequestPendingUntil),
            interactionID: interactionID,
            channel: try required(InteractionChannel(rawValue: channel), "channel"),
            leadAgentID: leadAgentID,
            observers: try JSONDecoder.cobrowse.decode([String].self, from: Data(observers.utf8)),
            createdAt: Date(millisecondsSince1970: createdAt),
            joinedAt: instant(joinedAt),
            endedAt: instant(endedAt),
            endReason: endReason.flatMap(EndReason.init(rawValue:)),
            endedBy: endedBy.flatMap(Actor.init),
            modeChanges: try JSONDecoder.cobrowse.decode([ModeChange].self, from: Data(modeChanges.utf8)),
            visits: try JSONDecoder.cobrowse.decode([Visit].self, from: Data(visits.utf8)))
        return SessionRecord(view: view, customerKeyHash: customerKeyHash)
    }
}

/// A stored session with a value no registry writes (the database was changed by hand).
struct InvalidStoredSession: Error, CustomStringConvertible {
    let id: String
    let column: String
    var description: String { "stored session \(id) has an invalid \(column)" }
}
