import CobrowseProtocol
import CobrowseTokens
import Foundation
import Logging
@testable import SessionRegistry
import ServiceKit
import TestSupport
import Testing

/// `REGISTRY_DATABASE`: a file or a PostgreSQL URL, read strictly, never printed with its password;
/// a store that cannot be opened stops the registry at start with a clear error.
@Suite struct RegistryDatabaseTests {
    @Test func aPathIsASQLiteFile() throws {
        #expect(try RegistryDatabase("session-registry.sqlite") == .sqlite(path: "session-registry.sqlite"))
        #expect(try RegistryDatabase("/data/postgres/registry.sqlite") == .sqlite(path: "/data/postgres/registry.sqlite"))
    }

    @Test func aPostgresURLIsReadWhole() throws {
        let location = try PostgresLocation(url: "postgres://registry:p%40ss%2Fw0rd@db.example:6543/sessions?sslmode=verify-full&sslrootcert=/ca.pem")
        #expect(location.host == "db.example")
        #expect(location.port == 6543)
        #expect(location.username == "registry")
        #expect(location.password == "p@ss/w0rd")
        #expect(location.database == "sessions")
        #expect(location.sslMode == .verifyFull)
        #expect(location.rootCertificateFile == "/ca.pem")
        #expect(try RegistryDatabase("postgres://registry:x@db.example:6543/sessions") == .postgres(
            try PostgresLocation(url: "postgres://registry:x@db.example:6543/sessions")))
    }

    @Test func thePortTheDatabaseAndTheSSLModeHaveLibpqsDefaults() throws {
        let location = try PostgresLocation(url: "postgresql://registry@db.example")
        #expect(location.port == 5432)
        #expect(location.database == "registry")
        #expect(location.password == nil)
        #expect(location.sslMode == .prefer)
        #expect(try PostgresLocation(url: "POSTGRES://u:p@[::1]:5433/d?sslmode=disable").host == "::1")
    }

    @Test(arguments: [
        ("postgres://", "no host"),
        ("postgres:///sessions", "no host"),
        ("postgres://db.example/sessions", "no user name"),
        ("postgres://u:p@db.example:notaport/sessions", "not a URL"),
        ("postgres://u:p@db.example:70000/sessions", "out of range"),
        ("postgres://u:p@db.example/sessions/more", "more than a database"),
        ("postgres://u:p@db.example/sessions?sslmode=always", "sslmode 'always' is not one of disable, prefer, require, verify-full"),
        ("postgres://u:p@db.example/sessions?pool=9", "unknown parameter 'pool'"),
        ("postgres://u:p@db.example/sessions?sslrootcert=/ca.pem", "only with sslmode=verify-full"),
    ])
    func aMalformedURLIsRefusedSayingWhy(_ url: String, _ why: String) {
        let error = #expect(throws: PostgresLocation.Invalid.self) { try PostgresLocation(url: url) }
        #expect(error?.description.contains(why) == true, "\(url): \(String(describing: error))")
    }

    @Test func theConfigurationRefusesAMalformedURLNamingTheVariableAndNotThePassword() throws {
        let environment = ServiceEnvironment(["REGISTRY_DATABASE": "postgres://registry:topsecret@db.example:notaport/sessions",
                                              "TOKEN_HS256_SECRET": ContactCenterTokens.secret])
        let error = #expect(throws: ConfigurationError.self) { try RegistryConfiguration(environment) }
        #expect(error?.variable == "REGISTRY_DATABASE")
        #expect(error?.value == "postgres://registry:****@db.example:notaport/sessions")
        #expect(error?.expected.contains("not a URL") == true)
        #expect(error?.description.contains("topsecret") == false)
    }

    @Test func nothingPrintsThePassword() throws {
        let location = try PostgresLocation(url: "postgres://registry:topsecret@db.example/sessions?sslmode=require")
        let database = RegistryDatabase.postgres(location)
        var dumped = ""
        dump(location, to: &dumped)
        for text in ["\(location)", String(reflecting: location), dumped, "\(database)", String(reflecting: database)] {
            #expect(!text.contains("topsecret"), "\(text)")
        }
        #expect(location.redactedURL == "postgres://registry:****@db.example:5432/sessions?sslmode=require")
        // Redaction works on what is not a URL at all too, as long as it looks like user:password@.
        #expect(PostgresLocation.redacted("postgres://registry:top@secret@db/x") == "postgres://registry:****@db/x")
        #expect(PostgresLocation.redacted("/var/lib/registry.sqlite") == "/var/lib/registry.sqlite")
    }

    @Test func anUnreachableServerIsAClearErrorAtStart() async throws {
        let port = try ServiceProcess.freePort()
        let database = try RegistryDatabase("postgres://registry:topsecret@127.0.0.1:\(port)/sessions?sslmode=disable")
        let error = await #expect(throws: (any Error).self) {
            _ = try await database.open(encryption: try DatabaseEncryption(ServiceEnvironment(["REGISTRY_DATABASE_ENCRYPTION": "off"]), database: database),
                                        instanceID: "unreachable", logger: Logger(label: "registry-database-tests"))
        }
        let said = RegistryDatabase.describe(try #require(error))
        #expect(said.localizedCaseInsensitiveContains("connect") || said.localizedCaseInsensitiveContains("refused"), "\(said)")
        #expect(!said.contains("topsecret"))
    }

    @Test func aWrongPasswordIsAClearErrorAtStart() async throws {
        var url = try #require(URLComponents(string: try TestPostgres.url()))
        url.password = "topsecret"
        let database = try RegistryDatabase(try #require(url.string))
        let error = await #expect(throws: (any Error).self) {
            _ = try await database.open(encryption: try DatabaseEncryption(ServiceEnvironment(["REGISTRY_DATABASE_ENCRYPTION": "off"]), database: database),
                                        instanceID: "wrong-password", logger: Logger(label: "registry-database-tests"))
        }
        let said = RegistryDatabase.describe(try #require(error))
        #expect(said.contains("password authentication failed") && said.contains("SQLSTATE 28P01"), "\(said)")
        #expect(!said.contains("topsecret"))
    }

    enum BadDatabase: String, CaseIterable, Sendable {
        case malformed, unreachable, wrongPassword
    }

    @Test(arguments: BadDatabase.allCases)
    func theRegistryStopsAtStartNamingTheVariableAndNotThePassword(_ bad: BadDatabase) async throws {
        let value: String
        switch bad {
        case .malformed:
            value = "postgres://registry:topsecret@/sessions"
        case .unreachable:
            value = "postgres://registry:topsecret@127.0.0.1:\(try ServiceProcess.freePort())/sessions?sslmode=disable"
        case .wrongPassword:
            var url = try #require(URLComponents(string: try TestPostgres.url()))
            url.password = "topsecret"
            value = try #require(url.string)
        }
        let service = try ServiceProcess("session-registry", environment: [
            // The store is opened before the broker is ever contacted.
            "AMQP_URL": "amqp://guest:guest@127.0.0.1:\(try ServiceProcess.freePort())/%2F",
            "TOKEN_HS256_SECRET": ContactCenterTokens.secret, "REGISTRY_DATABASE": value,
        ])
        #expect(await service.waitForExit(within: .seconds(60)) == 2)
        #expect(await eventually { service.log.contains("REGISTRY_DATABASE=postgres://") }, "the output arrives after the exit")
        #expect(service.log.contains(":****@"), "\(service.log)")
        #expect(!service.log.contains("topsecret"), "\(service.log)")
    }
}

