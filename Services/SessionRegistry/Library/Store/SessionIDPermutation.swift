import CobrowseProtocol
import Crypto
import Foundation

/// Session ids from a counter through a keyed permutation of the nine-digit space: the ids look
/// random (the next cannot be guessed from the last), yet none comes twice until 10⁹ sessions have
/// been created, however many ended sessions retention has deleted meanwhile. (Random ids would
/// need every id ever issued kept to be sure of that.) A four-round Feistel network over 30 bits,
/// with HMAC-SHA256 under the store's own key as its round function, walked until it lands below 10⁹.
struct SessionIDPermutation: Sendable {
    static let space: UInt64 = 1_000_000_000
    private let key: SymmetricKey

    /// A permutation under `key` (the store keeps one, made at its creation).
    init(key: Data) {
        self.key = SymmetricKey(data: key)
    }

    /// A fresh key for a new store: 32 random bytes, as hex.
    static func newKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }.hex
    }

    /// The key from its hex form; nil if it is not one.
    static func key(hex: String) -> Data? {
        guard hex.utf8.count == 64, let bytes = [UInt8](hex: hex) else { return nil }
        return Data(bytes)
    }

    /// The id the `sequence`-th session gets.
    func id(at sequence: UInt64) -> SessionID {
        let text = String(value(at: sequence))
        return SessionID(String(repeating: "0", count: 9 - text.count) + text)!
    }

    /// The permuted number, below 10⁹ (cycle walking keeps it a permutation of [0, 10⁹)).
    func value(at sequence: UInt64) -> UInt64 {
        var value = sequence % Self.space
        repeat { value = encrypt(value) } while value >= Self.space
        return value
    }

    private func encrypt(_ value: UInt64) -> UInt64 {
        var left = value >> 15, right = value & 0x7FFF
        for round in 0..<4 {
            (left, right) = (right, left ^ self.round(round, right))
        }
        return left << 15 | right
    }

    private func round(_ round: Int, _ half: UInt64) -> UInt64 {
        let code = HMAC<SHA256>.authenticationCode(for: [UInt8(round), UInt8(half >> 8), UInt8(half & 0xFF)], using: key)
        return code.withUnsafeBytes { UInt64($0[0]) << 8 | UInt64($0[1]) } & 0x7FFF
    }
}
