import CobrowseProtocol
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// Durable sessions in PostgreSQL: the store of registries on several hosts sharing one
/// database. The same semantics as `SQLiteSessionStore`, made safe for concurrent writers:
/// - one transaction per command; a change locks its session row (`SELECT … FOR UPDATE`), so
///   commands on one session from two registries run one after the other;
/// - `create` and `endInteraction` hold a transaction-scoped advisory lock on the interaction, so
///   a create racing the interaction's end cannot leave a live session in an ended interaction;
/// - the one-live-session-per-agent rule is a partial unique index; it firing is `agent-busy`;
/// - the outbox is drained under `FOR UPDATE SKIP LOCKED`, so two registries never publish the
///   same event (but a registry that dies mid-drain leaves its batch to be published again).
///
/// The connection pool (`PostgresClient`) works only while `run()` runs: the registry puts the
/// store in its service group, which shuts it down after everything that uses it.
public final class PostgresSessionStore: SessionStoring, Service, CustomStringConvertible {
    /// No pooled connection within the lease timeout: PostgreSQL is down, unreachable or
    /// overloaded. Commands fail with it (the registry refuses them `unavailable`) and lose nothing.
    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    static let oneLivePerAgentIndex = "session_one_live_per_agent"
    /// The first key of the two-key advisory locks on interactions (their second key is the
    /// interaction id's hash), so they never meet other users' single-key locks.
    static let interactionLockSpace: Int32 = 0x636F_6272

    let location: PostgresLocation
    let client: PostgresClient
    /// Names this process in the outbox, so two registries do not publish each other's events.
    let writer: String
    let logger: Logger
    /// How long a command waits for a pooled connection before it fails `Unavailable`.
    let leaseTimeout: Duration
    /// Where session ids come from: the shared sequence through the store's keyed permutation.
    let ids: SessionIDPermutation

    /// Checks the server with one connection and brings the schema up to date under an advisory
    /// lock (registries starting together do not race), then sets up the pool: at most
    /// `maximumConnections`, each opened within `connectTimeout`. Throws what went wrong,
    /// readably and without the password, if the server cannot be used.
    public init(_ location: PostgresLocation, instanceID: String, logger: Logger, maximumConnections: Int = 8,
                connectTimeout: Duration = .seconds(10), leaseTimeout: Duration = .seconds(5)) async throws {
        self.location = location
        writer = instanceID
        self.logger = logger
        self.leaseTimeout = leaseTimeout
        ids = SessionIDPermutation(key: try await Self.migrate(location, connectTimeout: connectTimeout, logger: logger))
        client = PostgresClient(configuration: try location.clientConfiguration(maximumConnections: maximumConnections,
                                                                                connectTimeout: connectTimeout),
                                backgroundLogger: logger)
    }

    /// Runs the connection pool until cancelled or shut down gracefully (the service group does it).
    public func run() async {
        await client.run()
    }

    public var description: String { "PostgresSessionStore(\(location.redactedURL))" }

    // MARK: Changes