@Suite struct SQLiteStoreTests {
    @Test func aFileOfTheFirstSchemaOpensWithItsSessionsAndGainsTheLaterTables() async throws {
        let database = try await TestDatabase.make(.sqlite)
        defer { Task { await database.remove() } }
        do {
            // A registry of the first release left this file (plain: encryption came later).
            let connection = try SQLiteConnection(path: database.value, key: nil)
            try SQLiteSchema.migrate(connection, through: "v1")
            try connection.writeTransaction {
                try connection.execute("""
                    INSERT INTO session (id, customerKeyHash, interactionID, channel, state, mode, writeRequestPendingUntil,
                        leadAgentID, observers, modeChanges, createdAt, joinedAt, endedAt, endReason, endedBy)
                    VALUES ('123456789', 'hash', 'ix-old', 'voice', 'active', 'pointer', NULL, 'ana', '["sup"]', '[]',
                        1800000000000, 1800000001000, NULL, NULL, NULL)
                    """)
            }
        }
        let store = try SQLiteSessionStore(path: database.value, instanceID: "upgraded")
        let view = try #require(try await store.session(SessionID("123456789")!)).view
        #expect(view.state == .active && view.leadAgentID == "ana" && view.observers == ["sup"] && view.channel == .voice)
        #expect(view.joinedAt == Date(millisecondsSince1970: 1_800_000_001_000))
        #expect(view.visits == [], "v4's visits: a session from before kept none")
        // v6: its observer is indexed from the JSON the first release kept.
        #expect(try await store.sessions(.agent("sup"), limit: 10).map(\.id) == [view.id])
        #expect(try await store.sessions(.agent("ana"), limit: 10).map(\.id) == [view.id])

        // v2's table: an ended interaction is remembered and bars new sessions.
        let ended = try await store.endInteraction("ix-old", reason: .interactionEnded, createdBefore: nil, remember: true,
                                                   by: .system("interaction-watch"), rules: SessionRules(), now: Date())
        #expect(ended.map(\.id) == [view.id])
        let refusal = await #expect(throws: RegistryRefusal.self) {
            _ = try await store.create(grant: InteractionGrant(interactionID: "ix-old", channel: .voice), customerKeyHash: "h", now: Date())
        }
        #expect(refusal?.code == .interactionEnded)
    }
}
