import CobrowseProtocol
import Foundation
import JWTKit

/// Signs the contact center's tokens for tests, as the contact center would: interaction
/// tokens for customers, agent tokens for agents and supervisors.
public struct ContactCenterTokens: Sendable {
    public enum Role: String, Codable, Sendable { case agent, supervisor }

    /// The HS256 secret test registries are configured with.
    public static let secret = "test-secret-for-the-contact-center-only"
    let keys: JWTKeyCollection

    struct InteractionClaims: JWTPayload {
        var interaction_id: String
        var channel: InteractionChannel
        var exp: ExpirationClaim
        func verify(using algorithm: some JWTAlgorithm) throws {}
    }

    struct AgentClaims: JWTPayload {
        var agent_id: String
        var role: Role
        var exp: ExpirationClaim
        func verify(using algorithm: some JWTAlgorithm) throws {}
    }

    public static func hs256(_ secret: String = ContactCenterTokens.secret) async -> ContactCenterTokens {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return ContactCenterTokens(keys: keys)
    }

    public static func rs256(privateKeyPEM: String) async throws -> ContactCenterTokens {
        let keys = JWTKeyCollection()
        await keys.add(rsa: try Insecure.RSA.PrivateKey(pem: privateKeyPEM), digestAlgorithm: .sha256)
        return ContactCenterTokens(keys: keys)
    }

    public func interaction(_ id: String = "ix-\(UUID().uuidString.prefix(8))", channel: InteractionChannel = .chat,
                            expires: Date = Date().addingTimeInterval(600)) async throws -> String {
        try await keys.sign(InteractionClaims(interaction_id: id, channel: channel, exp: ExpirationClaim(value: expires)))
    }

    public func agent(_ id: String, role: Role = .agent, expires: Date = Date().addingTimeInterval(600)) async throws -> String {
        try await keys.sign(AgentClaims(agent_id: id, role: role, exp: ExpirationClaim(value: expires)))
    }
}
