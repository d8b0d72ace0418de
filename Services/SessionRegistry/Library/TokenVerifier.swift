import CobrowseProtocol
import CobrowseTokens
import Foundation
import JWTKit

/// Verifies the contact center's JWTs: interaction tokens (customer side) and agent tokens.
/// Signed with HS256 (shared secret) or RS256 (the contact center's public key).
public struct TokenVerifier: Sendable {
    public enum Key: Sendable {
        case hs256(secret: String)
        case rs256(publicKeyPEM: String)
    }

    private let keys: JWTKeyCollection
    /// The header `alg` every token must name: jwt-kit verifies with the configured key whatever
    /// the header says (`none`, `HS384`, …), so the header is checked here.
    private let algorithm: String
    /// If set, tokens must carry this `iss`.
    private let issuer: String?

    public init(key: Key, issuer: String? = nil) async throws {
        let keys = JWTKeyCollection()
        switch key {
        case let .hs256(secret):
            await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        case let .rs256(pem):
            await keys.add(rsa: try Insecure.RSA.PublicKey(pem: pem), digestAlgorithm: .sha256)
        }
        self.keys = keys
        self.issuer = issuer
        switch key {
        case .hs256: algorithm = "HS256"
        case .rs256: algorithm = "RS256"
        }
    }

    public func interaction(_ token: String, now: Date = Date()) async throws(RegistryRefusal) -> InteractionGrant {
        let claims: InteractionClaims = try await verify(token, what: "interaction token")
        try check(expiry: claims.exp, issuer: claims.iss, what: "interaction token", now: now)
        guard !claims.interaction_id.isEmpty else { throw RegistryRefusal(.invalidToken, "interaction token has no interaction id") }
        return InteractionGrant(interactionID: claims.interaction_id, channel: claims.channel)
    }

    public func agent(_ token: String, now: Date = Date()) async throws(RegistryRefusal) -> AgentIdentity {
        let claims: AgentClaims = try await verify(token, what: "agent token")
        try check(expiry: claims.exp, issuer: claims.iss, what: "agent token", now: now)
        guard !claims.agent_id.isEmpty else { throw RegistryRefusal(.invalidToken, "agent token has no agent id") }
        if let name = claims.name, !Self.isDisplayName(name) {
            throw RegistryRefusal(.invalidToken, "the agent token's name must be 1 to \(Self.nameLimit) characters, without control characters")
        }
        return AgentIdentity(id: claims.agent_id, role: claims.role, name: claims.name)
    }

    /// The longest name a customer's bar shows.
    public static let nameLimit = 80

    /// A name fit for the customer's bar: not blank, not too long, nothing that is not text.
    static func isDisplayName(_ name: String) -> Bool {
        !name.trimmingCharacters(in: .whitespaces).isEmpty && name.count <= nameLimit
            && !name.unicodeScalars.contains { $0.properties.generalCategory == .control || $0.properties.generalCategory == .format }
    }

    private func verify<Claims: JWTPayload>(_ token: String, what: String) async throws(RegistryRefusal) -> Claims {
        guard Self.headerAlgorithm(of: token) == algorithm else {
            throw RegistryRefusal(.invalidToken, "the \(what) is not valid: it must be signed with \(algorithm); sign in again")
        }
        do {
            return try await keys.verify(token, as: Claims.self)
        } catch {
            // Signature, shape or algorithm: one answer, so callers learn nothing about the key.
            throw RegistryRefusal(.invalidToken, "the \(what) is not valid; sign in again")
        }
    }

    /// The `alg` of a compact JWT's header, or nil when it has none or is not a JWT.
    static func headerAlgorithm(of token: String) -> String? {
        guard let header = token.split(separator: ".", omittingEmptySubsequences: false).first else { return nil }
        var base64 = header.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        struct Header: Decodable { let alg: String? }
        guard let data = Data(base64Encoded: base64) else { return nil }
        return (try? JSONDecoder().decode(Header.self, from: data))?.alg
    }

    private func check(expiry: ExpirationClaim, issuer claimed: IssuerClaim?, what: String, now: Date) throws(RegistryRefusal) {
        guard expiry.value > now else { throw RegistryRefusal(.expiredToken, "the \(what) has expired; sign in again") }
        if let issuer, claimed?.value != issuer {
            throw RegistryRefusal(.invalidToken, "the \(what) is not from the expected issuer")
        }
    }
}