    public func create(grant: InteractionGrant, customerKeyHash: String, now: Date) async throws -> SessionRecord {
        try await transaction { connection in
            try await self.lockInteraction(grant.interactionID, connection)
            let ended = try await self.values(Bool.self, """
                SELECT EXISTS (SELECT 1 FROM ended_interaction WHERE interactionID = \(grant.interactionID))
                """, connection)
            if ended.first == true {
                throw RegistryRefusal(.interactionEnded, "the contact-center interaction has ended; co-browsing needs a live one")
            }
            // The sequence never hands a number out twice, whichever registry asks; an id a session
            // of before the sequence took is skipped (the primary key says so).
            while true {
                let next = try await self.values(Int64.self, "SELECT nextval('session_id_sequence')", connection).first ?? 0
                let record = SessionRules.newSession(id: self.ids.id(at: UInt64(next)), grant: grant, customerKeyHash: customerKeyHash,
                                                     now: now)
                let row = try SessionRow(record)
                let inserted = try await self.values(String.self, """
                    INSERT INTO session (\(unescaped: SessionRow.columns))
                    VALUES (\(row.id), \(row.customerKeyHash), \(row.interactionID), \(row.channel), \(row.state), \(row.mode),
                        \(row.writeRequestPendingUntil), \(row.leadAgentID), \(row.observers)::jsonb, \(row.modeChanges)::jsonb,
                        \(row.createdAt), \(row.joinedAt), \(row.endedAt), \(row.endReason), \(row.endedBy), \(row.visits)::jsonb)
                    ON CONFLICT (id) DO NOTHING RETURNING id
                    """, connection)
                guard !inserted.isEmpty else { continue }
                try await self.enqueue(.created, record: record, by: .customer, now: now, connection)
                return record
            }
        }
    }

