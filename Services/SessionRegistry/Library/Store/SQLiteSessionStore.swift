import CobrowseProtocol
import Foundation
import GRDB

/// Durable sessions in SQLite (GRDB, WAL): the store of a registry on one host. Every change
/// is one write transaction that also appends the lifecycle event to an outbox, so a crash
/// between commit and publish loses no event (the outbox is drained by `OutboxPublisher`).
/// Several processes on the host may share the file: SQLite serializes their write transactions.
public final class SQLiteSessionStore: SessionStoring {
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
        migrator.registerMigration("v3: masking records") { db in
            try db.execute(sql: """
                -- What masking did in each session (MaskingRecord as JSON), added up from the filter's reports.
                CREATE TABLE session_masking (
                    sessionID TEXT PRIMARY KEY NOT NULL REFERENCES session(id),
                    record TEXT NOT NULL
                );
                """)
        }
        migrator.registerMigration("v4: visits") { db in
            // Who watched and when (SessionView.visits as JSON); sessions from before kept none.
            try db.execute(sql: "ALTER TABLE session ADD COLUMN visits TEXT NOT NULL DEFAULT '[]'")
        }
        return migrator
    }

    // MARK: Changes

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

    public func change(_ id: SessionID, by actor: Actor, now: Date,
                       _ change: @escaping @Sendable (inout SessionRecord, SessionChangeContext) throws -> SessionEvent.Kind?)
        async throws -> SessionRecord {
        do {
            return try await pool.write { db in
                guard var record = try self.fetch(id, db) else { throw RegistryRefusal.unknownSession(id) }
                let context = SessionChangeContext(actorLeadsAnotherLiveSession: try self.actorLeadsAnotherLiveSession(actor, except: id, db))
                if let kind = try change(&record, context) {
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

    /// Whether `actor` is an agent leading a live session other than `id`.
    private func actorLeadsAnotherLiveSession(_ actor: Actor, except id: SessionID, _ db: Database) throws -> Bool {
        guard case let .agent(agentID) = actor else { return false }
        return try Bool.fetchOne(db, sql: """
            SELECT 1 FROM session WHERE leadAgentID = ? AND state != 'ended' AND id != ?
            """, arguments: [agentID, id.digits]) == true
    }

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
        try await pool.read { db in try self.fetch(id, db).map { try Self.withMasking($0, db) } }
    }

    public func recordMasking(_ id: SessionID, adding delta: MaskingRecord) async throws -> SessionRecord? {
        try await pool.write { db in
            guard let record = try self.fetch(id, db) else { return nil }
            var masking = try Self.masking(id, db) ?? MaskingRecord()
            masking.add(delta)
            try db.execute(sql: """
                INSERT INTO session_masking (sessionID, record) VALUES (?, ?)
                ON CONFLICT (sessionID) DO UPDATE SET record = excluded.record
                """, arguments: [id.digits, String(decoding: try JSONEncoder.cobrowse.encode(masking), as: UTF8.self)])
            var result = record
            result.view.masking = masking
            return result
        }
    }

    private static func masking(_ id: SessionID, _ db: Database) throws -> MaskingRecord? {
        try String.fetchOne(db, sql: "SELECT record FROM session_masking WHERE sessionID = ?", arguments: [id.digits])
            .map { try JSONDecoder.cobrowse.decode(MaskingRecord.self, from: Data($0.utf8)) }
    }

    private static func withMasking(_ record: SessionRecord, _ db: Database) throws -> SessionRecord {
        var record = record
        record.view.masking = try masking(record.view.id, db)
        return record
    }

    public func sessions(_ filter: SessionFilter, limit: Int) async throws -> [SessionView] {
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

    public func liveSessions() async throws -> [SessionView] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM session WHERE state != 'ended' ORDER BY createdAt").map { try Self.record($0).view }
        }
    }

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

    /// Reads, publishes, then removes: two processes draining at once may both publish an
    /// orphaned event (at least once, as after a crash).
    public func drainOutbox(limit: Int, orphanAge: Duration, now: Date,
                            publish: @escaping @Sendable (OutboxEntry) async throws -> Void) async throws -> Int {
        let batch = try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT sequence, routingKey, body FROM outbox WHERE writer = ? OR createdAt < ? ORDER BY sequence LIMIT ?
                """, arguments: [self.writer, now.addingTimeInterval(-orphanAge.timeInterval).millisecondsSince1970, limit]).map {
                OutboxEntry(sequence: $0["sequence"], routingKey: $0["routingKey"], body: $0["body"])
            }
        }
        guard !batch.isEmpty else { return 0 }
        for entry in batch { try await publish(entry) }
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM outbox WHERE sequence IN (\(batch.map { String($0.sequence) }.joined(separator: ",")))")
        }
        return batch.count
    }

    public func outboxCount() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox") ?? 0 }
    }

    // MARK: Rows

    private func fetch(_ id: SessionID, _ db: Database) throws -> SessionRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM session WHERE id = ?", arguments: [id.digits]).map(Self.record)
    }

    private func arguments(_ record: SessionRecord) throws -> StatementArguments {
        let row = try SessionRow(record)
        return [
            "id": row.id, "customerKeyHash": row.customerKeyHash, "interactionID": row.interactionID, "channel": row.channel,
            "state": row.state, "mode": row.mode, "writeRequestPendingUntil": row.writeRequestPendingUntil,
            "leadAgentID": row.leadAgentID, "observers": row.observers, "modeChanges": row.modeChanges,
            "createdAt": row.createdAt, "joinedAt": row.joinedAt, "endedAt": row.endedAt, "endReason": row.endReason,
            "endedBy": row.endedBy, "visits": row.visits,
        ]
    }

    private func insert(_ record: SessionRecord, _ db: Database) throws {
        try db.execute(sql: """
            INSERT INTO session (\(SessionRow.columns))
            VALUES (:id, :customerKeyHash, :interactionID, :channel, :state, :mode, :writeRequestPendingUntil,
                :leadAgentID, :observers, :modeChanges, :createdAt, :joinedAt, :endedAt, :endReason, :endedBy, :visits)
            """, arguments: try arguments(record))
    }

    private func update(_ record: SessionRecord, _ db: Database) throws {
        try db.execute(sql: """
            UPDATE session SET state = :state, mode = :mode, writeRequestPendingUntil = :writeRequestPendingUntil,
                leadAgentID = :leadAgentID, observers = :observers, modeChanges = :modeChanges, joinedAt = :joinedAt,
                endedAt = :endedAt, endReason = :endReason, endedBy = :endedBy, visits = :visits
            WHERE id = :id
            """, arguments: try arguments(record))
    }

    private func enqueue(_ kind: SessionEvent.Kind, record: SessionRecord, by actor: Actor, now: Date, _ db: Database) throws {
        let event = try OutboxEvent(kind, record: record, by: actor, now: now)
        try db.execute(sql: "INSERT INTO outbox (routingKey, body, writer, createdAt) VALUES (?, ?, ?, ?)",
                       arguments: [event.routingKey, event.body, writer, now.millisecondsSince1970])
    }

    private static func record(_ row: Row) throws -> SessionRecord {
        try SessionRow(
            id: row["id"], customerKeyHash: row["customerKeyHash"], interactionID: row["interactionID"], channel: row["channel"],
            state: row["state"], mode: row["mode"], writeRequestPendingUntil: row["writeRequestPendingUntil"],
            leadAgentID: row["leadAgentID"], observers: row["observers"], modeChanges: row["modeChanges"],
            createdAt: row["createdAt"], joinedAt: row["joinedAt"], endedAt: row["endedAt"], endReason: row["endReason"],
            endedBy: row["endedBy"], visits: row["visits"]).record()
    }
}
