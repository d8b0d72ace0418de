import CobrowseProtocol
import Foundation
import JWTKit

/// The claims of an interaction token: the contact center vouches that a customer is inside a
/// live interaction. Expiry and issuer are checked by the verifier, not here.
public struct InteractionClaims: JWTPayload, Equatable {
    public var interaction_id: String
    public var channel: InteractionChannel
    public var exp: ExpirationClaim
    public var iss: IssuerClaim?

    public init(interactionID: String, channel: InteractionChannel, expires: Date, issuer: String? = nil) {
        interaction_id = interactionID
        self.channel = channel
        exp = ExpirationClaim(value: expires)
        iss = issuer.map { IssuerClaim(value: $0) }
    }

    public func verify(using algorithm: some JWTAlgorithm) throws {}
}

/// The claims of an agent token: who the agent is and in which role, and optionally the name
/// the customer's bar shows (OpenID Connect's `name` claim).
public struct AgentClaims: JWTPayload, Equatable {
    public var agent_id: String
    public var role: AgentRole
    public var name: String?
    public var exp: ExpirationClaim
    public var iss: IssuerClaim?

    public init(agentID: String, role: AgentRole, name: String? = nil, expires: Date, issuer: String? = nil) {
        agent_id = agentID
        self.role = role
        self.name = name
        exp = ExpirationClaim(value: expires)
        iss = issuer.map { IssuerClaim(value: $0) }
    }

    public func verify(using algorithm: some JWTAlgorithm) throws {}
}
