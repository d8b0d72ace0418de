import Foundation
import Logging
import PostgresNIO

/// The PostgreSQL store's schema: its migrations, applied once per database in order under an
/// advisory lock, and the refusal to run on a database a newer registry migrated.
extension PostgresSessionStore {
    /// How the schema came to be: each step runs once per database, in order, in its own
    /// transaction, recorded in `registry_schema`.
    static let migrations: [(version: Int, name: String, statements: [String])] = [
        (1, "sessions, outbox, ended interactions", [
            """
            CREATE TABLE session (
                id TEXT PRIMARY KEY,
                customerKeyHash TEXT NOT NULL,
                interactionID TEXT NOT NULL,
                channel TEXT NOT NULL,
                state TEXT NOT NULL,
                mode TEXT NOT NULL,
                writeRequestPendingUntil BIGINT, -- instants: milliseconds since 1970
                leadAgentID TEXT,
                observers JSONB NOT NULL,
                modeChanges JSONB NOT NULL,
                createdAt BIGINT NOT NULL,
                joinedAt BIGINT,
                endedAt BIGINT,
                endReason TEXT,
                endedBy TEXT
            )
            """,
            "CREATE INDEX session_by_interaction ON session(interactionID)",
            "CREATE INDEX session_by_agent ON session(leadAgentID)",
            // The agent report finds observed sessions with `observers @> '["id"]'`.
            "CREATE INDEX session_by_observer ON session USING GIN (observers)",
            "CREATE INDEX session_by_creation ON session(createdAt)",
            "CREATE INDEX session_live ON session(createdAt) WHERE state <> 'ended'",
            """
            CREATE INDEX session_pending_write ON session(writeRequestPendingUntil)
                WHERE writeRequestPendingUntil IS NOT NULL
            """,
            // An agent leads at most one live session, whichever registry is asked.
            """
            CREATE UNIQUE INDEX \(oneLivePerAgentIndex) ON session(leadAgentID)
                WHERE state <> 'ended' AND leadAgentID IS NOT NULL
            """,
            """
            CREATE TABLE outbox (
                sequence BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                routingKey TEXT NOT NULL,
                body BYTEA NOT NULL,
                writer TEXT NOT NULL,
                createdAt BIGINT NOT NULL
            )
            """,
            // Interactions the contact center ended: no session may start in them again.
            """
            CREATE TABLE ended_interaction (
                interactionID TEXT PRIMARY KEY,
                reason TEXT NOT NULL,
                endedAt BIGINT NOT NULL
            )
            """,
        ]),
        (2, "masking records", [
            // What masking did in each session (MaskingRecord as JSON), added up from the filter's reports.
            """
            CREATE TABLE session_masking (
                sessionID TEXT PRIMARY KEY REFERENCES session(id),
                record TEXT NOT NULL
            )
            """,
        ]),
        (3, "visits", [
            // Who watched and when (SessionView.visits); sessions from before kept none.
            "ALTER TABLE session ADD COLUMN visits JSONB NOT NULL DEFAULT '[]'::jsonb",
        ]),
        (4, "id sequence, retention", [
            // The store's own settings: the key of its session-id permutation (SessionIDPermutation).
            "CREATE TABLE registry_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
            // How many session ids were handed out, shared by every registry: the next is its permutation.
            "CREATE SEQUENCE session_id_sequence AS BIGINT MINVALUE 0 START 0",
            // The retention sweeper's search.
            "CREATE INDEX session_by_end ON session(endedAt) WHERE state = 'ended'",
        ]),
    ]

    /// The session-level advisory lock migrations run under (one bigint key: "cobrowse").
    static let migrationLock: Int64 = 0x636F_6272_6F77_7365


    /// Migrates, and returns the key of the store's session-id permutation (made by the first
    /// registry to start after migration 4; the others read it).
    static func migrate(_ location: PostgresLocation, connectTimeout: Duration, logger: Logger) async throws -> Data {
        let connection = try await PostgresConnection.connect(configuration: location.connectionConfiguration(connectTimeout: connectTimeout),
                                                              id: 0, logger: logger)
        do {
            try await connection.checkedQuery("SELECT pg_advisory_lock(\(migrationLock))", logger: logger)
            try await connection.checkedQuery("""
                CREATE TABLE IF NOT EXISTS registry_schema (version INTEGER PRIMARY KEY, name TEXT NOT NULL, appliedAt BIGINT NOT NULL)
                """, logger: logger)
            var applied = Set<Int>()
            for try await version in try await connection.checkedQuery("SELECT version FROM registry_schema", logger: logger).decode(Int.self) {
                applied.insert(version)
            }
            let known = Set(migrations.map(\.version))
            if let newer = applied.subtracting(known).max() {
                throw SchemaTooNew(version: newer, known: known.max() ?? 0)
            }
            for migration in migrations where !applied.contains(migration.version) {
                try await connection.checkedQuery("BEGIN", logger: logger)
                do {
                    for statement in migration.statements {
                        try await connection.checkedQuery(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.checkedQuery("""
                        INSERT INTO registry_schema (version, name, appliedAt)
                        VALUES (\(migration.version), \(migration.name), \(Date().millisecondsSince1970))
                        """, logger: logger)
                    try await connection.checkedQuery("COMMIT", logger: logger)
                } catch {
                    _ = try? await connection.checkedQuery("ROLLBACK", logger: logger)
                    throw error
                }
                logger.info("session store schema migrated", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
            try await connection.checkedQuery("""
                INSERT INTO registry_meta (name, value) VALUES ('session-id-key', \(SessionIDPermutation.newKey())) ON CONFLICT DO NOTHING
                """, logger: logger)
            var stored: String?
            for try await value in try await connection.checkedQuery("SELECT value FROM registry_meta WHERE name = 'session-id-key'",
                                                                     logger: logger).decode(String.self) {
                stored = value
            }
            guard let key = stored.flatMap(SessionIDPermutation.key(hex:)) else { throw UnusableSettings() }
            try await connection.checkedQuery("SELECT pg_advisory_unlock(\(migrationLock))", logger: logger)
            try await connection.close()
            return key
        } catch {
            // Closing the connection also releases the lock.
            try? await connection.close()
            throw error
        }
    }

    /// `registry_meta` holds no usable session-id key (edited by hand?).
    struct UnusableSettings: Error, CustomStringConvertible {
        var description: String { "registry_meta holds no usable session-id key (64 hex characters)" }
    }

    /// The database was migrated by a newer registry: this one does not know its tables.
    struct SchemaTooNew: Error, CustomStringConvertible {
        let version: Int
        let known: Int
        var description: String { "the database has schema version \(version), newer than this registry's \(known); upgrade the registry" }
    }
}
