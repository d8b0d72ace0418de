import AMQP
import CobrowseBroker
import CobrowseProtocol
import CobrowseTokens
import Foundation
@testable import SessionRegistry
import TestSupport
import Testing

/// Registry requests sealed to the registry process's key: no credential rests in clear in the RPC
/// queue (a quorum queue, on the broker's disk), and what was sealed opens only in that process.
@Suite struct SealedRequestTests {
    @Test func aSealedRequestOpensWithItsKeyAloneAndNotWhenTamperedWith() throws {
        let opener = RequestOpener(), other = RequestOpener()
        let body = Data(#"{"version":1,"command":"join","sessionID":"123456789","agentToken":"eyJ.secret.token"}"#.utf8)
        let sealed = try RequestSealing.seal(body, to: opener.publicKey)
        #expect(sealed.range(of: Data("secret".utf8)) == nil && RequestSealing.isSealed(sealed))
        #expect(try opener.open(sealed) == body)
        #expect(throws: RequestSealing.OpenFailure.unknownKey) { try other.open(sealed) }
        // The other key under this one's id: the box does not open.
        let forged = try RequestSealing.seal(body, to: SealingKey(id: opener.publicKey.id, publicKey: other.publicKey.publicKey))
        #expect(throws: RequestSealing.OpenFailure.broken) { try opener.open(forged) }
        var tampered = sealed
        tampered[tampered.count / 2] ^= 0x01
        #expect(throws: RequestSealing.OpenFailure.self) { try opener.open(tampered) }
        #expect(!RequestSealing.isSealed(body))
    }

    @Test func theRegistryRefusesACredentialInClearAndAnswersOnceSealed() async throws {
        let registry = try await RegistryFixture("sealed-clear", store: .sqlite)
        defer { Task { await registry.stop() } }
        try await registry.start()
        let token = try await registry.tokens.interaction("ix-clear")
        let clear = try JSONEncoder.cobrowse.encode(RegistryRequest(.create(interactionToken: token)))
        #expect(try await registry.client.sendRaw(clear).refusal?.code == .credentialsInClear)
        // Nothing with a credential is refused for being plain: a get, the key itself.
        #expect(try await registry.client.sendRaw(try JSONEncoder.cobrowse.encode(RegistryRequest(.sealingKey))).sealingKey != nil)
        #expect(try await registry.send(.create(interactionToken: token)).session != nil, "the client seals")
    }

    @Test func aRestartedRegistryHasANewKeyAndTheClientSealsToItWithoutAFailure() async throws {
        let registry = try await RegistryFixture("sealed-restart", store: .sqlite)
        defer { Task { await registry.stop() } }
        let first = try await registry.start()
        let before = try await registry.client.send(.sealingKey).sealingKey
        _ = try await registry.session(.create(interactionToken: registry.tokens.interaction("ix-before")))
        _ = await first.terminate()
        try await registry.start()
        // The client still holds the first process's key: refused, asked again, sealed anew.
        let after = try await registry.session(.create(interactionToken: registry.tokens.interaction("ix-after")))
        #expect(after.interactionID == "ix-after")
        #expect(try await registry.client.send(.sealingKey).sealingKey != before)
    }

    @Test func whatWaitsInTheQueueHoldsNoCredential() async throws {
        let registry = try await RegistryFixture("sealed-queue", store: .sqlite)
        defer { Task { await registry.stop() } }
        let process = try await registry.start()
        let client = RegistryClient(connection: registry.connection, timeout: .seconds(2))
        _ = try await client.send(.listLive) // learns the key
        _ = await process.terminate()
        // With no registry the request waits in the queue (its caller gives up after 2 s).
        let token = try await registry.tokens.agent("agent-with-a-secret-token")
        _ = try? await client.send(.join(session: SessionID("123456789")!, agentToken: token))
        let waiting = try await registry.connection.consume(queue: CobrowseTopology.registryRPCQueue, prefetch: 1)
        let body = try #require(try await waiting.take(1).first).body
        #expect(RequestSealing.isSealed(body))
        #expect(body.range(of: Data(token.utf8)) == nil && body.range(of: Data("agent-with-a-secret".utf8)) == nil)
    }
}
