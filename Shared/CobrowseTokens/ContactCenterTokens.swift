import CobrowseProtocol
import Foundation
import JWTKit

/// Signs tokens as the contact center does: interaction tokens for customers, agent tokens for
/// agents and supervisors. Used by the relay's dev endpoints (`DEV_MODE=1`) and by tests; in
/// production the contact center signs them itself.
public struct ContactCenterTokens: Sendable {
    let keys: JWTKeyCollection

    public static func hs256(_ secret: String) async -> ContactCenterTokens {
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
        try await keys.sign(InteractionClaims(interactionID: id, channel: channel, expires: expires))
    }

    public func agent(_ id: String, role: AgentRole = .agent, name: String? = nil,
                      expires: Date = Date().addingTimeInterval(600)) async throws -> String {
        try await keys.sign(AgentClaims(agentID: id, role: role, name: name, expires: expires))
    }
}
