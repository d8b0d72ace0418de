import CobrowseProtocol
import CobrowseTokens
import Foundation
import Logging
@testable import SessionRegistry
import ServiceKit
import TestSupport
import Testing

/// The registry's SQLite file at rest: encrypted by SQLCipher under the key of
/// `REGISTRY_DATABASE_KEY_FILE`, unreadable without it, encrypted in place when it was plain,
/// re-keyed by `REGISTRY_DATABASE_NEW_KEY_FILE`; and the settings refused with a clear error.
@Suite struct DatabaseEncryptionTests {
    static let logger = Logger(label: "encryption-tests")

    static func key() throws -> DatabaseKey {
        try DatabaseKey(hex: (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined())
    }

    /// A file with one session of interaction `interaction`, written under `key` (plain when nil).
    static func fileWithASession(_ interaction: String, key: DatabaseKey?) async throws -> (TestDatabase, SessionID) {
        let database = try await TestDatabase.make(.sqlite)
        let store = try SQLiteSessionStore(path: database.value, key: key, instanceID: "writer")
        let record = try await store.create(grant: InteractionGrant(interactionID: interaction, channel: .chat), customerKeyHash: "h", now: Date())
        return (database, record.view.id)
    }

    static func bytes(of database: TestDatabase) -> Data {
        var all = Data()
        for suffix in ["", "-wal", "-shm"] { all += FileManager.default.contents(atPath: database.value + suffix) ?? Data() }
        return all
    }

    @Test func anEncryptedFileShowsNothingInClearAndOpensOnlyWithItsKey() async throws {
        let key = try Self.key()
        let (database, id) = try await Self.fileWithASession("ix-secret-interaction-4711", key: key)
        defer { Task { await database.remove() } }
        #expect(SQLiteKeying.state(of: database.value) == .encrypted)
        let onDisk = Self.bytes(of: database)
        #expect(onDisk.range(of: Data("ix-secret-interaction-4711".utf8)) == nil, "the interaction id is in the file in clear")
        #expect(onDisk.range(of: Data("SQLite format 3".utf8)) == nil)

        for wrong in [nil, try Self.key()] {
            let refusal = #expect(throws: SQLiteError.self) { _ = try SQLiteConnection(path: database.value, key: wrong) }
            #expect(refusal?.isNotADatabase == true, "\(String(describing: refusal))")
        }
        let reopened = try SQLiteSessionStore(path: database.value, key: key, instanceID: "reader")
        #expect(try await reopened.session(id)?.view.interactionID == "ix-secret-interaction-4711")
    }

    @Test func aPlainFileIsEncryptedAtStartWithEverythingKept() async throws {
        let (database, id) = try await Self.fileWithASession("ix-from-before-encryption", key: nil)
        defer { Task { await database.remove() } }
        #expect(SQLiteKeying.state(of: database.value) == .plain)
        let key = try Self.key()
        #expect(try SQLiteKeying.prepare(path: database.value, key: key, newKey: nil, logger: Self.logger) == key)
        #expect(SQLiteKeying.state(of: database.value) == .encrypted)
        #expect(Self.bytes(of: database).range(of: Data("ix-from-before-encryption".utf8)) == nil)
        let store = try SQLiteSessionStore(path: database.value, key: key, instanceID: "after")
        #expect(try await store.session(id)?.view.interactionID == "ix-from-before-encryption")
        #expect(try await store.outboxCount() == 1, "the undelivered created event survives the copy")
    }

    @Test func reKeyingMovesTheFileToTheNewKeyAndARepeatChangesNothing() async throws {
        let old = try Self.key(), new = try Self.key()
        let (database, id) = try await Self.fileWithASession("ix-rotated", key: old)
        defer { Task { await database.remove() } }
        #expect(try SQLiteKeying.prepare(path: database.value, key: old, newKey: new, logger: Self.logger) == new)
        #expect(throws: SQLiteError.self) { _ = try SQLiteConnection(path: database.value, key: old) }
        // A restart before the operator moved the new key to REGISTRY_DATABASE_KEY_FILE: already done.
        #expect(try SQLiteKeying.prepare(path: database.value, key: old, newKey: new, logger: Self.logger) == new)
        let store = try SQLiteSessionStore(path: database.value, key: new, instanceID: "rotated")
        #expect(try await store.session(id)?.view.interactionID == "ix-rotated")
    }

    @Test func aCopyLeftByACrashIsDiscardedAndTheFileIsKept() async throws {
        let key = try Self.key()
        let (database, id) = try await Self.fileWithASession("ix-crash", key: key)
        defer { Task { await database.remove() } }
        try Data("half a copy".utf8).write(to: URL(fileURLWithPath: database.value + ".rekeying"))
        #expect(try SQLiteKeying.prepare(path: database.value, key: key, newKey: nil, logger: Self.logger) == key)
        #expect(!FileManager.default.fileExists(atPath: database.value + ".rekeying"))
        #expect(try await SQLiteSessionStore(path: database.value, key: key, instanceID: "after").session(id) != nil)
    }

    // MARK: Settings

    static func configuration(_ variables: [String: String]) throws -> RegistryConfiguration {
        try RegistryConfiguration(ServiceEnvironment(variables.merging(["TOKEN_HS256_SECRET": ContactCenterTokens.secret]) { mine, _ in mine }))
    }

    static func keyFile(_ content: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("key-\(UUID().uuidString)").path
        try Data(content.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func encryptionIsRequiredByDefaultAndASQLiteFileWithoutAKeyIsRefused() throws {
        let error = #expect(throws: ConfigurationError.self) { try Self.configuration(["REGISTRY_DATABASE": "registry.sqlite"]) }
        #expect(error?.variable == "REGISTRY_DATABASE_KEY_FILE")
        #expect(error?.description.contains("openssl rand -hex 32") == true, "\(String(describing: error))")
        let off = try Self.configuration(["REGISTRY_DATABASE": "registry.sqlite", "REGISTRY_DATABASE_ENCRYPTION": "off"])
        #expect(off.encryption.key == nil && !off.database.isEncrypted(off.encryption))
    }

    @Test(arguments: ["", "abc", String(repeating: "g", count: 64), String(repeating: "ab", count: 33)])
    func aKeyFileThatIsNot64HexCharactersIsRefusedWithoutShowingIt(_ content: String) throws {
        let file = try Self.keyFile(content)
        let error = #expect(throws: ConfigurationError.self) {
            try Self.configuration(["REGISTRY_DATABASE": "registry.sqlite", "REGISTRY_DATABASE_KEY_FILE": file])
        }
        #expect(error?.variable == "REGISTRY_DATABASE_KEY_FILE")
        #expect(error?.description.contains("64 hexadecimal characters") == true, "\(String(describing: error))")
        if !content.isEmpty { #expect(error?.description.contains(content) == false) }
    }

    @Test func aMissingKeyFileIsRefused() {
        let error = #expect(throws: ConfigurationError.self) {
            try Self.configuration(["REGISTRY_DATABASE": "registry.sqlite", "REGISTRY_DATABASE_KEY_FILE": "/nonexistent/registry.key"])
        }
        #expect(error?.description.contains("cannot read the file") == true, "\(String(describing: error))")
    }

    @Test func aNewKeyWithoutTheKeyInForceIsRefused() throws {
        let error = #expect(throws: ConfigurationError.self) {
            try Self.configuration(["REGISTRY_DATABASE": "registry.sqlite", "REGISTRY_DATABASE_ENCRYPTION": "off",
                                    "REGISTRY_DATABASE_NEW_KEY_FILE": try Self.keyFile(String(repeating: "a", count: 64))])
        }
        #expect(error?.variable == "REGISTRY_DATABASE_NEW_KEY_FILE")
    }

    @Test func postgresMustBeVerifiedTLSWhenEncryptionIsRequiredAndTakesNoKeyFile() throws {
        let plain = #expect(throws: ConfigurationError.self) {
            try Self.configuration(["REGISTRY_DATABASE": "postgres://registry:topsecret@db.example/sessions?sslmode=require"])
        }
        #expect(plain?.variable == "REGISTRY_DATABASE")
        #expect(plain?.description.contains("sslmode=verify-full") == true && plain?.description.contains("topsecret") == false)
        let verified = try Self.configuration(["REGISTRY_DATABASE": "postgres://registry:x@db.example/sessions?sslmode=verify-full"])
        #expect(verified.database.isEncrypted(verified.encryption))
        let keyed = #expect(throws: ConfigurationError.self) {
            try Self.configuration(["REGISTRY_DATABASE": "postgres://registry:x@db.example/sessions?sslmode=verify-full",
                                    "REGISTRY_DATABASE_KEY_FILE": try Self.keyFile(String(repeating: "a", count: 64))])
        }
        #expect(keyed?.variable == "REGISTRY_DATABASE_KEY_FILE")
    }

    @Test func aRegistryStartedWithoutItsKeyStopsAtOnceSayingWhich() async throws {
        let service = try ServiceProcess("session-registry", environment: [
            "AMQP_URL": "amqp://guest:guest@127.0.0.1:\(try ServiceProcess.freePort())/%2F",
            "TOKEN_HS256_SECRET": ContactCenterTokens.secret, "REGISTRY_DATABASE": "/tmp/never-created.sqlite",
            "REGISTRY_DATABASE_KEY_FILE": "",
        ])
        #expect(await service.waitForExit(within: .seconds(60)) == 2)
        #expect(await eventually { service.log.contains("REGISTRY_DATABASE_KEY_FILE") }, "\(service.log)")
    }

    @Test func aRegistryGivenTheWrongKeyStopsAtOnceAndLeavesTheFileAlone() async throws {
        let (database, _) = try await Self.fileWithASession("ix-wrong-key", key: try Self.key())
        defer { Task { await database.remove() } }
        let before = FileManager.default.contents(atPath: database.value)
        let service = try ServiceProcess("session-registry", environment: [
            "AMQP_URL": "amqp://guest:guest@127.0.0.1:\(try ServiceProcess.freePort())/%2F",
            "TOKEN_HS256_SECRET": ContactCenterTokens.secret, "REGISTRY_DATABASE": database.value,
            "REGISTRY_DATABASE_KEY_FILE": try Self.keyFile(String(repeating: "0", count: 64)),
        ])
        #expect(await service.waitForExit(within: .seconds(60)) == 2)
        #expect(await eventually { service.log.contains("file is encrypted or is not a database") || service.log.contains("not a database") },
                "\(service.log)")
        #expect(FileManager.default.contents(atPath: database.value) == before)
    }
}
