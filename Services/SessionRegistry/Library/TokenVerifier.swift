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
        return AgentIdentity(id: claims.agent_id, role: claims.role)
    }

    private func verify<Claims: JWTPayload>(_ token: String, what: String) async throws(RegistryRefusal) -> Claims {
        do {
            return try await keys.verify(token, as: Claims.self)
        } catch {
            // Signature, shape or algorithm: one answer, so callers learn nothing about the key.
            throw RegistryRefusal(.invalidToken, "the \(what) is not valid; sign in again")
        }
    }

    private func check(expiry: ExpirationClaim, issuer claimed: IssuerClaim?, what: String, now: Date) throws(RegistryRefusal) {
        guard expiry.value > now else { throw RegistryRefusal(.expiredToken, "the \(what) has expired; sign in again") }
        if let issuer, claimed?.value != issuer {
            throw RegistryRefusal(.invalidToken, "the \(what) is not from the expected issuer")
        }
    }
}
