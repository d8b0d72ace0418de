/// A SQLite (SQLCipher) call that failed: its result code, extended code and message.
struct SQLiteError: Error, CustomStringConvertible {
    let code: Int32
    let extendedCode: Int32
    let message: String
    /// What was being done (the SQL, or the step), for the log.
    let context: String

    /// SQLITE_CONSTRAINT_UNIQUE: a unique index refused the change.
    var isUniqueConstraint: Bool { extendedCode == 2067 }
    /// SQLITE_NOTADB: the file is not a database, which is what a wrong (or missing) key looks like.
    var isNotADatabase: Bool { code == 26 }

    var description: String { "SQLite error \(extendedCode) (\(message)) while \(context)" }
}
