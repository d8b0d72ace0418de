import CobrowseProtocol
import Foundation
import JWTKit
@testable import SessionRegistry

/// Signs the contact center's tokens for tests, as the contact center would.
struct TestTokens: Sendable {
    static let secret = "test-secret-for-the-contact-center-only"
    let keys: JWTKeyCollection

    static func hs256(_ secret: String = TestTokens.secret) async -> TestTokens {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return TestTokens(keys: keys)
    }

    static func rs256(privateKeyPEM: String) async throws -> TestTokens {
        let keys = JWTKeyCollection()
        await keys.add(rsa: try Insecure.RSA.PrivateKey(pem: privateKeyPEM), digestAlgorithm: .sha256)
        return TestTokens(keys: keys)
    }

    func interaction(_ id: String = "ix-\(UUID().uuidString.prefix(8))", channel: InteractionChannel = .chat,
                     expires: Date = Date().addingTimeInterval(600)) async throws -> String {
        try await keys.sign(TokenVerifier.InteractionClaims(interaction_id: id, channel: channel,
                                                             exp: ExpirationClaim(value: expires), iss: nil))
    }

    func agent(_ id: String, role: AgentIdentity.Role = .agent, expires: Date = Date().addingTimeInterval(600)) async throws -> String {
        try await keys.sign(TokenVerifier.AgentClaims(agent_id: id, role: role, exp: ExpirationClaim(value: expires), iss: nil))
    }
}
