import CSQLCipher
import Foundation

/// One connection to a database file, used from one thread at a time (`SQLiteDatabase`
/// serializes). With a key, SQLCipher encrypts every page of the file and of its WAL.
final class SQLiteConnection {
    private let handle: OpaquePointer

    /// Opens (or creates) the file; with `key`, as an encrypted database. Checks at once that
    /// the file reads: a wrong key (or none for an encrypted file) is `SQLiteError.isNotADatabase`.
    init(path: String, key: DatabaseKey?) throws {
        var opened: OpaquePointer?
        let status = sqlite3_open_v2(path, &opened, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nil)
        guard let opened else { throw SQLiteError(code: status, extendedCode: status, message: "out of memory", context: "opening \(path)") }
        handle = opened
        guard status == SQLITE_OK else {
            let error = SQLiteError(code: status, extendedCode: sqlite3_extended_errcode(opened),
                                    message: String(cString: sqlite3_errmsg(opened)), context: "opening \(path)")
            sqlite3_close_v2(opened)
            throw error
        }
        sqlite3_extended_result_codes(handle, 1)
        // Another process on the host may hold the write lock for a moment.
        sqlite3_busy_timeout(handle, 10_000)
        do {
            // The key must be the first statement on the connection; the raw form skips the KDF.
            if let key { try execute("PRAGMA key = \"\(key.pragmaLiteral)\"") }
            _ = try rows("SELECT count(*) AS n FROM sqlite_master")
        } catch {
            sqlite3_close_v2(handle)
            throw error
        }
    }

    deinit { sqlite3_close_v2(handle) }

    /// Runs SQL that returns nothing (several statements allowed, no parameters).
    func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &message)
        guard status == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(message)
            throw SQLiteError(code: status & 0xff, extendedCode: sqlite3_extended_errcode(handle), message: text, context: Self.context(sql))
        }
    }

    /// Runs one statement with `arguments` bound to its `?`s, in order.
    func execute(_ sql: String, _ arguments: [any SQLiteBindable]) throws {
        _ = try rows(sql, arguments)
    }

    /// Runs one statement with `:name` parameters bound from `named`.
    func execute(_ sql: String, named: [String: any SQLiteBindable]) throws {
        try withStatement(sql) { statement in
            for (name, value) in named {
                let index = sqlite3_bind_parameter_index(statement, ":\(name)")
                if index > 0 { try bind(value.sqliteValue, at: index, of: statement, sql: sql) }
            }
            while try step(statement, sql: sql) {}
        }
    }

    /// The rows of one statement.
    func rows(_ sql: String, _ arguments: [any SQLiteBindable] = []) throws -> [SQLiteRow] {
        try withStatement(sql) { statement in
            for (offset, value) in arguments.enumerated() {
                try bind(value.sqliteValue, at: Int32(offset + 1), of: statement, sql: sql)
            }
            var result: [SQLiteRow] = []
            while try step(statement, sql: sql) { result.append(row(of: statement)) }
            return result
        }
    }

    /// Runs `body` in one transaction that takes the write lock at once (so two writers never
    /// both read and then collide), committed if it returns, rolled back if it throws.
    func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    private func withStatement<T>(_ sql: String, _ body: (OpaquePointer) throws -> T) throws -> T {
        var prepared: OpaquePointer?
        let status = sqlite3_prepare_v2(handle, sql, -1, &prepared, nil)
        guard status == SQLITE_OK, let statement = prepared else { throw failure(status, sql) }
        defer { sqlite3_finalize(statement) }
        return try body(statement)
    }

    private func bind(_ value: SQLiteValue, at index: Int32, of statement: OpaquePointer, sql: String) throws {
        let status: Int32 = switch value {
        case .null: sqlite3_bind_null(statement, index)
        case let .integer(integer): sqlite3_bind_int64(statement, index, integer)
        case let .text(text): sqlite3_bind_text(statement, index, text, -1, Self.transient)
        case let .blob(data): data.withUnsafeBytes { sqlite3_bind_blob(statement, index, $0.baseAddress, Int32($0.count), Self.transient) }
        }
        guard status == SQLITE_OK else { throw failure(status, sql) }
    }

    /// One step: true while there is a row to read.
    private func step(_ statement: OpaquePointer, sql: String) throws -> Bool {
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let status: throw failure(status, sql)
        }
    }

    private func row(of statement: OpaquePointer) -> SQLiteRow {
        var values: [String: SQLiteValue] = [:]
        for column in 0..<sqlite3_column_count(statement) {
            let name = String(cString: sqlite3_column_name(statement, column))
            switch sqlite3_column_type(statement, column) {
            case SQLITE_INTEGER: values[name] = .integer(sqlite3_column_int64(statement, column))
            case SQLITE_TEXT: values[name] = .text(String(cString: sqlite3_column_text(statement, column)))
            case SQLITE_BLOB:
                let count = Int(sqlite3_column_bytes(statement, column))
                values[name] = .blob(count == 0 ? Data() : Data(bytes: sqlite3_column_blob(statement, column), count: count))
            default: values[name] = .null
            }
        }
        return SQLiteRow(values: values)
    }

    private func failure(_ status: Int32, _ sql: String) -> SQLiteError {
        SQLiteError(code: status & 0xff, extendedCode: sqlite3_extended_errcode(handle),
                    message: String(cString: sqlite3_errmsg(handle)), context: Self.context(sql))
    }

    /// The SQL as the error names it: its start, never a key.
    private static func context(_ sql: String) -> String {
        if sql.hasPrefix("PRAGMA key") || sql.hasPrefix("ATTACH") { return "applying the database key" }
        return "running \(sql.prefix(60).replacingOccurrences(of: "\n", with: " "))…"
    }

    /// SQLITE_TRANSIENT: SQLite copies the bound bytes (a C macro Swift does not import).
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}
