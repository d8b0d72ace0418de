import CobrowseProtocol
import CobrowseTokens
import Foundation
import JWTKit
@testable import SessionRegistry
import Testing

/// jwt-kit verifies with the configured key whatever the token's header `alg` says: the
/// registry checks the header against the configured algorithm itself.
@Suite struct TokenAlgorithmTests {
    static let secret = "token-algorithm-tests-contact-center-secret-32+"

    func signed(alg: String) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: Self.secret), digestAlgorithm: .sha256)
        var header = JWTHeader()
        header.alg = alg
        return try await keys.sign(InteractionClaims(interactionID: "ix-1", channel: .chat, expires: Date().addingTimeInterval(600)),
                                   header: header)
    }

    @Test func aTokenWhoseHeaderNamesAnotherAlgorithmIsRefused() async throws {
        let verifier = try await TokenVerifier(key: .hs256(secret: Self.secret))
        // The configured HS256 accepts its own tokens…
        _ = try await verifier.interaction(try await signed(alg: "HS256"))
        // …but not one that names HS384 (or anything else) while signed with the same key.
        for alg in ["HS384", "RS256", "none"] {
            let token = try await signed(alg: alg)
            do throws(RegistryRefusal) {
                _ = try await verifier.interaction(token)
                Issue.record("a token with alg \(alg) was accepted")
            } catch {
                #expect(error.code == .invalidToken)
                #expect(error.message.contains("HS256"), "\(error.message)")
            }
        }
    }

    @Test func anUnsignedNoneTokenIsRefused() async throws {
        let verifier = try await TokenVerifier(key: .hs256(secret: Self.secret))
        func b64(_ s: String) -> String {
            Data(s.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_")
        }
        let token = b64(#"{"alg":"none","typ":"JWT"}"#) + "." + b64(#"{"interaction_id":"ix-1","channel":"chat","exp":4102444800}"#) + "."
        await #expect(throws: RegistryRefusal.self) { _ = try await verifier.interaction(token) }
    }

    @Test func theHeaderAlgorithmIsRead() {
        #expect(TokenVerifier.headerAlgorithm(of: "eyJhbGciOiJIUzM4NCJ9.e30.x") == "HS384")
        #expect(TokenVerifier.headerAlgorithm(of: "not a token") == nil)
    }
}
