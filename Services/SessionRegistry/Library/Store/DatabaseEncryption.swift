import ServiceKit

/// How the registry's data is protected at rest and on its way to the store: the SQLite file's
/// key (and a new one to re-key it to), and whether protection is required.
public struct DatabaseEncryption: Sendable {
    /// `required`: a SQLite file needs a key and a PostgreSQL URL `sslmode=verify-full`; `off`: neither.
    public enum Requirement: String, Sendable, CaseIterable {
        case required, off
    }

    public static let requirement = EnvironmentVariable(
        "REGISTRY_DATABASE_ENCRYPTION", default: "required",
        "`required`: the registry refuses to start unless the SQLite file is encrypted (`REGISTRY_DATABASE_KEY_FILE`) or the PostgreSQL URL has `sslmode=verify-full`; `off`: it does not insist (development).")
    public static let keyFile = EnvironmentVariable(
        "REGISTRY_DATABASE_KEY_FILE", default: "",
        "File holding the SQLite database's key, 64 hex characters (`openssl rand -hex 32`): the file, its WAL and journal are encrypted (SQLCipher). A plain file is encrypted at the next start.")
    public static let newKeyFile = EnvironmentVariable(
        "REGISTRY_DATABASE_NEW_KEY_FILE", default: "",
        "Key rotation: a file with the new key; at start the registry re-keys the SQLite file to it (docs/operations.md \"Encryption\"), then this key goes to `REGISTRY_DATABASE_KEY_FILE`.")
    public static let variables = [requirement, keyFile, newKeyFile]

    public var requirement: Requirement
    public var key: DatabaseKey?
    public var newKey: DatabaseKey?

    /// Reads the settings and checks them against `database`; a `ConfigurationError` names the
    /// variable at fault (never a key).
    public init(_ environment: ServiceEnvironment, database: RegistryDatabase) throws {
        requirement = Requirement(rawValue: try environment.oneOf(Self.requirement, Requirement.allCases.map(\.rawValue))) ?? .required
        key = try Self.key(environment, Self.keyFile)
        newKey = try Self.key(environment, Self.newKeyFile)
        switch database {
        case .sqlite:
            if requirement == .required, key == nil {
                throw ConfigurationError(variable: Self.keyFile.name, value: "",
                                         expected: "a file with the database key (64 hex characters: `openssl rand -hex 32 > key`), since REGISTRY_DATABASE_ENCRYPTION=required")
            }
            if newKey != nil, key == nil {
                throw ConfigurationError(variable: Self.newKeyFile.name, value: environment.string(Self.newKeyFile),
                                         expected: "to be set only with REGISTRY_DATABASE_KEY_FILE (the key in force; to encrypt a plain file, set only that)")
            }
        case let .postgres(location):
            if key != nil || newKey != nil {
                throw ConfigurationError(variable: Self.keyFile.name, value: environment.string(Self.keyFile),
                                         expected: "unset with PostgreSQL (the key is for a SQLite file; PostgreSQL's storage is encrypted by its host, docs/operations.md \"Encryption\")")
            }
            if requirement == .required, location.sslMode != .verifyFull {
                throw ConfigurationError(variable: RegistryConfiguration.database.name, value: location.redactedURL,
                                         expected: "sslmode=verify-full (with sslrootcert= the server's CA), since REGISTRY_DATABASE_ENCRYPTION=required: the registry's data crosses the network only over verified TLS")
            }
        }
    }

    private static func key(_ environment: ServiceEnvironment, _ variable: EnvironmentVariable) throws -> DatabaseKey? {
        let file = environment.string(variable)
        guard !file.isEmpty else { return nil }
        do {
            return try DatabaseKey(file: file)
        } catch {
            throw ConfigurationError(variable: variable.name, value: file, expected: "a readable key file (\(error))")
        }
    }
}
