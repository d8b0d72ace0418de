import CobrowseProtocol
import Foundation

/// Durable sessions in SQLite (WAL), encrypted by SQLCipher when a key is given: the store of a
/// registry on one host. Every change
/// is one write transaction that also appends the lifecycle event to an outbox, so a crash
/// between commit and publish loses no event (the outbox is drained by `OutboxPublisher`).
/// Several processes on the host may share the file: SQLite serializes their write transactions.
public final class SQLiteSessionStore: SessionStoring {
    let database: SQLiteDatabase
    /// Where session ids come from: the store's counter through its keyed permutation.
    let ids: SessionIDPermutation
    /// Names this process in the outbox, so two registries do not publish each other's events.
    let writer: String

    /// Opens (or creates) the file and brings its schema up to date. With `key` the file is
    /// encrypted (SQLCipher); `SQLiteKeying.prepare` has put it under that key first.
    public init(path: String, key: DatabaseKey? = nil, instanceID: String) throws {
        database = try SQLiteDatabase(path: path, key: key)
        writer = instanceID
        ids = SessionIDPermutation(key: try database.now { connection in
            try SQLiteSchema.migrate(connection)
            return try SQLiteSchema.sessionIDKey(connection)
        })
    }

    // MARK: Changes

    public func create(grant: InteractionGrant, customerKeyHash: String, now: Date) async throws -> SessionRecord {
        try await database.write { db in
            if try !db.rows("SELECT 1 FROM ended_interaction WHERE interactionID = ?", [grant.interactionID]).isEmpty {
                throw RegistryRefusal(.interactionEnded, "the contact-center interaction has ended; co-browsing needs a live one")
            }
            // The next id of the sequence; one a session of before the sequence took is skipped.
            var id: SessionID
            repeat {
                let next = try db.rows("SELECT next FROM session_id_sequence").first?.integer("next") ?? 0
                try db.execute("UPDATE session_id_sequence SET next = next + 1", [])
                id = self.ids.id(at: UInt64(next))
            } while try !db.rows("SELECT 1 FROM session WHERE id = ?", [id.digits]).isEmpty
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
            return try await database.write { db in
                guard var record = try self.fetch(id, db) else { throw RegistryRefusal.unknownSession(id) }
                let context = SessionChangeContext(actorLeadsAnotherLiveSession: try self.actorLeadsAnotherLiveSession(actor, except: id, db))
                if let kind = try change(&record, context) {
                    try self.update(record, db)
                    try self.enqueue(kind, record: record, by: actor, now: now, db)
                }
                return record
            }
        } catch let error as SQLiteError where error.isUniqueConstraint {
            // Only the one-live-session-per-agent index can fire here.
            throw RegistryRefusal.agentBusy
        }
    }

    /// Whether `actor` is an agent leading a live session other than `id`.
    private func actorLeadsAnotherLiveSession(_ actor: Actor, except id: SessionID, _ db: SQLiteConnection) throws -> Bool {
        guard case let .agent(agentID) = actor else { return false }
        return try !db.rows("SELECT 1 FROM session WHERE leadAgentID = ? AND state != 'ended' AND id != ?", [agentID, id.digits]).isEmpty
    }

