import CobrowseProtocol
import Foundation
import GRDB

/// Durable sessions in SQLite (GRDB, WAL). Every change is one write transaction that also
/// appends the lifecycle event to an outbox, so a crash between commit and publish loses no
/// event (the outbox is drained by `OutboxPublisher`). Several processes may share the file:
/// SQLite serializes their write transactions.
public final class SessionStore: Sendable {
    /// One lifecycle event waiting to be published.
    public struct OutboxEntry: Sendable {
        public let sequence: Int64
        public let routingKey: String
        public let body: Data
    }

    /// Which sessions a report asks for.
    public enum Filter: Sendable {
        case interaction(String)
        case agent(String)
        case created(from: Date, to: Date)
    }

    let pool: DatabasePool
    /// Names this process in the outbox, so two registries do not publish each other's events.
    let writer: String

    public init(path: String, instanceID: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10) // the other registry process may hold the write lock
        configuration.prepareDatabase { db in
            // FULL: a committed change survives an OS crash too, not only a killed process.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        writer = instanceID
        try Self.migrator.migrate(pool)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE session (
                    id TEXT PRIMARY KEY NOT NULL,
                    customerKeyHash TEXT NOT NULL,
                    interactionID TEXT NOT NULL,
                    channel TEXT NOT NULL,
                    state TEXT NOT NULL,
                    mode TEXT NOT NULL,
                    writeRequestPendingUntil INTEGER, -- instants: milliseconds since 1970
                    leadAgentID TEXT,
                    observers TEXT NOT NULL,
                    modeChanges TEXT NOT NULL,
                    createdAt INTEGER NOT NULL,
                    joinedAt INTEGER,
                    endedAt INTEGER,
                    endReason TEXT,
                    endedBy TEXT
                );
                CREATE INDEX session_by_interaction ON session(interactionID);
                CREATE INDEX session_by_agent ON session(leadAgentID);
                CREATE INDEX session_by_creation ON session(createdAt);
                CREATE INDEX session_pending_write ON session(writeRequestPendingUntil)
                    WHERE writeRequestPendingUntil IS NOT NULL;
                -- An agent leads at most one live session, whatever the code above does.
                CREATE UNIQUE INDEX session_one_live_per_agent ON session(leadAgentID)
                    WHERE state != 'ended' AND leadAgentID IS NOT NULL;
                CREATE TABLE outbox (
                    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                    routingKey TEXT NOT NULL,
                    body BLOB NOT NULL,
                    writer TEXT NOT NULL,
                    createdAt INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v2: ended interactions") { db in
            try db.execute(sql: """
                -- Interactions the contact center ended: no session may start in them again.
                CREATE TABLE ended_interaction (
                    interactionID TEXT PRIMARY KEY NOT NULL,
                    reason TEXT NOT NULL,
                    endedAt INTEGER NOT NULL
                );
                CREATE INDEX session_live ON session(createdAt) WHERE state != 'ended';
                """)
        }
        return migrator
    }

    // MARK: Changes

