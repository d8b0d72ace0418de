import CobrowseProtocol
import CobrowseTokens
import Foundation
import Logging
@testable import SessionRegistry
import Synchronization
import TestSupport
import Testing

/// The time the handler sees; tests move it.
final class TestClock: Sendable {
    let date: Mutex<Date>
    init(_ start: Date) { date = Mutex(start) }
    var now: Date { date.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { date.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// A registry handler over a real store (a fresh database of each kind), a real token verifier
/// and a clock the test moves.
final class HandlerHarness: Sendable {
    static let secret = "handler-tests-contact-center-secret"
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    let database: TestDatabase
    let opened: TestStore
    let handler: RegistryHandler
    let tokens: ContactCenterTokens
    let clock: TestClock

    init(_ kind: StoreKind, rules: SessionRules = SessionRules()) async throws {
        database = try await TestDatabase.make(kind)
        opened = try await database.open(instanceID: "handler-tests")
        tokens = await ContactCenterTokens.hs256(Self.secret)
        let verifier = try await TokenVerifier(key: .hs256(secret: Self.secret))
        let clock = TestClock(Self.t0)
        self.clock = clock
        handler = RegistryHandler(store: opened.store, verifier: verifier, rules: rules, logger: Logger(label: "registry-handler-tests"),
                                  now: { clock.now })
    }

    deinit {
        // The store's pool stops with `opened`; the database goes after it.
        Task { [database] in await database.remove() }
    }

    var store: any SessionStoring { opened.store }

    /// Publishes (here: collects) and removes every event in the outbox, oldest first.
    func drainedEvents() async throws -> [OutboxEntry] {
        let collected = Mutex<[OutboxEntry]>([])
        while try await store.drainOutbox(limit: 100, orphanAge: .seconds(60), now: now, publish: { entry in
            collected.withLock { $0.append(entry) }
        }) > 0 {}
        return collected.withLock { $0 }
    }

    var now: Date { clock.now }
    func advance(_ seconds: TimeInterval) { clock.advance(seconds) }

    func agentToken(_ id: String, role: AgentIdentity.Role = .agent, expires: Date? = nil) async throws -> String {
        try await tokens.agent(id, role: role, expires: expires ?? now.addingTimeInterval(600))
    }

    func interactionToken(_ id: String = "ix-1", channel: InteractionChannel = .chat, expires: Date? = nil) async throws -> String {
        try await tokens.interaction(id, channel: channel, expires: expires ?? now.addingTimeInterval(600))
    }

    func send(_ command: RegistryCommand) async throws -> RegistryReply {
        await handler.reply(to: try JSONEncoder.cobrowse.encode(RegistryRequest(command)))
    }

    func send(json: String) async -> RegistryReply {
        await handler.reply(to: Data(json.utf8))
    }

    /// Creates a session and returns it with the customer's key.
    func create(interaction: String = "ix-1", channel: InteractionChannel = .chat) async throws -> (session: SessionView, key: String) {
        let reply = try await send(.create(interactionToken: try await interactionToken(interaction, channel: channel)))
        let session = try reply.get()
        return (session, try #require(reply.customerKey))
    }

    func join(_ id: SessionID, agent: String, role: AgentIdentity.Role = .agent) async throws -> RegistryReply {
        try await send(.join(session: id, agentToken: try await agentToken(agent, role: role)))
    }

    /// A session led by `agent`.
    func active(agent: String = "agent-1", interaction: String = "ix-1") async throws -> (session: SessionView, key: String) {
        let (session, key) = try await create(interaction: interaction)
        return (try await join(session.id, agent: agent).get(), key)
    }
}

@Suite struct RegistryHandlerTests {
    // MARK: Create and join

    @Test(arguments: StoreKind.allCases)
    func createReturnsAnIdleSessionWithACustomerKey(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let reply = try await h.send(.create(interactionToken: try await h.interactionToken("ix-42", channel: .voice)))
        #expect(reply.refusal == nil)
        #expect(reply.version == RegistryProtocol.version)
        let session = try #require(reply.session)
        #expect(session.state == .idle)
        #expect(session.mode == .pointer)
        #expect(session.interactionID == "ix-42")
        #expect(session.channel == .voice)
        #expect(session.leadAgentID == nil)
        #expect(session.createdAt == HandlerHarness.t0)

        let key = try #require(reply.customerKey)
        #expect(key.count == 43) // 256 bits, base64url without padding
        #expect(key.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })

        // Stored as it was returned, with only a hash of the key.
        let stored = try #require(try await h.store.session(session.id))
        #expect(stored.view == session)
        #expect(stored.customerKeyHash != key)
        #expect(stored.customerKeyHash.count == 64)
    }

    @Test(arguments: StoreKind.allCases)
    func theCustomerKeyFromCreateProvesTheCustomer(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (session, key) = try await h.create()
        let reply = try await h.send(.end(session: session.id, by: .customer(key: key)))
        #expect(reply.refusal == nil)
        #expect(reply.session?.state == .ended)
        #expect(reply.customerKey == nil) // handed out by create only
    }

    @Test(arguments: StoreKind.allCases)
    func everyCreateHasItsOwnIDAndKey(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let first = try await h.create()
        let second = try await h.create()
        #expect(first.session.id != second.session.id)
        #expect(first.key != second.key)
    }

    @Test(arguments: StoreKind.allCases)
    func joinWithAnAgentTokenActivatesTheSession(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (session, _) = try await h.create()
        h.advance(5)
        let reply = try await h.join(session.id, agent: "agent-1")
        #expect(reply.refusal == nil)
        let joined = try #require(reply.session)
        #expect(joined.state == .active)
        #expect(joined.leadAgentID == "agent-1")
        #expect(joined.joinedAt == HandlerHarness.t0.addingTimeInterval(5))
        #expect(try await h.store.session(session.id)?.view == joined)
    }

    @Test(arguments: StoreKind.allCases)
    func getReturnsTheStoredSession(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (session, _) = try await h.active()
        let reply = try await h.send(.get(session: session.id))
        #expect(try reply.get() == session)
    }

    // MARK: Malformed requests

    @Test(arguments: StoreKind.allCases)
    func garbageBytesAreRefusedAsMalformed(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let reply = await h.handler.reply(to: Data([0xFF, 0x00, 0x13, 0x37, 0x7B]))
        let refusal = try #require(reply.refusal)
        #expect(refusal.code == .malformedRequest)
        #expect(refusal.message.hasPrefix("not a registry request: "))
        #expect(refusal.message.localizedCaseInsensitiveContains("JSON"))
        #expect(reply.session == nil)
    }

    @Test(arguments: StoreKind.allCases)
    func anEmptyObjectIsRefusedNamingTheMissingVersion(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let refusal = try #require(await h.send(json: "{}").refusal)
        #expect(refusal.code == .malformedRequest)
        #expect(refusal.message == "not a registry request: missing field 'version'")
    }

    @Test(arguments: StoreKind.allCases)
    func aMissingFieldIsRefusedNamingIt(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let refusal = try #require(await h.send(json: #"{"version":1,"command":"join","sessionID":"123456789"}"#).refusal)
        #expect(refusal.code == .malformedRequest)
        #expect(refusal.message == "not a registry request: missing field 'agentToken'")
    }

    @Test(arguments: StoreKind.allCases)
    func aBadSessionIDIsRefusedNamingTheField(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let refusal = try #require(await h.send(json: #"{"version":1,"command":"get","sessionID":"12345"}"#).refusal)
        #expect(refusal.code == .malformedRequest)
        #expect(refusal.message == "not a registry request: field 'sessionID': '12345' is not a session id (nine digits)")
    }

    @Test(arguments: StoreKind.allCases)
    func anUnknownCommandIsRefusedNamingIt(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let refusal = try #require(await h.send(json: #"{"version":1,"command":"teleport"}"#).refusal)
        #expect(refusal.code == .malformedRequest)
        #expect(refusal.message.contains("unknown command 'teleport'"))
    }

    @Test(arguments: StoreKind.allCases)
    func aBodyOverTheLimitIsRefusedUnread(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let request = try JSONEncoder.cobrowse.encode(RegistryRequest(.create(interactionToken: try await h.interactionToken())))
        // A valid request padded past the limit: refused for its size alone.
        let body = request + Data(repeating: 0x20, count: RegistryHandler.maxRequestBytes + 1 - request.count)
        #expect(body.count == RegistryHandler.maxRequestBytes + 1)
        let refusal = try #require(await h.handler.reply(to: body).refusal)
        #expect(refusal.code == .malformedRequest)
        #expect(refusal.message.contains("\(RegistryHandler.maxRequestBytes)-byte limit"))
        #expect(try await h.store.outboxCount() == 0)
    }

    @Test(arguments: StoreKind.allCases)
    func aBodyOfExactlyTheLimitIsRead(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let request = try JSONEncoder.cobrowse.encode(RegistryRequest(.create(interactionToken: try await h.interactionToken())))
        let body = request + Data(repeating: 0x20, count: RegistryHandler.maxRequestBytes - request.count)
        let reply = await h.handler.reply(to: body)
        #expect(reply.refusal == nil)
        #expect(reply.session?.state == .idle)
    }

    @Test(arguments: StoreKind.allCases)
    func aNewerVersionIsRefusedUnsupportedVersion(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let token = try await h.interactionToken()
        let refusal = try #require(await h.send(json: #"{"version":99,"command":"create","interactionToken":"\#(token)"}"#).refusal)
        #expect(refusal.code == .unsupportedVersion)
        #expect(refusal.message.contains("99"))
        #expect(try await h.store.outboxCount() == 0)
    }

    // MARK: Tokens

    @Test(arguments: StoreKind.allCases)
    func anExpiredAgentTokenIsRefused(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (session, _) = try await h.create()
        for expires in [h.now.addingTimeInterval(-1), h.now] {
            let token = try await h.agentToken("agent-1", expires: expires)
            let refusal = try #require(try await h.send(.join(session: session.id, agentToken: token)).refusal)
            #expect(refusal.code == .expiredToken)
        }
        #expect(try await h.store.session(session.id)?.view.state == .idle)
    }

    @Test(arguments: StoreKind.allCases)
    func anExpiredInteractionTokenIsRefused(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let token = try await h.interactionToken(expires: h.now.addingTimeInterval(-60))
        let refusal = try #require(try await h.send(.create(interactionToken: token)).refusal)
        #expect(refusal.code == .expiredToken)
        #expect(try await h.store.outboxCount() == 0)
    }

    @Test(arguments: StoreKind.allCases)
    func aTokenSignedWithAnotherSecretIsInvalid(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (session, _) = try await h.create()
        let forger = await ContactCenterTokens.hs256("another-secret-that-is-also-32-bytes-long")
        let forged = try await forger.agent("agent-1", expires: h.now.addingTimeInterval(600))
        let refusal = try #require(try await h.send(.join(session: session.id, agentToken: forged)).refusal)
        #expect(refusal.code == .invalidToken)

        let forgedInteraction = try await forger.interaction("ix-1", expires: h.now.addingTimeInterval(600))
        #expect(try await h.send(.create(interactionToken: forgedInteraction)).refusal?.code == .invalidToken)
        #expect(try await h.store.session(session.id)?.view.state == .idle)
    }

    @Test(arguments: StoreKind.allCases)
    func anAgentTokenIsNotAnInteractionToken(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let refusal = try #require(try await h.send(.create(interactionToken: try await h.agentToken("agent-1"))).refusal)
        #expect(refusal.code == .invalidToken)
        #expect(try await h.store.outboxCount() == 0)
    }

    @Test(arguments: StoreKind.allCases)
    func anInteractionTokenIsNotAnAgentToken(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (session, _) = try await h.create()
        let refusal = try #require(try await h.send(.join(session: session.id, agentToken: try await h.interactionToken())).refusal)
        #expect(refusal.code == .invalidToken)
    }

    @Test(arguments: StoreKind.allCases)
    func aTokenThatIsNotAJWTIsInvalid(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        #expect(try await h.send(.create(interactionToken: "not.a.jwt")).refusal?.code == .invalidToken)
        #expect(try await h.send(.create(interactionToken: "")).refusal?.code == .invalidToken)
    }

}
