import Foundation
import Logging
import PostgresNIO
@testable import SessionRegistry
import TestSupport
import Testing

/// The registry's stores: every suite that touches storage runs against each.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { rawValue }
}

/// A fresh, empty database of one kind, for one test: a temporary SQLite file, or a database of
/// its own on the private PostgreSQL server that `deploy/local/test` starts (the PostgreSQL
/// cases fail, never skip, without it). `remove()` deletes it.
struct TestDatabase: Sendable {
    let kind: StoreKind
    /// What `REGISTRY_DATABASE` takes for it: a file path or a `postgres://` URL.
    let value: String

    static func make(_ kind: StoreKind) async throws -> TestDatabase {
        switch kind {
        case .sqlite:
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("registry-\(UUID().uuidString).sqlite").path
            return TestDatabase(kind: kind, value: path)
        case .postgres:
            let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            // The name is ours (hex), so it can stand in the statement as it is.
            try await TestPostgres.administer("CREATE DATABASE \(name)")
            var url = try #require(URLComponents(string: try TestPostgres.url()))
            url.path = "/" + name
            return TestDatabase(kind: kind, value: try #require(url.string))
        }
    }

    var postgresLocation: PostgresLocation? { try? PostgresLocation(url: value) }

    func remove() async {
        switch kind {
        case .sqlite:
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: value + suffix) }
        case .postgres:
            // FORCE: a killed registry's connections may linger for a moment.
            guard let name = postgresLocation?.database else { return }
            try? await TestPostgres.administer("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        }
    }

    /// Opens a store on it; a PostgreSQL store's pool runs until `TestStore` goes.
    func open(instanceID: String = "registry-tests") async throws -> TestStore {
        switch kind {
        case .sqlite:
            // Encrypted, as a production registry's file is.
            return TestStore(store: try SQLiteSessionStore(path: value, key: try DatabaseKey(hex: TestDatabaseKey.hex), instanceID: instanceID),
                             running: nil)
        case .postgres:
            let location = try #require(postgresLocation)
            let store = try await PostgresSessionStore(location, instanceID: instanceID, logger: TestPostgres.logger, maximumConnections: 4)
            return TestStore(store: store, running: Task { await store.run() })
        }
    }
}

/// A store and, for PostgreSQL, the task running its connection pool (cancelled when this goes).
final class TestStore: Sendable {
    let store: any SessionStoring
    private let running: Task<Void, Never>?

    init(store: any SessionStoring, running: Task<Void, Never>?) {
        self.store = store
        self.running = running
    }

    deinit { running?.cancel() }
}

/// The private PostgreSQL server of the tests (`COBROWSE_TEST_POSTGRES_URL`, exported by
/// `deploy/local/test`: the `cobrowse` role, which may create databases).
enum TestPostgres {
    static let logger = Logger(label: "registry-tests.postgres")

    static func url() throws -> String { try TestBroker.environment("COBROWSE_TEST_POSTGRES_URL") }

    static func location() throws -> PostgresLocation { try PostgresLocation(url: url()) }

    /// Runs one statement as the `cobrowse` role on its own database (creating and dropping
    /// the tests' databases, which no transaction may do).
    static func administer(_ statement: String) async throws {
        try await withConnection { connection in
            _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
    }

    /// A connection to `database` (default: the role's own) for the length of `body`.
    static func withConnection<T: Sendable>(database: String? = nil,
                                            _ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        var location = try location()
        if let database { location.database = database }
        let connection = try await PostgresConnection.connect(configuration: location.connectionConfiguration(connectTimeout: .seconds(10)),
                                                              id: 1, logger: logger)
        do {
            let result = try await body(connection)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