    public func endInteraction(_ interactionID: String, reason: EndReason, createdBefore: Date?, remember: Bool,
                               by actor: Actor, rules: SessionRules, now: Date) async throws -> [SessionView] {
        try await database.write { db in
            if remember {
                try db.execute("INSERT OR IGNORE INTO ended_interaction (interactionID, reason, endedAt) VALUES (?, ?, ?)",
                               [interactionID, reason.rawValue, now.millisecondsSince1970])
            }
            let rows = try db.rows("""
                SELECT * FROM session WHERE interactionID = ? AND state != 'ended' AND createdAt <= ? ORDER BY createdAt
                """, [interactionID, (createdBefore ?? .distantFuture).millisecondsSince1970])
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
        try await database.write { db in
            let ids = try db.rows("""
                SELECT id FROM session WHERE writeRequestPendingUntil IS NOT NULL AND writeRequestPendingUntil <= ?
                """, [now.millisecondsSince1970]).compactMap { $0.text("id") }
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

    public func deleteHistory(endedBefore cutoff: Date, limit: Int) async throws -> Int {
        try await database.write { db in
            let ids = try db.rows("SELECT id FROM session WHERE state = 'ended' AND endedAt < ? LIMIT ?",
                                  [cutoff.millisecondsSince1970, limit]).compactMap { $0.text("id") }
            // In lists of at most 500: this SQLite binds at most 999 values per statement.
            for start in stride(from: 0, to: ids.count, by: 500) {
                let arguments: [any SQLiteBindable] = Array(ids[start..<min(start + 500, ids.count)])
                let list = Array(repeating: "?", count: arguments.count).joined(separator: ",")
                try db.execute("DELETE FROM session_masking WHERE sessionID IN (\(list))", arguments)
                try db.execute("DELETE FROM session_observer WHERE sessionID IN (\(list))", arguments)
                try db.execute("DELETE FROM session WHERE id IN (\(list))", arguments)
            }
            try db.execute("DELETE FROM ended_interaction WHERE endedAt < ?", [cutoff.millisecondsSince1970])
            return ids.count
        }
    }

    // MARK: Reads

    public func session(_ id: SessionID) async throws -> SessionRecord? {
        try await database.read { db in try self.fetch(id, db).map { try Self.withMasking($0, db) } }
    }

    public func recordMasking(_ id: SessionID, adding delta: MaskingRecord) async throws -> SessionRecord? {
        try await database.write { db in
            guard let record = try self.fetch(id, db) else { return nil }
            var masking = try Self.masking(id, db) ?? MaskingRecord()
            masking.add(delta)
            try db.execute("INSERT OR REPLACE INTO session_masking (sessionID, record) VALUES (?, ?)",
                           [id.digits, String(decoding: try JSONEncoder.cobrowse.encode(masking), as: UTF8.self)])
            var result = record
            result.view.masking = masking
            return result
        }
    }

    private static func masking(_ id: SessionID, _ db: SQLiteConnection) throws -> MaskingRecord? {
        try db.rows("SELECT record FROM session_masking WHERE sessionID = ?", [id.digits]).first?.blob("record")
            .map { try JSONDecoder.cobrowse.decode(MaskingRecord.self, from: $0) }
    }

    private static func withMasking(_ record: SessionRecord, _ db: SQLiteConnection) throws -> SessionRecord {
        var record = record
        record.view.masking = try masking(record.view.id, db)
        return record
    }

    public func sessions(_ filter: SessionFilter, limit: Int) async throws -> [SessionView] {
        try await database.read { db in
            switch filter {
            case let .interaction(id):
                return try db.rows("SELECT * FROM session WHERE interactionID = ? ORDER BY createdAt LIMIT ?", [id, limit])
                    .map { try Self.record($0).view }
            case let .agent(id):
                // Led (session_by_agent) or observed (session_observer), each through its index.
                return try db.rows("""
                    SELECT * FROM session WHERE leadAgentID = ?
                    UNION SELECT s.* FROM session_observer o JOIN session s ON s.id = o.sessionID WHERE o.agentID = ?
                    ORDER BY createdAt LIMIT ?
                    """, [id, id, limit]).map { try Self.record($0).view }
            case let .created(from, to):
                return try db.rows("SELECT * FROM session WHERE createdAt >= ? AND createdAt < ? ORDER BY createdAt LIMIT ?",
                                   [from.millisecondsSince1970, to.millisecondsSince1970, limit]).map { try Self.record($0).view }
            }
        }
    }

    public func reportRows(createdFrom from: Date, to: Date, after cursor: ReportCursor?, limit: Int) async throws -> [ReportRow] {
        try await database.read { db in
            let start = cursor.map { [$0.createdAt.millisecondsSince1970, $0.id.digits] as [any SQLiteBindable] }
                ?? [from.millisecondsSince1970 - 1, "999999999"]
            return try db.rows("""
                SELECT s.id, s.createdAt, s.joinedAt, s.endedAt, s.channel, s.leadAgentID, s.endReason, s.modeChanges, m.record
                FROM session s LEFT JOIN session_masking m ON m.sessionID = s.id
                WHERE s.createdAt >= ? AND s.createdAt < ? AND (s.createdAt, s.id) > (?, ?)
                ORDER BY s.createdAt, s.id LIMIT ?
                """, [from.millisecondsSince1970, to.millisecondsSince1970] + start + [limit]).map { row in
                try ReportRow(id: row.text("id") ?? "", createdAt: row.integer("createdAt") ?? 0, joinedAt: row.integer("joinedAt"),
                              endedAt: row.integer("endedAt"), channel: row.text("channel") ?? "", leadAgentID: row.text("leadAgentID"),
                              endReason: row.text("endReason"), modeChanges: row.text("modeChanges") ?? "[]", masking: row.text("record"))
            }
        }
    }

    public func liveSessions() async throws -> [SessionView] {
        try await database.read { db in
            try db.rows("SELECT * FROM session WHERE state != 'ended' ORDER BY createdAt").map { try Self.record($0).view }
        }
    }

    public func liveCounts() async throws -> [SessionState: Int] {
        try await database.read { db in
            var counts: [SessionState: Int] = [.idle: 0, .active: 0]
            for row in try db.rows("SELECT state, COUNT(*) AS n FROM session WHERE state != 'ended' GROUP BY state") {
                if let state = row.text("state").flatMap(SessionState.init(rawValue:)) { counts[state] = Int(row.integer("n") ?? 0) }
            }
            return counts
        }
    }

    // MARK: Outbox

    /// Reads, publishes, then removes: two processes draining at once may both publish an
    /// orphaned event (at least once, as after a crash).
    public func drainOutbox(limit: Int, orphanAge: Duration, now: Date,
                            publish: @escaping @Sendable (OutboxEntry) async throws -> Void) async throws -> Int {
        let writer = self.writer
        let batch = try await database.read { db in
            try db.rows("""
                SELECT sequence, routingKey, body FROM outbox WHERE writer = ? OR createdAt < ? ORDER BY sequence LIMIT ?
                """, [writer, now.addingTimeInterval(-orphanAge.timeInterval).millisecondsSince1970, limit]).map {
                OutboxEntry(sequence: $0.integer("sequence") ?? 0, routingKey: $0.text("routingKey") ?? "", body: $0.blob("body") ?? Data())
            }
        }
        guard !batch.isEmpty else { return 0 }
        for entry in batch { try await publish(entry) }
        try await database.write { db in
            try db.execute("DELETE FROM outbox WHERE sequence IN (\(batch.map { String($0.sequence) }.joined(separator: ",")))")
        }
        return batch.count
    }

    public func outboxCount() async throws -> Int {
        try await database.read { db in Int(try db.rows("SELECT COUNT(*) AS n FROM outbox").first?.integer("n") ?? 0) }
    }

    // MARK: Rows

    private func fetch(_ id: SessionID, _ db: SQLiteConnection) throws -> SessionRecord? {
        try db.rows("SELECT * FROM session WHERE id = ?", [id.digits]).first.map(Self.record)
    }

    private func arguments(_ record: SessionRecord) throws -> [String: any SQLiteBindable] {
        let row = try SessionRow(record)
        return [
            "id": row.id, "customerKeyHash": row.customerKeyHash, "interactionID": row.interactionID, "channel": row.channel,
            "state": row.state, "mode": row.mode, "writeRequestPendingUntil": row.writeRequestPendingUntil,
            "leadAgentID": row.leadAgentID, "observers": row.observers, "modeChanges": row.modeChanges,
            "createdAt": row.createdAt, "joinedAt": row.joinedAt, "endedAt": row.endedAt, "endReason": row.endReason,
            "endedBy": row.endedBy, "visits": row.visits,
        ]
    }

    private func insert(_ record: SessionRecord, _ db: SQLiteConnection) throws {
        try db.execute("""
            INSERT INTO session (\(SessionRow.columns))
            VALUES (:id, :customerKeyHash, :interactionID, :channel, :state, :mode, :writeRequestPendingUntil,
                :leadAgentID, :observers, :modeChanges, :createdAt, :joinedAt, :endedAt, :endReason, :endedBy, :visits)
            """, named: try arguments(record))
    }

    private func update(_ record: SessionRecord, _ db: SQLiteConnection) throws {
        try db.execute("""
            UPDATE session SET state = :state, mode = :mode, writeRequestPendingUntil = :writeRequestPendingUntil,
                leadAgentID = :leadAgentID, observers = :observers, modeChanges = :modeChanges, joinedAt = :joinedAt,
                endedAt = :endedAt, endReason = :endReason, endedBy = :endedBy, visits = :visits
            WHERE id = :id
            """, named: try arguments(record))
        // Observers are only ever added (each once): indexed for an agent's sessions.
        for agentID in record.view.observers {
            try db.execute("INSERT OR IGNORE INTO session_observer (agentID, sessionID) VALUES (?, ?)", [agentID, record.view.id.digits])
        }
    }

    private func enqueue(_ kind: SessionEvent.Kind, record: SessionRecord, by actor: Actor, now: Date, _ db: SQLiteConnection) throws {
        let event = try OutboxEvent(kind, record: record, by: actor, now: now)
        try db.execute("INSERT INTO outbox (routingKey, body, writer, createdAt) VALUES (?, ?, ?, ?)",
                       [event.routingKey, event.body, writer, now.millisecondsSince1970])
    }

    private static func record(_ row: SQLiteRow) throws -> SessionRecord {
        try SessionRow(
            id: row.text("id") ?? "", customerKeyHash: row.text("customerKeyHash") ?? "", interactionID: row.text("interactionID") ?? "",
            channel: row.text("channel") ?? "", state: row.text("state") ?? "", mode: row.text("mode") ?? "",
            writeRequestPendingUntil: row.integer("writeRequestPendingUntil"), leadAgentID: row.text("leadAgentID"),
            observers: row.text("observers") ?? "", modeChanges: row.text("modeChanges") ?? "", createdAt: row.integer("createdAt") ?? 0,
            joinedAt: row.integer("joinedAt"), endedAt: row.integer("endedAt"), endReason: row.text("endReason"),
            endedBy: row.text("endedBy"), visits: row.text("visits") ?? "[]").record()
    }
}
