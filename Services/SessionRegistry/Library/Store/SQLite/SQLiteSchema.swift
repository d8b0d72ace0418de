import Foundation

/// The registry's tables in SQLite, as migrations applied in order, each once. Which ran is kept
/// in `grdb_migrations`, the table (and the identifiers) of the GRDB migrator earlier releases
/// used, so their files upgrade in place.
enum SQLiteSchema {
    static let migrations: [(identifier: String, sql: String)] = [
        ("v1", """
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
            """),
        ("v2: ended interactions", """
            -- Interactions the contact center ended: no session may start in them again.
            CREATE TABLE ended_interaction (
                interactionID TEXT PRIMARY KEY NOT NULL,
                reason TEXT NOT NULL,
                endedAt INTEGER NOT NULL
            );
            CREATE INDEX session_live ON session(createdAt) WHERE state != 'ended';
            """),
        ("v3: masking records", """
            -- What masking did in each session (MaskingRecord as JSON), added up from the filter's reports.
            CREATE TABLE session_masking (
                sessionID TEXT PRIMARY KEY NOT NULL REFERENCES session(id),
                record TEXT NOT NULL
            );
            """),
        // Who watched and when (SessionView.visits as JSON); sessions from before kept none.
        ("v4: visits", "ALTER TABLE session ADD COLUMN visits TEXT NOT NULL DEFAULT '[]'"),
        ("v5: id sequence, retention", """
            -- The store's own settings: the key of its session-id permutation (SessionIDPermutation).
            CREATE TABLE registry_meta (name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
            -- How many session ids were handed out: the next one is the permutation of this.
            CREATE TABLE session_id_sequence (next INTEGER NOT NULL);
            INSERT INTO session_id_sequence (next) VALUES (0);
            -- The retention sweeper's search.
            CREATE INDEX session_by_end ON session(endedAt) WHERE state = 'ended';
            """),
        ("v6: observers by agent", """
            -- Who observed each session, one row per supervisor and session: an agent's sessions
            -- are found through this and session_by_agent (this SQLite cannot search JSON).
            CREATE TABLE session_observer (
                agentID TEXT NOT NULL,
                sessionID TEXT NOT NULL REFERENCES session(id),
                PRIMARY KEY (agentID, sessionID)
            ) WITHOUT ROWID;
            CREATE INDEX session_observer_by_session ON session_observer(sessionID);
            """),
    ]

    /// What a migration does beyond its SQL, in the same transaction: rows earlier releases
    /// kept only as JSON, copied into the migration's new table.
    static let backfills: [String: @Sendable (SQLiteConnection) throws -> Void] = [
        "v6: observers by agent": { connection in
            for row in try connection.rows("SELECT id, observers FROM session WHERE observers != '[]'") {
                guard let id = row.text("id"), let json = row.text("observers") else { continue }
                for agentID in try JSONDecoder().decode([String].self, from: Data(json.utf8)) {
                    try connection.execute("INSERT OR IGNORE INTO session_observer (agentID, sessionID) VALUES (?, ?)", [agentID, id])
                }
            }
        },
    ]

    /// Applies the migrations not yet applied, through `last` (all when nil), each in its own transaction.
    static func migrate(_ connection: SQLiteConnection, through last: String? = nil) throws {
        try connection.execute("CREATE TABLE IF NOT EXISTS grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
        let applied = Set(try connection.rows("SELECT identifier FROM grdb_migrations").compactMap { $0.text("identifier") })
        for migration in migrations {
            if !applied.contains(migration.identifier) {
                try connection.writeTransaction {
                    try connection.execute(migration.sql)
                    try backfills[migration.identifier]?(connection)
                    try connection.execute("INSERT INTO grdb_migrations (identifier) VALUES (?)", [migration.identifier])
                }
            }
            if migration.identifier == last { return }
        }
    }

    /// The key of the store's session-id permutation, made at the first start after v5.
    static func sessionIDKey(_ connection: SQLiteConnection) throws -> Data {
        try connection.execute("INSERT OR IGNORE INTO registry_meta (name, value) VALUES ('session-id-key', ?)", [SessionIDPermutation.newKey()])
        guard let hex = try connection.rows("SELECT value FROM registry_meta WHERE name = 'session-id-key'").first?.text("value"),
              let key = SessionIDPermutation.key(hex: hex) else {
            throw SQLiteError(code: 0, extendedCode: 0, message: "registry_meta holds no usable session-id key", context: "reading the store's settings")
        }
        return key
    }
}