    public func change(_ id: SessionID, by actor: Actor, now: Date,
                       _ change: @escaping @Sendable (inout SessionRecord, SessionChangeContext) throws -> SessionEvent.Kind?)
        async throws -> SessionRecord {
        do {
            return try await transaction { connection in
                guard var record = try await self.sessions(where: "id = \(id.digits) FOR UPDATE", connection).first else {
                    throw RegistryRefusal.unknownSession(id)
                }
                let context = SessionChangeContext(
                    actorLeadsAnotherLiveSession: try await self.actorLeadsAnotherLiveSession(actor, except: id, connection))
                if let kind = try change(&record, context) {
                    try await self.update(record, connection)
                    try await self.enqueue(kind, record: record, by: actor, now: now, connection)
                }
                return record
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505"
            && error.serverInfo?[.constraintName] == Self.oneLivePerAgentIndex {
            // Another registry's join of this agent committed first.
            throw RegistryRefusal.agentBusy
        }
    }

    /// Whether `actor` is an agent leading a live session other than `id`.
    private func actorLeadsAnotherLiveSession(_ actor: Actor, except id: SessionID, _ connection: PostgresConnection) async throws -> Bool {
        guard case let .agent(agentID) = actor else { return false }
        return try await values(Bool.self, """
            SELECT EXISTS (SELECT 1 FROM session WHERE leadAgentID = \(agentID) AND state <> 'ended' AND id <> \(id.digits))
            """, connection).first == true
    }

    public func endInteraction(_ interactionID: String, reason: EndReason, createdBefore: Date?, remember: Bool,
                               by actor: Actor, rules: SessionRules, now: Date) async throws -> [SessionView] {
        try await transaction { connection in
            try await self.lockInteraction(interactionID, connection)
            if remember {
                try await connection.checkedQuery("""
                    INSERT INTO ended_interaction (interactionID, reason, endedAt)
                    VALUES (\(interactionID), \(reason.rawValue), \(now.millisecondsSince1970)) ON CONFLICT DO NOTHING
                    """, logger: self.logger)
            }
            let live = try await self.sessions(where: """
                interactionID = \(interactionID) AND state <> 'ended' AND createdAt <= \((createdBefore ?? .distantFuture).millisecondsSince1970)
                ORDER BY createdAt FOR UPDATE
                """, connection)
            var ended: [SessionView] = []
            for var record in live {
                guard let kind = try rules.end(&record, reason: reason, by: actor, now: now) else { continue }
                try await self.update(record, connection)
                try await self.enqueue(kind, record: record, by: actor, now: now, connection)
                ended.append(record.view)
            }
            return ended
        }
    }

    public func expireWriteRequests(rules: SessionRules, now: Date) async throws -> Int {
        try await transaction { connection in
            // Rows a command holds are left to the next sweep (it may answer the request anyway).
            let due = try await self.sessions(where: """
                writeRequestPendingUntil <= \(now.millisecondsSince1970) ORDER BY id FOR UPDATE SKIP LOCKED
                """, connection)
            var expired = 0
            for var record in due {
                guard let kind = rules.expireWriteRequest(&record, now: now) else { continue }
                try await self.update(record, connection)
                try await self.enqueue(kind, record: record, by: SessionRules.writeTimer, now: now, connection)
                expired += 1
            }
            return expired
        }
    }

    // MARK: Reads

    public func session(_ id: SessionID) async throws -> SessionRecord? {
        try await withConnection { connection in
            guard var record = try await self.sessions(where: "id = \(id.digits)", connection).first else { return nil }
            record.view.masking = try await self.masking(id, connection)
            return record
        }
    }

    public func recordMasking(_ id: SessionID, adding delta: MaskingRecord) async throws -> SessionRecord? {
        try await transaction { connection in
            // The session row's lock orders two reports of one session.
            guard var record = try await self.sessions(where: "id = \(id.digits) FOR UPDATE", connection).first else { return nil }
            var masking = try await self.masking(id, connection) ?? MaskingRecord()
            masking.add(delta)
            let json = String(decoding: try JSONEncoder.cobrowse.encode(masking), as: UTF8.self)
            try await connection.checkedQuery("""
                INSERT INTO session_masking (sessionID, record) VALUES (\(id.digits), \(json))
                ON CONFLICT (sessionID) DO UPDATE SET record = EXCLUDED.record
                """, logger: self.logger)
            record.view.masking = masking
            return record
        }
    }

    private func masking(_ id: SessionID, _ connection: PostgresConnection) async throws -> MaskingRecord? {
        try await values(String.self, "SELECT record FROM session_masking WHERE sessionID = \(id.digits)", connection).first
            .map { try JSONDecoder.cobrowse.decode(MaskingRecord.self, from: Data($0.utf8)) }
    }

    public func sessions(_ filter: SessionFilter, limit: Int) async throws -> [SessionView] {
        try await withConnection { connection in
            let condition: PostgresQuery = switch filter {
            case let .interaction(id):
                "interactionID = \(id) ORDER BY createdAt LIMIT \(limit)"
            case let .agent(id):
                "leadAgentID = \(id) OR observers @> jsonb_build_array(\(id)::text) ORDER BY createdAt LIMIT \(limit)"
            case let .created(from, to):
                "createdAt >= \(from.millisecondsSince1970) AND createdAt < \(to.millisecondsSince1970) ORDER BY createdAt LIMIT \(limit)"
            }
            return try await self.sessions(where: condition, connection).map(\.view)
        }
    }

    public func liveSessions() async throws -> [SessionView] {
        try await withConnection { connection in
            try await self.sessions(where: "state <> 'ended' ORDER BY createdAt", connection).map(\.view)
        }
    }

    public func liveCounts() async throws -> [SessionState: Int] {
        try await withConnection { connection in
            var counts: [SessionState: Int] = [.idle: 0, .active: 0]
            let rows = try await connection.checkedQuery("SELECT state, COUNT(*) FROM session WHERE state <> 'ended' GROUP BY state",
                                                  logger: self.logger)
            for try await (state, count) in rows.decode((String, Int).self) {
                if let state = SessionState(rawValue: state) { counts[state] = count }
            }
            return counts
        }
    }

    // MARK: Outbox

    /// Selects, publishes and deletes in one transaction whose rows stay locked until it ends:
    /// another registry draining at once skips them, so no event is published by two.
    public func drainOutbox(limit: Int, orphanAge: Duration, now: Date,
                            publish: @escaping @Sendable (OutboxEntry) async throws -> Void) async throws -> Int {
        try await transaction { connection in
            let orphanedBefore = now.addingTimeInterval(-orphanAge.timeInterval).millisecondsSince1970
            let rows = try await connection.checkedQuery("""
                SELECT sequence, routingKey, body FROM outbox WHERE writer = \(self.writer) OR createdAt < \(orphanedBefore)
                ORDER BY sequence LIMIT \(limit) FOR UPDATE SKIP LOCKED
                """, logger: self.logger)
            var batch: [OutboxEntry] = []
            for try await (sequence, routingKey, body) in rows.decode((Int64, String, Data).self) {
                batch.append(OutboxEntry(sequence: sequence, routingKey: routingKey, body: body))
            }
            for entry in batch { try await publish(entry) }
            if !batch.isEmpty {
                try await connection.checkedQuery("DELETE FROM outbox WHERE sequence = ANY(\(batch.map(\.sequence)))", logger: self.logger)
            }
            return batch.count
        }
    }

    public func outboxCount() async throws -> Int {
        try await withConnection { connection in
            try await self.values(Int.self, "SELECT COUNT(*) FROM outbox", connection).first ?? 0
        }
    }

    public func deleteHistory(endedBefore cutoff: Date, limit: Int) async throws -> Int {
        try await transaction { connection in
            let ids = try await self.values(String.self, """
                SELECT id FROM session WHERE state = 'ended' AND endedAt < \(cutoff.millisecondsSince1970) LIMIT \(limit)
                """, connection)
            if !ids.isEmpty {
                try await connection.checkedQuery("DELETE FROM session_masking WHERE sessionID = ANY(\(ids))", logger: self.logger)
                try await connection.checkedQuery("DELETE FROM session WHERE id = ANY(\(ids))", logger: self.logger)
            }
            try await connection.checkedQuery("DELETE FROM ended_interaction WHERE endedAt < \(cutoff.millisecondsSince1970)",
                                              logger: self.logger)
            return ids.count
        }
    }

    public func reportRows(createdFrom from: Date, to: Date, after cursor: ReportCursor?, limit: Int) async throws -> [ReportRow] {
        let (afterTime, afterID) = cursor.map { ($0.createdAt.millisecondsSince1970, $0.id.digits) } ?? (from.millisecondsSince1970 - 1, "999999999")
        return try await withConnection { connection in
            var rows: [ReportRow] = []
            let columns = (String, Int64, Int64?, Int64?, String, String?, String?, String, String?).self
            for try await c in try await connection.checkedQuery("""
                SELECT s.id, s.createdAt, s.joinedAt, s.endedAt, s.channel, s.leadAgentID, s.endReason, s.modeChanges::text, m.record
                FROM session s LEFT JOIN session_masking m ON m.sessionID = s.id
                WHERE s.createdAt >= \(from.millisecondsSince1970) AND s.createdAt < \(to.millisecondsSince1970)
                    AND (s.createdAt, s.id) > (\(afterTime), \(afterID))
                ORDER BY s.createdAt, s.id LIMIT \(limit)
                """, logger: self.logger).decode(columns) {
                rows.append(try ReportRow(id: c.0, createdAt: c.1, joinedAt: c.2, endedAt: c.3, channel: c.4, leadAgentID: c.5,
                                          endReason: c.6, modeChanges: c.7, masking: c.8))
            }
            return rows
        }
    }

    // MARK: Connections and transactions

    /// Runs `body` on a pooled connection, waiting at most `leaseTimeout` for one. Once `body`
    /// has its connection it runs to the end: a command that may have committed is never
    /// reported as failed.
    private func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let lease = LeaseDeadline()
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await self.client.withConnection { connection in
                    guard lease.claim() else { throw CancellationError() } // the deadline passed first
                    return try await body(connection)
                }
            }
            group.addTask {
                try await Task.sleep(for: self.leaseTimeout)
                guard lease.expire() else { return nil } // leased in time: wait for `body`
                throw Unavailable(description: "no connection to PostgreSQL at \(self.location.host):\(self.location.port) "
                    + "within \(self.leaseTimeout) (is it down or overloaded?)")
            }
            defer { group.cancelAll() }
            while let finished = try await group.next() {
                if let value = finished { return value }
            }
            preconditionFailure("the connection's task returns a value or throws")
        }
    }

    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws (with
    /// its error passed on as it was).
    private func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await withConnection { connection in
            try await connection.checkedQuery("BEGIN", logger: self.logger)
            do {
                let result = try await body(connection)
                try await connection.checkedQuery("COMMIT", logger: self.logger)
                return result
            } catch {
                // On a broken connection the server rolls back by itself.
                _ = try? await connection.checkedQuery("ROLLBACK", logger: self.logger)
                throw error
            }
        }
    }

    /// Serializes, until the transaction ends, everything this store does to one interaction's
    /// sessions as a whole (creating one in it, ending it).
    private func lockInteraction(_ interactionID: String, _ connection: PostgresConnection) async throws {
        try await connection.checkedQuery("SELECT pg_advisory_xact_lock(\(Self.interactionLockSpace), hashtext(\(interactionID)))",
                                   logger: logger)
    }

    // MARK: Rows

    /// Every row's single value (read to the end, so the connection is ready for the next query).
    private func values<T: PostgresDecodable & Sendable>(_ type: T.Type, _ query: PostgresQuery,
                                              _ connection: PostgresConnection) async throws -> [T] {
        var values: [T] = []
        for try await value in try await connection.checkedQuery(query, logger: logger).decode(T.self) { values.append(value) }
        return values
    }

    /// The session columns as `SessionRow` lists them, JSON as text.
    private static let selectSession = "SELECT id, customerKeyHash, interactionID, channel, state, mode, writeRequestPendingUntil, "
        + "leadAgentID, observers::text, modeChanges::text, createdAt, joinedAt, endedAt, endReason, endedBy, visits::text FROM session WHERE "

    private func sessions(where condition: PostgresQuery, _ connection: PostgresConnection) async throws -> [SessionRecord] {
        let query = PostgresQuery(unsafeSQL: Self.selectSession + condition.sql, binds: condition.binds)
        var records: [SessionRecord] = []
        let columns = (String, String, String, String, String, String, Int64?, String?, String, String, Int64, Int64?, Int64?,
                       String?, String?, String).self
        for try await c in try await connection.checkedQuery(query, logger: logger).decode(columns) {
            records.append(try SessionRow(
                id: c.0, customerKeyHash: c.1, interactionID: c.2, channel: c.3, state: c.4, mode: c.5, writeRequestPendingUntil: c.6,
                leadAgentID: c.7, observers: c.8, modeChanges: c.9, createdAt: c.10, joinedAt: c.11, endedAt: c.12, endReason: c.13,
                endedBy: c.14, visits: c.15).record())
        }
        return records
    }

    private func update(_ record: SessionRecord, _ connection: PostgresConnection) async throws {
        let row = try SessionRow(record)
        try await connection.checkedQuery("""
            UPDATE session SET state = \(row.state), mode = \(row.mode), writeRequestPendingUntil = \(row.writeRequestPendingUntil),
                leadAgentID = \(row.leadAgentID), observers = \(row.observers)::jsonb, modeChanges = \(row.modeChanges)::jsonb,
                joinedAt = \(row.joinedAt), endedAt = \(row.endedAt), endReason = \(row.endReason), endedBy = \(row.endedBy),
                visits = \(row.visits)::jsonb
            WHERE id = \(row.id)
            """, logger: logger)
    }

    private func enqueue(_ kind: SessionEvent.Kind, record: SessionRecord, by actor: Actor, now: Date,
                         _ connection: PostgresConnection) async throws {
        let event = try OutboxEvent(kind, record: record, by: actor, now: now)
        try await connection.checkedQuery("""
            INSERT INTO outbox (routingKey, body, writer, createdAt)
            VALUES (\(event.routingKey), \(event.body), \(writer), \(now.millisecondsSince1970))
            """, logger: logger)
    }
}
