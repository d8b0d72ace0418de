import CSQLCipher
import Foundation
import Logging

/// Puts the registry's SQLite file under the configured key before the store opens it: a
/// plain file (from before encryption was turned on) is encrypted, and with a new key the file
/// is re-keyed. Both copy the database into a new file under the new key (SQLCipher's
/// `sqlcipher_export`) and then rename it over the old one, so a crash midway leaves the old
/// file whole and the next start does it again. No other process may have the file open meanwhile.
enum SQLiteKeying {
    /// What the first bytes of a file say about it.
    enum FileState: Equatable {
        case absent, plain, encrypted
    }

    static func state(of path: String) -> FileState {
        guard let handle = FileHandle(forReadingAtPath: path) else { return .absent }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        if header.isEmpty { return .absent }
        // Every plain SQLite 3 file starts so; an encrypted one starts with random salt.
        return header == Data("SQLite format 3\0".utf8) ? .plain : .encrypted
    }

    /// The key the store opens the file with, after encrypting or re-keying it as configured.
    static func prepare(path: String, key: DatabaseKey?, newKey: DatabaseKey?, logger: Logger) throws -> DatabaseKey? {
        let temporary = path + ".rekeying"
        try? FileManager.default.removeItem(atPath: temporary) // left by a crash during an earlier copy
        let state = state(of: path)
        if let newKey {
            if state == .encrypted, (try? SQLiteConnection(path: path, key: newKey)) != nil {
                logger.notice("the registry database is already under the new key: move REGISTRY_DATABASE_NEW_KEY_FILE's key to REGISTRY_DATABASE_KEY_FILE")
                return newKey
            }
            guard state != .absent else { return newKey }
            try copy(path, key: state == .plain ? nil : key, to: temporary, under: newKey)
            logger.notice("re-keyed the registry database: move REGISTRY_DATABASE_NEW_KEY_FILE's key to REGISTRY_DATABASE_KEY_FILE")
            return newKey
        }
        if let key, state == .plain {
            try copy(path, key: nil, to: temporary, under: key)
            logger.notice("encrypted the registry database, which was plain, with REGISTRY_DATABASE_KEY_FILE's key")
        }
        return key
    }

    /// Copies the database at `path` (opened with `key`) into `temporary` under `newKey`, then
    /// renames it over `path`.
    private static func copy(_ path: String, key: DatabaseKey?, to temporary: String, under newKey: DatabaseKey) throws {
        do {
            let source = try SQLiteConnection(path: path, key: key)
            // Everything into the main file first: the WAL is not copied, and must not outlive it.
            try source.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            let quoted = temporary.replacingOccurrences(of: "'", with: "''")
            try source.execute("ATTACH DATABASE '\(quoted)' AS rekeyed KEY \"\(newKey.pragmaLiteral)\"")
            try source.execute("SELECT sqlcipher_export('rekeyed')")
            try source.execute("DETACH DATABASE rekeyed")
        }
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        guard rename(temporary, path) == 0 else {
            throw SQLiteError(code: 0, extendedCode: 0, message: String(cString: strerror(errno)), context: "renaming the re-keyed copy over \(path)")
        }
    }
}