    /// Creates a session with a fresh id. Ids are never reused, so an ended session's id can
    /// never be joined again.
    public func create(grant: InteractionGrant, customerKeyHash: String, now: Date) async throws -> SessionRecord {
        try await pool.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM ended_interaction WHERE interactionID = ?",
                                 arguments: [grant.interactionID]) == true {
                throw RegistryRefusal(.interactionEnded, "the contact-center interaction has ended; co-browsing needs a live one")
            }
            var id = SessionID.random()
            while try Bool.fetchOne(db, sql: "SELECT 1 FROM session WHERE id = ?", arguments: [id.digits]) == true {
                id = SessionID.random()
            }
            let record = SessionRules.newSession(id: id, grant: grant, customerKeyHash: customerKeyHash, now: now)
            try self.insert(record, db)
            try self.enqueue(.created, record: record, by: .customer, now: now, db)
            return record
        }
    }

    /// Reads a session, applies `change` and, if it returns an event, saves the session and the
    /// event together. A refusal thrown by `change` rolls everything back.
    public func change(_ id: SessionID, by actor: Actor, now: Date,
                       _ change: @escaping @Sendable (inout SessionRecord, Database) throws -> SessionEvent.Kind?) async throws -> SessionRecord {
        do {
            return try await pool.write { db in
                guard var record = try self.fetch(id, db) else { throw RegistryRefusal.unknownSession(id) }
                if let kind = try change(&record, db) {
                    try self.update(record, db)
                    try self.enqueue(kind, record: record, by: actor, now: now, db)
                }
                return record
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            // Only the one-live-session-per-agent index can fire here.
            throw RegistryRefusal.agentBusy
        }
    }

    /// Whether `agentID` leads a live session other than `id`.
    public func agentLeadsAnotherLiveSession(_ agentID: String, except id: SessionID, _ db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: """
            SELECT 1 FROM session WHERE leadAgentID = ? AND state != 'ended' AND id != ?
            """, arguments: [agentID, id.digits]) == true
    }

    /// Ends the live sessions of an interaction (only those created before `createdBefore`, if
    /// given) in one transaction; `remember` records the interaction as ended. Returns the
    /// sessions it ended: none when called again with the same event.
    public func endInteraction(_ interactionID: String, reason: EndReason, createdBefore: Date?, remember: Bool,
                               by actor: Actor, rules: SessionRules, now: Date) async throws -> [SessionView] {
        try await pool.write { db in
            if remember {
                try db.execute(sql: "INSERT OR IGNORE INTO ended_interaction (interactionID, reason, endedAt) VALUES (?, ?, ?)",
                               arguments: [interactionID, reason.rawValue, now.millisecondsSince1970])
            }
            let rows = try Row.fetchAll(db, sql: """
                SELECT * FROM session WHERE interactionID = ? AND state != 'ended' AND createdAt <= ? ORDER BY createdAt
                """, arguments: [interactionID, (createdBefore ?? .distantFuture).millisecondsSince1970])
            var ended: [SessionView] = []
            for row in rows {
                var record = try Self.record(row)
                guard let kind = try rules.end(&record, reason: reason, by: actor, now: now) else { continue }
                try self.update(record, db)
                try self.enqueue(kind, record: record, by: actor, now: now, db)
                ended.append(record.view)
            }
            return ended
        }
    }

    /// Lapses every write request past its deadline; returns how many.
    public func expireWriteRequests(rules: SessionRules, now: Date) async throws -> Int {
        try await pool.write { db in
            let ids = try String.fetchAll(db, sql: """
                SELECT id FROM session WHERE writeRequestPendingUntil IS NOT NULL AND writeRequestPendingUntil <= ?
                """, arguments: [now.millisecondsSince1970])
            var expired = 0
            for digits in ids {
                guard let id = SessionID(digits), var record = try self.fetch(id, db),
                      let kind = rules.expireWriteRequest(&record, now: now) else { continue }
                try self.update(record, db)
                try self.enqueue(kind, record: record, by: SessionRules.writeTimer, now: now, db)
                expired += 1
            }
            return expired
        }
    }

    // MARK: Reads

    public func session(_ id: SessionID) async throws -> SessionRecord? {
        try await pool.read { db in try self.fetch(id, db) }
    }

    public func sessions(_ filter: Filter, limit: Int = 1000) async throws -> [SessionView] {
        try await pool.read { db in
            let rows: [Row]
            switch filter {
            case let .interaction(id):
                rows = try Row.fetchAll(db, sql: "SELECT * FROM session WHERE interactionID = ? ORDER BY createdAt LIMIT ?",
                                        arguments: [id, limit])
            case let .agent(id):
                rows = try Row.fetchAll(db, sql: """
                    SELECT * FROM session WHERE leadAgentID = ? OR EXISTS (SELECT 1 FROM json_each(observers) WHERE value = ?)
                    ORDER BY createdAt LIMIT ?
                    """, arguments: [id, id, limit])
            case let .created(from, to):
                rows = try Row.fetchAll(db, sql: "SELECT * FROM session WHERE createdAt >= ? AND createdAt < ? ORDER BY createdAt LIMIT ?",
                                        arguments: [from.millisecondsSince1970, to.millisecondsSince1970, limit])
            }
            return try rows.map { try Self.record($0).view }
        }
    }

    /// Every live session, oldest first.
    public func liveSessions() async throws -> [SessionView] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM session WHERE state != 'ended' ORDER BY createdAt").map { try Self.record($0).view }
        }
    }

    /// Live sessions by state, for dashboards.
    public func liveCounts() async throws -> [SessionState: Int] {
        try await pool.read { db in
            var counts: [SessionState: Int] = [.idle: 0, .active: 0]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM session WHERE state != 'ended' GROUP BY state") {
                if let state = SessionState(rawValue: row["state"]) { counts[state] = row["n"] }
            }
            return counts
        }
    }

    // MARK: Outbox

    /// The oldest events this process wrote, plus any another process left behind longer than
    /// `orphanAge` ago (it died before publishing them).
    public func outbox(limit: Int, orphanAge: Duration, now: Date) async throws -> [OutboxEntry] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT sequence, routingKey, body FROM outbox WHERE writer = ? OR createdAt < ? ORDER BY sequence LIMIT ?
                """, arguments: [self.writer, now.addingTimeInterval(-orphanAge.timeInterval).millisecondsSince1970, limit]).map {
                OutboxEntry(sequence: $0["sequence"], routingKey: $0["routingKey"], body: $0["body"])
            }
        }
    }

    public func removeFromOutbox(_ sequences: [Int64]) async throws {
        guard !sequences.isEmpty else { return }
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM outbox WHERE sequence IN (\(sequences.map(String.init).joined(separator: ",")))")
        }
    }

    public func outboxCount() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox") ?? 0 }
    }

    // MARK: Rows

    private static let encoder = JSONEncoder.cobrowse
    private static let decoder = JSONDecoder.cobrowse

    private func fetch(_ id: SessionID, _ db: Database) throws -> SessionRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM session WHERE id = ?", arguments: [id.digits]).map(Self.record)
    }

    private func arguments(_ record: SessionRecord) throws -> StatementArguments {
        let s = record.view
        return [
            "id": s.id.digits, "customerKeyHash": record.customerKeyHash, "interactionID": s.interactionID,
            "channel": s.channel.rawValue, "state": s.state.rawValue, "mode": s.mode.rawValue,
            "writeRequestPendingUntil": s.writeRequestPendingUntil?.millisecondsSince1970, "leadAgentID": s.leadAgentID,
            "observers": String(decoding: try Self.encoder.encode(s.observers), as: UTF8.self),
            "modeChanges": String(decoding: try Self.encoder.encode(s.modeChanges), as: UTF8.self),
            "createdAt": s.createdAt.millisecondsSince1970, "joinedAt": s.joinedAt?.millisecondsSince1970,
            "endedAt": s.endedAt?.millisecondsSince1970,
            "endReason": s.endReason?.rawValue, "endedBy": s.endedBy?.description,
        ]
    }

    private func insert(_ record: SessionRecord, _ db: Database) throws {
        try db.execute(sql: """
            INSERT INTO session (id, customerKeyHash, interactionID, channel, state, mode, writeRequestPendingUntil,
                leadAgentID, observers, modeChanges, createdAt, joinedAt, endedAt, endReason, endedBy)
            VALUES (:id, :customerKeyHash, :interactionID, :channel, :state, :mode, :writeRequestPendingUntil,
                :leadAgentID, :observers, :modeChanges, :createdAt, :joinedAt, :endedAt, :endReason, :endedBy)
            """, arguments: try arguments(record))
    }

    private func update(_ record: SessionRecord, _ db: Database) throws {
        try db.execute(sql: """
            UPDATE session SET state = :state, mode = :mode, writeRequestPendingUntil = :writeRequestPendingUntil,
                leadAgentID = :leadAgentID, observers = :observers, modeChanges = :modeChanges, joinedAt = :joinedAt,
                endedAt = :endedAt, endReason = :endReason, endedBy = :endedBy
            WHERE id = :id
            """, arguments: try arguments(record))
    }

    private func enqueue(_ kind: SessionEvent.Kind, record: SessionRecord, by actor: Actor, now: Date, _ db: Database) throws {
        let event = SessionEvent(kind: kind, at: now, by: actor, session: record.view)
        try db.execute(sql: "INSERT INTO outbox (routingKey, body, writer, createdAt) VALUES (?, ?, ?, ?)",
                       arguments: [event.routingKey, try Self.encoder.encode(event), writer, now.millisecondsSince1970])
    }

    private static func instant(_ milliseconds: Int64?) -> Date? {
        milliseconds.map(Date.init(millisecondsSince1970:))
    }

    private static func record(_ row: Row) throws -> SessionRecord {
        func required<T>(_ value: T?, _ column: String) throws -> T {
            guard let value else { throw DatabaseError(message: "session row has an invalid \(column)") }
            return value
        }
        let view = SessionView(
            id: try required(SessionID(row["id"] as String), "id"),
            state: try required(SessionState(rawValue: row["state"]), "state"),
            mode: try required(SessionMode(rawValue: row["mode"]), "mode"),
            writeRequestPendingUntil: instant(row["writeRequestPendingUntil"]),
            interactionID: row["interactionID"],
            channel: try required(InteractionChannel(rawValue: row["channel"]), "channel"),
            leadAgentID: row["leadAgentID"],
            observers: try decoder.decode([String].self, from: Data((row["observers"] as String).utf8)),
            createdAt: try required(instant(row["createdAt"]), "createdAt"),
            joinedAt: instant(row["joinedAt"]),
            endedAt: instant(row["endedAt"]),
            endReason: (row["endReason"] as String?).flatMap(EndReason.init(rawValue:)),
            endedBy: (row["endedBy"] as String?).flatMap(Actor.init),
            modeChanges: try decoder.decode([ModeChange].self, from: Data((row["modeChanges"] as String).utf8)))
        return SessionRecord(view: view, customerKeyHash: row["customerKeyHash"])
    }
}
