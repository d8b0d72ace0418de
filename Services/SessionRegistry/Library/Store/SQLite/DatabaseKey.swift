import Foundation

/// The key of the registry's SQLite file: 32 random bytes, kept in a file as 64 hexadecimal
/// characters (`openssl rand -hex 32`), used as SQLCipher's raw key (no passphrase derivation).
public struct DatabaseKey: Sendable, Equatable {
    let hex: String

    /// Why a key file was refused (never its content).
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads the key from `file`; surrounding white space (a final newline) is ignored.
    public init(file: String) throws(Invalid) {
        guard let data = FileManager.default.contents(atPath: file) else { throw Invalid(description: "cannot read the file") }
        try self.init(hex: String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// The key from its 64 hexadecimal characters.
    public init(hex text: String) throws(Invalid) {
        guard text.utf8.count == 64, text.utf8.allSatisfy({ $0 < 128 && (($0 >= 48 && $0 <= 57) || ($0 | 0x20 >= 97 && $0 | 0x20 <= 102)) }) else {
            throw Invalid(description: "the file must hold 64 hexadecimal characters (32 bytes, e.g. `openssl rand -hex 32`), not \(text.utf8.count) characters of something else")
        }
        hex = text.lowercased()
    }

    /// The key as SQLCipher's `PRAGMA key` takes raw bytes: `x'…'`.
    var pragmaLiteral: String { "x'\(hex)'" }
}
