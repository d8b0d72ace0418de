import ArgumentParser
import BenchmarkReport
import CSQLCipher
import Foundation
import Logging
import PostgresNIO
import SessionRegistry

/// The registry's reporting queries over a million sessions: the same year of sessions seeded
/// into an encrypted SQLite file and into PostgreSQL, then each report, timeline and listing
/// timed on both (side by side, in one run).
@main
struct ReportBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report-bench",
        abstract: "Report, timeline and listing query times over a million stored sessions, SQLite (SQLCipher) and PostgreSQL.")

    @Option(help: "Sessions to seed.") var sessions = 1_000_000
    @Option(help: "PostgreSQL URL of a database to fill (it is emptied first); none: SQLite only.") var postgres: String?
    @Option(help: "Folder for the SQLite file and its key.") var folder = ".run/report-bench"
    @Option(help: "Rounds per query; the median is reported.") var rounds = 3
    @Option(help: "Rewrite this Markdown file's report-bench section with the results.") var markdown: String?

    /// The seeded year starts here; sessions come every (year / count).
    static let start = Date(timeIntervalSince1970: 1_767_225_600) // 2026-01-01T00:00:00Z

    struct Query {
        let name: String
        let run: @Sendable (any SessionStoring) async throws -> Int
    }

    var queries: [Query] {
        let day: TimeInterval = 86_400
        let middle = Self.start.addingTimeInterval(180 * day)
        func report(_ days: Double, _ by: SessionReport.Grouping) -> Query {
            Query(name: "report, \(Int(days)) day\(days == 1 ? "" : "s"), by \(by.rawValue)") { store in
                let report = try await ReportingAPI.report(store, from: middle, to: middle.addingTimeInterval(days * day), by: by,
                                                           offset: 0, limit: 1000)
                return report.groups.reduce(0) { $0 + $1.started }
            }
        }
        return [
            report(1, .none), report(7, .day), report(30, .agent), report(30, .channel), report(92, .none), report(92, .agent),
            Query(name: "CSV, 30 days by agent") { store in
                try await ReportingAPI.report(store, from: middle, to: middle.addingTimeInterval(30 * day), by: .agent, offset: 0, limit: 1000)
                    .csv.utf8.count
            },
            Query(name: "timeline of one interaction") { store in
                try await store.sessions(.interaction("ix-500000")).map { SessionTimeline($0, now: Date()) }.count
            },
            Query(name: "sessions of one agent (first 1000)") { store in try await store.sessions(.agent("agent-7"), limit: 1000).count },
            Query(name: "live sessions") { store in try await store.liveSessions().count },
        ]
    }

    func run() async throws {
        do {
            try await measureAll()
        } catch {
            // PostgresNIO's description hides the server's message; the benchmark's operator wants it.
            throw ValidationError(String(reflecting: error))
        }
    }

    func measureAll() async throws {
        var logger = Logger(label: "report-bench")
        logger.logLevel = .warning
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var columns: [(String, [String: Double], seed: Double)] = []

        // SQLite, encrypted as the registry runs it.
        let path = "\(folder)/registry.sqlite", keyFile = "\(folder)/registry.key"
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        let keyHex = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        try Data(keyHex.utf8).write(to: URL(fileURLWithPath: keyFile))
        _ = try SQLiteSessionStore(path: path, key: try DatabaseKey(file: keyFile), instanceID: "seed") // the schema
        let sqliteSeed = try await seconds { try seedSQLite(path: path, keyHex: keyHex) }
        print("SQLite seeded with \(sessions) sessions in \(String(format: "%.1f", sqliteSeed)) s")
        let sqlite = try SQLiteSessionStore(path: path, key: try DatabaseKey(file: keyFile), instanceID: "bench")
        columns.append(("SQLite (SQLCipher)", try await time(sqlite), sqliteSeed))

        if let postgres {
            let location = try PostgresLocation(url: postgres)
            try await emptyPostgres(location, logger: logger)
            let store = try await PostgresSessionStore(location, instanceID: "bench", logger: logger)
            let pool = Task { await store.run() }
            defer { pool.cancel() }
            let seed = try await seconds { try await seedPostgres(location, logger: logger) }
            print("PostgreSQL seeded with \(sessions) sessions in \(String(format: "%.1f", seed)) s")
            columns.append(("PostgreSQL", try await time(store), seed))
        }

        let table = markdownTable(columns)
        print(table)
        if let markdown { try MarkdownSection.write(table, section: "report-bench", into: markdown) }
    }

    /// Each query's median time in milliseconds over `rounds` (after one warm-up round).
    func time(_ store: any SessionStoring) async throws -> [String: Double] {
        var medians: [String: Double] = [:]
        for query in queries {
            _ = try await query.run(store)
            var times: [Double] = []
            for _ in 0..<rounds {
                let started = ContinuousClock.now
                _ = try await query.run(store)
                times.append((ContinuousClock.now - started).timeInterval * 1000)
            }
            medians[query.name] = times.sorted()[times.count / 2]
            print("\(query.name): \(String(format: "%.1f", medians[query.name]!)) ms")
        }
        return medians
    }

    func markdownTable(_ columns: [(String, [String: Double], seed: Double)]) -> String {
        var lines = [
            "`deploy/local/bench reports` on \(ProcessInfo.processInfo.activeProcessorCount) cores, \(Self.dateString()): "
                + "\(sessions.formatted()) ended sessions over 2026 (one every \(String(format: "%.1f", 365 * 86_400 / Double(sessions))) s; "
                + "80 % joined, 200 agents, a fifth with write-mode changes, one in twenty with a masking record), "
                + "median of \(rounds) rounds after a warm-up. Reports start on 2026-06-30.",
            "",
            "| query | " + columns.map(\.0).joined(separator: " | ") + " |",
            "|---|" + columns.map { _ in "---:|" }.joined(),
            "| seeding (s) | " + columns.map { String(format: "%.1f", $0.seed) }.joined(separator: " | ") + " |",
        ]
        for query in queries {
            lines.append("| \(query.name) (ms) | " + columns.map { String(format: "%.1f", $0.1[query.name] ?? .nan) }.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    static func dateString() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.string(from: Date())
    }

    /// How long `body` takes, in seconds.
    func seconds(_ body: () async throws -> Void) async throws -> Double {
        let started = ContinuousClock.now
        try await body()
        return (ContinuousClock.now - started).timeInterval
    }

    // MARK: Seeding

    /// The generated sessions as SQL: `i` from 0, instants in milliseconds; `iso(x)` formats one.
    static func rows(count: Int, startMs: Int64, iso: (String) -> String, modulo: (String, Int) -> String) -> [String: String] {
        let spacing = Int64(365 * 86_400_000) / Int64(count)
        let created = "(\(startMs) + i * \(spacing))"
        let joined = "(\(created) + 2000 + \(modulo("i * 7919", 58_000)))"
        let ended = "(\(created) + 60000 + \(modulo("i * 104729", 1_800_000)))"
        let changes = "'[{\"kind\":\"requested\",\"at\":\"' || \(iso("\(joined) + 10000")) || '\",\"by\":\"agent:agent-' || \(modulo("i", 200)) || '\"},"
            + "{\"kind\":\"approved\",\"at\":\"' || \(iso("\(joined) + 15000")) || '\",\"by\":\"customer\"},"
            + "{\"kind\":\"revoked\",\"at\":\"' || \(iso("\(joined) + 45000")) || '\",\"by\":\"customer\"}]'"
        return ["created": created, "joined": joined, "ended": ended, "changes": changes]
    }

    func seedSQLite(path: String, keyHex: String) throws {
        var handle: OpaquePointer?
        guard sqlite3_open(path, &handle) == SQLITE_OK, let db = handle else { throw ValidationError("cannot open \(path)") }
        defer { sqlite3_close(db) }
        func exec(_ sql: String) throws {
            var message: UnsafeMutablePointer<CChar>?
            guard sqlite3_exec(db, sql, nil, nil, &message) == SQLITE_OK else {
                defer { sqlite3_free(message) }
                throw ValidationError("SQLite: \(message.map { String(cString: $0) } ?? "?")")
            }
        }
        try exec("PRAGMA key = \"x'\(keyHex)'\"")
        let r = Self.rows(count: sessions, startMs: Self.start.millisecondsSince1970,
                          iso: { "strftime('%Y-%m-%dT%H:%M:%fZ', (\($0)) / 1000.0, 'unixepoch')" }, modulo: { "((\($0)) % \($1))" })
        try exec("""
            BEGIN;
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < \(sessions - 1))
            INSERT INTO session (id, customerKeyHash, interactionID, channel, state, mode, writeRequestPendingUntil, leadAgentID,
                observers, modeChanges, createdAt, joinedAt, endedAt, endReason, endedBy, visits)
            SELECT printf('%09d', i), 'h', 'ix-' || i, CASE i % 3 WHEN 0 THEN 'chat' WHEN 1 THEN 'voice' ELSE 'messaging' END,
                'ended', 'pointer', NULL, CASE WHEN i % 10 < 8 THEN 'agent-' || (i % 200) END, '[]',
                CASE WHEN i % 10 < 8 AND i % 5 = 0 THEN \(r["changes"]!) ELSE '[]' END,
                \(r["created"]!), CASE WHEN i % 10 < 8 THEN \(r["joined"]!) END, \(r["ended"]!),
                CASE WHEN i % 10 >= 8 THEN 'no-agent-joined' WHEN i % 7 = 0 THEN 'agent-exited' ELSE 'customer-exited' END,
                'customer', '[]'
            FROM n;
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 20 FROM n WHERE i < \(sessions - 20))
            INSERT INTO session_masking (sessionID, record)
            SELECT printf('%09d', i), '{"rulesHashes":[],"maskedElements":4,"maskedValues":2,"detectorHits":{},"sdkDetectorHits":{},'
                || '"droppedActions":[{"at":"2026-06-30T00:00:00.000Z","action":"input","reason":"pointer-mode"}],"droppedActionsTotal":1}'
            FROM n;
            COMMIT;
            PRAGMA wal_checkpoint(TRUNCATE);
            """)
    }

    func emptyPostgres(_ location: PostgresLocation, logger: Logger) async throws {
        try await withPostgres(location, logger: logger) { connection in
            for table in ["session_masking", "session", "outbox", "ended_interaction", "registry_meta", "registry_schema"] {
                try await connection.query(PostgresQuery(unsafeSQL: "DROP TABLE IF EXISTS \(table) CASCADE"), logger: logger)
            }
            try await connection.query("DROP SEQUENCE IF EXISTS session_id_sequence", logger: logger)
        }
    }

    func seedPostgres(_ location: PostgresLocation, logger: Logger) async throws {
        let r = Self.rows(count: sessions, startMs: Self.start.millisecondsSince1970,
                          iso: { "to_char(to_timestamp((\($0)) / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')" },
                          modulo: { "((\($0))::bigint % \($1))" })
        try await withPostgres(location, logger: logger) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: """
                INSERT INTO session (id, customerKeyHash, interactionID, channel, state, mode, writeRequestPendingUntil, leadAgentID,
                    observers, modeChanges, createdAt, joinedAt, endedAt, endReason, endedBy, visits)
                SELECT lpad(i::text, 9, '0'), 'h', 'ix-' || i, CASE i % 3 WHEN 0 THEN 'chat' WHEN 1 THEN 'voice' ELSE 'messaging' END,
                    'ended', 'pointer', NULL, CASE WHEN i % 10 < 8 THEN 'agent-' || (i % 200) END, '[]'::jsonb,
                    (CASE WHEN i % 10 < 8 AND i % 5 = 0 THEN \(r["changes"]!) ELSE '[]' END)::jsonb,
                    \(r["created"]!), CASE WHEN i % 10 < 8 THEN \(r["joined"]!) END, \(r["ended"]!),
                    CASE WHEN i % 10 >= 8 THEN 'no-agent-joined' WHEN i % 7 = 0 THEN 'agent-exited' ELSE 'customer-exited' END,
                    'customer', '[]'::jsonb
                FROM generate_series(0::bigint, \(sessions - 1)) AS i
                """), logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: """
                INSERT INTO session_masking (sessionID, record)
                SELECT lpad(i::text, 9, '0'), '{"rulesHashes":[],"maskedElements":4,"maskedValues":2,"detectorHits":{},"sdkDetectorHits":{},'
                    || '"droppedActions":[{"at":"2026-06-30T00:00:00.000Z","action":"input","reason":"pointer-mode"}],"droppedActionsTotal":1}'
                FROM generate_series(0::bigint, \(sessions - 20), 20) AS i
                """), logger: logger)
            try await connection.query("ANALYZE", logger: logger)
        }
    }

    func withPostgres(_ location: PostgresLocation, logger: Logger, _ body: (PostgresConnection) async throws -> Void) async throws {
        let connection = try await PostgresConnection.connect(configuration: location.connectionConfiguration(connectTimeout: .seconds(10)),
                                                              id: 1, logger: logger)
        do {
            try await body(connection)
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }
}
