import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// Where `REGISTRY_DATABASE` says the sessions are: a SQLite file (one host) or a PostgreSQL
/// database (`postgres://` or `postgresql://`: registries on several hosts). Printing it never
/// shows a password.
public enum RegistryDatabase: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresLocation)

    public init(_ value: String) throws(PostgresLocation.Invalid) {
        self = PostgresLocation.isURL(value) ? .postgres(try PostgresLocation(url: value)) : .sqlite(path: value)
    }

    public var description: String {
        switch self {
        case let .sqlite(path): path
        case let .postgres(location): location.redactedURL
        }
    }

    /// Opens the store (creating or migrating its schema; a SQLite file encrypted or re-keyed
    /// first as `encryption` says) and returns it with what must run as long as it is used:
    /// PostgreSQL's connection pool, none for SQLite.
    public func open(encryption: DatabaseEncryption, instanceID: String,
                     logger: Logger) async throws -> (store: any SessionStoring, services: [any Service]) {
        switch self {
        case let .sqlite(path):
            let key = try SQLiteKeying.prepare(path: path, key: encryption.key, newKey: encryption.newKey, logger: logger)
            return (try SQLiteSessionStore(path: path, key: key, instanceID: instanceID), [])
        case let .postgres(location):
            let store = try await PostgresSessionStore(location, instanceID: instanceID, logger: logger)
            return (store, [store])
        }
    }

    /// Whether what the registry keeps is encrypted where it lies (SQLite with a key) or on its way
    /// (PostgreSQL over verified TLS; its disk is the database host's to encrypt).
    public func isEncrypted(_ encryption: DatabaseEncryption) -> Bool {
        switch self {
        case .sqlite: encryption.key != nil || encryption.newKey != nil
        case let .postgres(location): location.sslMode == .verifyFull
        }
    }

    /// An error of opening the store in a sentence for operators: PostgreSQL's own message and
    /// SQLSTATE, or why the connection failed (never a password: none is in these errors).
    public static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let server = error.serverInfo {
            return "\(server[.severity] ?? "ERROR"): \(server[.message] ?? "no message") (SQLSTATE \(server[.sqlState] ?? "?"))"
        }
        if error.code == .sslUnsupported { return "the server does not offer TLS, which this sslmode requires" }
        if let underlying = error.underlying { return "\(error.code): \(underlying)" }
        return "\(error.code)"
    }
}
