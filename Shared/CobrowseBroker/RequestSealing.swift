import CobrowseProtocol
import Crypto
import Foundation

/// Registry requests sealed to the registry process's own key, so the credentials in them
/// (tokens, customer keys, voice codes) never rest in clear in the RPC queue, which is a quorum
/// queue and so written to the broker's disk. Each request gets a fresh X25519 key; the shared
/// secret, through HKDF-SHA256, keys ChaCha20-Poly1305. The registry's private key lives in its
/// memory only, so what a broker's disk kept can no longer be opened once that process is gone.
///
/// On the wire: `{"sealed": {"key": <the registry key's id>, "ephemeral": <base64>, "box": <base64>}}`.
public enum RequestSealing {
    struct Envelope: Codable {
        struct Sealed: Codable {
            var key: String
            var ephemeral: String
            var box: String
        }

        var sealed: Sealed
    }

    /// Why a sealed request could not be opened.
    public enum OpenFailure: Error, Equatable {
        /// Sealed to a key this process does not hold.
        case unknownKey
        /// Not a well-formed envelope, or its box does not open (tampered with).
        case broken
    }

    /// `body` sealed to `key`.
    /// - Parameters:
    ///   - body: The request as JSON.
    ///   - key: The registry's public key.
    /// - Returns: The envelope, as JSON.
    /// - Throws: When `key` is not an X25519 public key.
    public static func seal(_ body: Data, to key: SealingKey) throws -> Data {
        guard let raw = Data(base64Encoded: key.publicKey) else { throw OpenFailure.broken }
        let registry = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: raw)
        let ephemeral = Curve25519.KeyAgreement.PrivateKey()
        let box = try ChaChaPoly.seal(body, using: try symmetricKey(ephemeral.sharedSecretFromKeyAgreement(with: registry),
                                                                    ephemeral: ephemeral.publicKey, registry: registry))
        return try JSONEncoder().encode(Envelope(sealed: .init(key: key.id, ephemeral: ephemeral.publicKey.rawRepresentation.base64EncodedString(),
                                                               box: box.combined.base64EncodedString())))
    }

    /// Whether `body` is a sealed envelope (rather than a plain request).
    public static func isSealed(_ body: Data) -> Bool {
        (try? JSONDecoder().decode(Envelope.self, from: body)) != nil
    }

    static func symmetricKey(_ secret: SharedSecret, ephemeral: Curve25519.KeyAgreement.PublicKey,
                             registry: Curve25519.KeyAgreement.PublicKey) -> SymmetricKey {
        secret.hkdfDerivedSymmetricKey(using: SHA256.self, salt: ephemeral.rawRepresentation + registry.rawRepresentation,
                                       sharedInfo: Data("cobrowse registry request".utf8), outputByteCount: 32)
    }
}

/// The registry process's key for sealed requests: made at start, held in memory only.
public struct RequestOpener: Sendable {
    private let privateKey: Curve25519.KeyAgreement.PrivateKey
    /// What clients seal to.
    public let publicKey: SealingKey

    public init() {
        privateKey = Curve25519.KeyAgreement.PrivateKey()
        let id = (0..<8).map { _ in UInt8.random(in: 0...255) }.hex
        publicKey = SealingKey(id: id, publicKey: privateKey.publicKey.rawRepresentation.base64EncodedString())
    }

    /// The request inside a sealed envelope.
    /// - Parameter body: The envelope, as JSON.
    /// - Returns: The request, as JSON.
    /// - Throws: `RequestSealing.OpenFailure`.
    public func open(_ body: Data) throws(RequestSealing.OpenFailure) -> Data {
        guard let envelope = try? JSONDecoder().decode(RequestSealing.Envelope.self, from: body) else { throw .broken }
        guard envelope.sealed.key == publicKey.id else { throw .unknownKey }
        guard let raw = Data(base64Encoded: envelope.sealed.ephemeral), let combined = Data(base64Encoded: envelope.sealed.box),
              let ephemeral = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: raw),
              let secret = try? privateKey.sharedSecretFromKeyAgreement(with: ephemeral),
              let box = try? ChaChaPoly.SealedBox(combined: combined),
              let opened = try? ChaChaPoly.open(box, using: RequestSealing.symmetricKey(secret, ephemeral: ephemeral,
                                                                                         registry: privateKey.publicKey)) else {
            throw .broken
        }
        return opened
    }
}
