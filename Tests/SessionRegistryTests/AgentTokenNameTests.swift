import CobrowseProtocol
import CobrowseTokens
import Foundation
@testable import SessionRegistry
import Testing

/// An agent token may carry the name the customer's bar shows; one no bar should show is refused.
@Suite struct AgentTokenNameTests {
    static let secret = "agent-token-name-tests-contact-center-secret-32+"

    func identity(name: String?) async throws -> AgentIdentity {
        let (verifier, token) = try await verifierAndToken(name: name)
        return try await verifier.agent(token)
    }

    func verifierAndToken(name: String?) async throws -> (TokenVerifier, String) {
        (try await TokenVerifier(key: .hs256(secret: Self.secret)), try await ContactCenterTokens.hs256(Self.secret).agent("agent-7", name: name))
    }

    @Test func theNameClaimBecomesTheAgentsDisplayName() async throws {
        #expect(try await identity(name: "Ada Lovelace").name == "Ada Lovelace")
        #expect(try await identity(name: "山田 花子").name == "山田 花子")
        #expect(try await identity(name: nil).name == nil)
    }

    @Test(arguments: ["", "   ", String(repeating: "x", count: TokenVerifier.nameLimit + 1), "Ada\u{7}", "Ada\nLovelace", "Ada\u{202E}ecalevoL"])
    func aNameNoBarShouldShowIsRefusedWithTheReason(name: String) async throws {
        let (verifier, token) = try await verifierAndToken(name: name)
        do throws(RegistryRefusal) {
            _ = try await verifier.agent(token)
            Issue.record("the name \(name.debugDescription) was accepted")
        } catch {
            #expect(error.code == .invalidToken)
            #expect(error.message.contains("name"), "\(error.message)")
        }
    }
}
