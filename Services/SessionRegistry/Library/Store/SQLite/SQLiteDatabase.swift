import Foundation

/// A SQLite file behind one connection whose calls run one at a time on a queue of their own,
/// off the callers' threads: the registry's writes are small, and SQLite has one writer anyway.
final class SQLiteDatabase: @unchecked Sendable {
    private let connection: SQLiteConnection
    private let queue = DispatchQueue(label: "cobrowse.registry.sqlite")

    /// Opens the file (encrypted with `key`) in WAL mode with full syncs and foreign keys.
    init(path: String, key: DatabaseKey?) throws {
        connection = try SQLiteConnection(path: path, key: key)
        // FULL: a committed change survives an OS crash too, not only a killed process.
        try connection.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON")
    }

    /// Runs `body` on the connection now, on the caller's thread (start-up work only).
    func now<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try queue.sync { try body(connection) }
    }

    /// Reads (no transaction of its own: one statement sees one snapshot).
    func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await run { try body($0) }
    }

    /// Changes, in one transaction holding the write lock.
    func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await run { connection in try connection.writeTransaction { try body(connection) } }
    }

    private func run<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body(self.connection) }) }
        }
    }
}
