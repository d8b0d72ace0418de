import CobrowseProtocol
import CobrowseTokens
import Foundation
import Logging
@testable import SessionRegistry
import Synchronization
import TestSupport
import Testing

/// The time the handler sees; tests move it.
private final class TestClock: Sendable {
    private let date: Mutex<Date>
    init(_ start: Date) { date = Mutex(start) }
    var now: Date { date.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { date.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// A registry handler over a real store (a fresh database of each kind), a real token verifier
/// and a clock the test moves.
private final class HandlerHarness: Sendable {
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
    // MARK: Voice codes

    @Test(arguments: StoreKind.allCases)
    func aVoiceCodeStartsASessionInTheCallThatItsAgentAloneLeads(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let ana = try await h.agentToken("ana")
        let chat = try await h.send(.issueVoiceCode(agentToken: ana, interactionToken: try await h.interactionToken("chat-1", channel: .chat)))
        #expect(chat.refusal?.code == .notVoice)
        let observer = try await h.send(.issueVoiceCode(agentToken: try await h.agentToken("sue", role: .supervisor),
                                                        interactionToken: try await h.interactionToken("call-1", channel: .voice)))
        #expect(observer.refusal?.code == .notAllowed)
        let issued = try #require(try await h.send(.issueVoiceCode(agentToken: ana,
            interactionToken: try await h.interactionToken("call-1", channel: .voice))).voiceCode)
        #expect(issued.interactionID == "call-1" && issued.sessionID == nil)

        let wrong = try await h.send(.startWithVoiceCode(code: issued.code == "999999" ? "999998" : "999999"))
        #expect(wrong.refusal?.code == .codeUnknown)
        let started = try await h.send(.startWithVoiceCode(code: issued.code))
        let session = try started.get()
        #expect(session.interactionID == "call-1" && session.channel == .voice)
        #expect(started.customerKey != nil)
        #expect(try await h.send(.startWithVoiceCode(code: issued.code)).refusal?.code == .codeUsed)
        #expect(try await h.send(.voiceCodeStatus(code: issued.code, agentToken: ana)).voiceCode?.sessionID == session.id)
        #expect(try await h.send(.voiceCodeStatus(code: issued.code, agentToken: try await h.agentToken("bob"))).refusal?.code == .codeUnknown)

        #expect(try await h.join(session.id, agent: "bob").refusal?.code == .notAllowed, "another agent may not take the call's session")
        #expect(try await h.join(session.id, agent: "ana").session?.leadAgentID == "ana")
        #expect(try await h.join(session.id, agent: "sue", role: .supervisor).session?.observers == ["sue"])
    }

    @Test(arguments: StoreKind.allCases)
    func aVoiceCodeOfACallThatEndedStartsNothing(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let issued = try #require(try await h.send(.issueVoiceCode(agentToken: try await h.agentToken("ana"),
            interactionToken: try await h.interactionToken("call-2", channel: .voice))).voiceCode)
        _ = try await h.send(.endInteraction(interactionID: "call-2", reason: .interactionEnded, occurredAt: h.now, system: "interaction-watch"))
        #expect(try await h.send(.startWithVoiceCode(code: issued.code)).refusal?.code == .interactionEnded)
    }

    // MARK: Masking record

    @Test(arguments: StoreKind.allCases)
    func maskingRecordIncrementsAddUpInTheSessionsHistoryEvenAfterItEnded(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (session, key) = try await h.create()
        #expect(session.masking == nil, "no record before the filter reports")
        var first = MaskingRecord()
        first.rulesHashes = ["aaa"]
        first.maskedElements = 3
        first.maskedValues = 2
        first.detectorHits = ["card": 1]
        first.droppedActions = [.init(at: HandlerHarness.t0, action: "click", reason: "pointer-mode")]
        first.droppedActionsTotal = 1
        let afterFirst = try await h.send(.recordMasking(session: session.id, record: first))
        #expect(afterFirst.refusal == nil)
        #expect(afterFirst.session?.masking == first)
        var second = MaskingRecord()
        second.rulesHashes = ["aaa", "bbb"]
        second.maskedElements = 1
        second.detectorHits = ["card": 2, "email": 1]
        second.droppedActions = [.init(at: HandlerHarness.t0.addingTimeInterval(5), action: "type", reason: "masked-field")]
        second.droppedActionsTotal = 4
        _ = try await h.send(.end(session: session.id, by: .customer(key: key)))
        _ = try await h.send(.recordMasking(session: session.id, record: second))
        let stored = try #require(try await h.send(.get(session: session.id)).session?.masking)
        #expect(stored.rulesHashes == ["aaa", "bbb"], "a hash is named again only when the rules changed")
        #expect(stored.maskedElements == 4)
        #expect(stored.maskedValues == 2)
        #expect(stored.detectorHits == ["card": 3, "email": 1])
        #expect(stored.droppedActions.map(\.reason) == ["pointer-mode", "masked-field"])
        #expect(stored.droppedActionsTotal == 5)
        // No lifecycle event: nothing about the session's state changed.
        let events = try await h.drainedEvents().map(\.routingKey)
        #expect(events.count == 2, "created and ended only: \(events)")
    }

    @Test(arguments: StoreKind.allCases)
    func aMaskingRecordForAnUnknownSessionOrWithNegativeCountsIsRefusedAndChangesNothing(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let unknown = try await h.send(.recordMasking(session: SessionID("123456789")!, record: MaskingRecord()))
        #expect(unknown.refusal?.code == .unknownSession)
        let (session, _) = try await h.create()
        var negative = MaskingRecord()
        negative.maskedElements = -1
        let refused = try await h.send(.recordMasking(session: session.id, record: negative))
        #expect(refused.refusal?.code == .malformedRequest)
        #expect(try await h.send(.get(session: session.id)).session?.masking == nil)
        let malformed = await h.send(json: #"{"version":1,"command":"recordMasking","sessionID":"\#(session.id.digits)","masking":{"maskedElements":"many"}}"#)
        #expect(malformed.refusal?.code == .malformedRequest)
    }

    @Test func droppedActionsAreKeptUpToTheirBoundAndCountedBeyondIt() {
        var record = MaskingRecord()
        var delta = MaskingRecord()
        delta.droppedActions = Array(repeating: .init(at: Date(timeIntervalSince1970: 0), action: "click", reason: "pointer-mode"),
                                     count: 150)
        delta.droppedActionsTotal = 150
        record.add(delta)
        record.add(delta)
        #expect(record.droppedActions.count == MaskingRecord.droppedActionsKept)
        #expect(record.droppedActionsTotal == 300)
    }

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

    // MARK: Sessions and parties

    @Test(arguments: StoreKind.allCases)
    func anUnknownSessionIsRefused(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let missing = SessionID("987654321")!
        for command in [RegistryCommand.get(session: missing),
                        .join(session: missing, agentToken: try await h.agentToken("agent-1")),
                        .end(session: missing, by: .administrator)] {
            let refusal = try #require(try await h.send(command).refusal, "\(command.name)")
            #expect(refusal.code == .unknownSession, "\(command.name)")
            #expect(refusal.message.contains("987654321"))
        }
        #expect(try await h.store.outboxCount() == 0)
    }

    enum CustomerCommand: String, CaseIterable, Sendable {
        case approve, deny, revokeWrite, end

        func command(_ id: SessionID, key: String) -> RegistryCommand {
            switch self {
            case .approve: .answerWrite(session: id, customerKey: key, approve: true)
            case .deny: .answerWrite(session: id, customerKey: key, approve: false)
            case .revokeWrite: .revokeWrite(session: id, customerKey: key)
            case .end: .end(session: id, by: .customer(key: key))
            }
        }
    }

    @Test(arguments: StoreKind.allCases, CustomerCommand.allCases)
    func aWrongCustomerKeyIsNotAllowed(_ store: StoreKind, _ kind: CustomerCommand) async throws {
        let h = try await HandlerHarness(store)
        let (session, key) = try await h.active()
        let pending = try await h.send(.requestWrite(session: session.id, agentToken: try await h.agentToken("agent-1"))).get()
        let events = try await h.store.outboxCount()

        // Another session's genuine key is just as wrong.
        let (_, otherKey) = try await h.create(interaction: "ix-2")
        for wrong in ["", "guess", otherKey, key + "x"] {
            let refusal = try #require(try await h.send(kind.command(session.id, key: wrong)).refusal)
            #expect(refusal.code == .notAllowed)
        }
        #expect(try await h.store.session(session.id)?.view == pending)
        #expect(try await h.store.outboxCount() == events + 1) // only the second create

        // The right key still works afterwards.
        #expect(try await h.send(kind.command(session.id, key: key)).refusal == nil)
    }

    @Test(arguments: StoreKind.allCases)
    func anAgentWhoIsNotTheLeadCannotEnd(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (session, _) = try await h.active(agent: "agent-1")
        _ = try await h.join(session.id, agent: "sup-1", role: .supervisor).get()

        let other = try await h.send(.end(session: session.id, by: .agent(token: try await h.agentToken("agent-2"))))
        #expect(other.refusal?.code == .notAllowed)
        let supervisor = try await h.send(.end(session: session.id, by: .agent(token: try await h.agentToken("sup-1", role: .supervisor))))
        #expect(supervisor.refusal?.code == .notAllowed)
        #expect(try await h.store.session(session.id)?.view.state == .active)

        let lead = try await h.send(.end(session: session.id, by: .agent(token: try await h.agentToken("agent-1")))).get()
        #expect(lead.state == .ended)
        #expect(lead.endReason == .agentExited)
        #expect(lead.endedBy == .agent("agent-1"))
    }

    @Test(arguments: StoreKind.allCases)
    func noAgentCanEndASessionNobodyHasJoined(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (session, _) = try await h.create()
        let reply = try await h.send(.end(session: session.id, by: .agent(token: try await h.agentToken("agent-1"))))
        #expect(reply.refusal?.code == .notAllowed)
    }

    @Test(arguments: StoreKind.allCases)
    func endingTwiceIsRefusedSessionEnded(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (session, key) = try await h.active()
        h.advance(30)
        let ended = try await h.send(.end(session: session.id, by: .customer(key: key))).get()
        #expect(ended.state == .ended)
        #expect(ended.endReason == .customerExited)
        #expect(ended.endedBy == .customer)
        #expect(ended.endedAt == HandlerHarness.t0.addingTimeInterval(30))

        let events = try await h.store.outboxCount()
        for again in [RegistryCommand.end(session: session.id, by: .customer(key: key)),
                      .end(session: session.id, by: .agent(token: try await h.agentToken("agent-1"))),
                      .end(session: session.id, by: .administrator)] {
            let refusal = try #require(try await h.send(again).refusal)
            #expect(refusal == .sessionEnded)
        }
        #expect(try await h.store.outboxCount() == events)
        #expect(try await h.store.session(session.id)?.view == ended)
    }

    @Test(arguments: StoreKind.allCases)
    func systemAndAdministratorEndsRecordWhoAndWhy(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (first, _) = try await h.active(agent: "agent-1")
        let bySystem = try await h.send(.end(session: first.id, by: .system(name: "interaction-watch", reason: .interactionTransferred))).get()
        #expect(bySystem.endReason == .interactionTransferred)
        #expect(bySystem.endedBy == .system("interaction-watch"))

        let (second, _) = try await h.create()
        let byAdministrator = try await h.send(.end(session: second.id, by: .administrator)).get()
        #expect(byAdministrator.endReason == .administrator)
        #expect(byAdministrator.endedBy == .administrator)
    }

    @Test(arguments: StoreKind.allCases)
    func anEndedSessionCannotBeJoined(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (session, key) = try await h.create()
        _ = try await h.send(.end(session: session.id, by: .customer(key: key))).get()
        let refusal = try #require(try await h.join(session.id, agent: "agent-1").refusal)
        #expect(refusal.code == .sessionEnded)
        #expect(refusal.message == "session ended; start a new one")
    }

    @Test(arguments: StoreKind.allCases)
    func aSecondAgentIsRefusedSessionTaken(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (session, _) = try await h.active(agent: "agent-1")
        #expect(try await h.join(session.id, agent: "agent-2").refusal?.code == .sessionTaken)
        #expect(try await h.store.session(session.id)?.view.leadAgentID == "agent-1")
    }

    @Test(arguments: StoreKind.allCases)
    func aSupervisorWatchesOnlyAnActiveSession(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (session, _) = try await h.create()
        #expect(try await h.join(session.id, agent: "sup-1", role: .supervisor).refusal?.code == .notActive)
        _ = try await h.join(session.id, agent: "agent-1").get()
        let watched = try await h.join(session.id, agent: "sup-1", role: .supervisor).get()
        #expect(watched.observers == ["sup-1"])
        #expect(watched.leadAgentID == "agent-1")
    }

    @Test(arguments: StoreKind.allCases)
    func oneAgentCannotLeadTwoLiveSessionsUntilTheFirstEnds(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (first, firstKey) = try await h.active(agent: "agent-1", interaction: "ix-1")
        let (second, _) = try await h.create(interaction: "ix-2")

        let busy = try #require(try await h.join(second.id, agent: "agent-1").refusal)
        #expect(busy.code == .agentBusy)
        #expect(try await h.store.session(second.id)?.view.state == .idle)

        // Rejoining the session it already leads is fine.
        #expect(try await h.join(first.id, agent: "agent-1").refusal == nil)

        _ = try await h.send(.end(session: first.id, by: .customer(key: firstKey))).get()
        let joined = try await h.join(second.id, agent: "agent-1").get()
        #expect(joined.state == .active)
        #expect(joined.leadAgentID == "agent-1")
    }

    @Test(arguments: StoreKind.allCases)
    func aSupervisorMayWatchSeveralSessions(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (first, _) = try await h.active(agent: "agent-1", interaction: "ix-1")
        let (second, _) = try await h.active(agent: "agent-2", interaction: "ix-2")
        #expect(try await h.join(first.id, agent: "sup-1", role: .supervisor).refusal == nil)
        #expect(try await h.join(second.id, agent: "sup-1", role: .supervisor).refusal == nil)
    }

    // MARK: Write mode

    @Test(arguments: StoreKind.allCases)
    func writeModeNeedsTheCustomersApproval(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (session, key) = try await h.active()
        let token = try await h.agentToken("agent-1")
        h.advance(10)
        let requested = try await h.send(.requestWrite(session: session.id, agentToken: token)).get()
        #expect(requested.mode == .pointer)
        #expect(requested.writeRequestPendingUntil == HandlerHarness.t0.addingTimeInterval(40))

        let approved = try await h.send(.answerWrite(session: session.id, customerKey: key, approve: true)).get()
        #expect(approved.mode == .write)
        #expect(approved.writeRequestPendingUntil == nil)
        #expect(approved.modeChanges.map(\.kind) == [.requested, .approved])
        #expect(approved.modeChanges.map(\.by) == [.agent("agent-1"), .customer])

        let revoked = try await h.send(.revokeWrite(session: session.id, customerKey: key)).get()
        #expect(revoked.mode == .pointer)
        #expect(try await h.store.session(session.id)?.view == revoked)
    }

    @Test(arguments: StoreKind.allCases)
    func disabledWriteModeIsRefusedThroughTheHandler(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind, rules: SessionRules(writeModeEnabled: false))
        let (session, _) = try await h.active()
        let refusal = try #require(try await h.send(.requestWrite(session: session.id, agentToken: try await h.agentToken("agent-1"))).refusal)
        #expect(refusal.code == .writeModeDisabled)
    }

    @Test(arguments: StoreKind.allCases)
    func aPendingWriteRequestExpiresOnlyAfterItsDeadline(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let rules = SessionRules()
        let (session, key) = try await h.active()
        let requested = try await h.send(.requestWrite(session: session.id, agentToken: try await h.agentToken("agent-1"))).get()
        let deadline = try #require(requested.writeRequestPendingUntil)
        #expect(deadline == HandlerHarness.t0.addingTimeInterval(30))
        let events = try await h.store.outboxCount()

        #expect(try await h.store.expireWriteRequests(rules: rules, now: deadline.addingTimeInterval(-1)) == 0)
        #expect(try await h.store.expireWriteRequests(rules: rules, now: deadline.addingTimeInterval(-0.01)) == 0)
        #expect(try await h.store.session(session.id)?.view.writeRequestPendingUntil == deadline)
        #expect(try await h.store.outboxCount() == events)

        let lapsedAt = deadline.addingTimeInterval(1)
        #expect(try await h.store.expireWriteRequests(rules: rules, now: lapsedAt) == 1)
        let lapsed = try #require(try await h.store.session(session.id)).view
        #expect(lapsed.writeRequestPendingUntil == nil)
        #expect(lapsed.mode == .pointer)
        #expect(lapsed.modeChanges.last == ModeChange(kind: .timedOut, at: lapsedAt, by: .system("write-request-timer")))
        #expect(try await h.store.outboxCount() == events + 1)
        let entry = try #require(try await h.drainedEvents().last)
        #expect(entry.routingKey == "s.\(session.id.digits).mode-request-declined")

        // Nothing left to expire, and nothing left to answer.
        #expect(try await h.store.expireWriteRequests(rules: rules, now: lapsedAt.addingTimeInterval(60)) == 0)
        let refusal = try #require(try await h.send(.answerWrite(session: session.id, customerKey: key, approve: true)).refusal)
        #expect(refusal.code == .noPendingWriteRequest)
    }

    @Test(arguments: StoreKind.allCases)
    func expiryLapsesOnlyTheRequestsPastTheirDeadline(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (early, _) = try await h.active(agent: "agent-1", interaction: "ix-1")
        let (late, _) = try await h.active(agent: "agent-2", interaction: "ix-2")
        _ = try await h.send(.requestWrite(session: early.id, agentToken: try await h.agentToken("agent-1"))).get()
        h.advance(10)
        _ = try await h.send(.requestWrite(session: late.id, agentToken: try await h.agentToken("agent-2"))).get()

        #expect(try await h.store.expireWriteRequests(rules: SessionRules(), now: HandlerHarness.t0.addingTimeInterval(35)) == 1)
        #expect(try await h.store.session(early.id)?.view.writeRequestPendingUntil == nil)
        #expect(try await h.store.session(late.id)?.view.writeRequestPendingUntil == HandlerHarness.t0.addingTimeInterval(40))
    }

    // MARK: Outbox and reports

    @Test(arguments: StoreKind.allCases)
    func theOutboxHoldsOneEventPerChange(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (session, key) = try await h.create()
        #expect(try await h.store.outboxCount() == 1)
        let agentToken = try await h.agentToken("agent-1")

        let steps: [(RegistryCommand, Int)] = [
            (.join(session: session.id, agentToken: agentToken), 2),
            (.join(session: session.id, agentToken: agentToken), 2), // rejoin: no change
            (.join(session: session.id, agentToken: try await h.agentToken("sup-1", role: .supervisor)), 3),
            (.requestWrite(session: session.id, agentToken: agentToken), 4),
            (.requestWrite(session: session.id, agentToken: agentToken), 4), // already pending
            (.answerWrite(session: session.id, customerKey: key, approve: true), 5),
            (.revokeWrite(session: session.id, customerKey: key), 6),
            (.revokeWrite(session: session.id, customerKey: key), 6), // already pointer
            (.get(session: session.id), 6),
            (.end(session: session.id, by: .customer(key: key)), 7),
        ]
        for (command, expected) in steps {
            #expect(try await h.send(command).refusal == nil, "\(command.name)")
            #expect(try await h.store.outboxCount() == expected, "after \(command.name)")
        }

        let entries = try await h.drainedEvents()
        #expect(try await h.store.outboxCount() == 0, "drained")
        let prefix = "s.\(session.id.digits)."
        #expect(entries.map(\.routingKey) == ["created", "activated", "observer-joined", "mode-requested", "mode-changed",
                                             "mode-changed", "ended"].map { prefix + $0 })
        let events = try entries.map { try JSONDecoder.cobrowse.decode(SessionEvent.self, from: $0.body) }
        #expect(events.map(\.by) == [.customer, .agent("agent-1"), .supervisor("sup-1"), .agent("agent-1"), .customer, .customer, .customer])
        #expect(events.map(\.session.id) == Array(repeating: session.id, count: 7))
        #expect(events.last?.session.state == .ended)
        #expect(zip(entries, events).allSatisfy { $0.routingKey == $1.routingKey })
    }

    @Test(arguments: StoreKind.allCases)
    func aRefusedCommandAddsNoEvent(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (session, key) = try await h.active(agent: "agent-1")
        let (idle, _) = try await h.create(interaction: "ix-2")
        let events = try await h.store.outboxCount()
        #expect(events == 3)

        let refused: [RegistryCommand] = [
            .join(session: session.id, agentToken: try await h.agentToken("agent-2")),             // taken
            .join(session: idle.id, agentToken: try await h.agentToken("agent-1")),                // busy
            .join(session: idle.id, agentToken: try await h.agentToken("sup-1", role: .supervisor)), // not active
            .requestWrite(session: session.id, agentToken: try await h.agentToken("agent-2")),     // not the lead
            .answerWrite(session: session.id, customerKey: key, approve: true),                    // nothing pending
            .end(session: session.id, by: .customer(key: "wrong")),                                // not the customer
            .end(session: session.id, by: .agent(token: try await h.agentToken("agent-2"))),       // not the lead
            .create(interactionToken: "garbage"),                                                  // invalid token
        ]
        for command in refused {
            #expect(try await h.send(command).refusal != nil, "\(command.name)")
        }
        #expect(try await h.send(json: "{}").refusal != nil)
        #expect(try await h.store.outboxCount() == events)
    }

    @Test(arguments: StoreKind.allCases)
    func liveCountsReportIdleAndActiveSessions(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        #expect(try await h.store.liveCounts() == [.idle: 0, .active: 0])

        let (active, _) = try await h.active(agent: "agent-1", interaction: "ix-1")
        _ = try await h.create(interaction: "ix-2")
        _ = try await h.create(interaction: "ix-3")
        let (ended, endedKey) = try await h.active(agent: "agent-2", interaction: "ix-4")
        _ = try await h.send(.end(session: ended.id, by: .customer(key: endedKey))).get()
        #expect(try await h.store.liveCounts() == [.idle: 2, .active: 1])

        _ = try await h.send(.end(session: active.id, by: .administrator)).get()
        #expect(try await h.store.liveCounts() == [.idle: 2, .active: 0])
    }

    @Test(arguments: StoreKind.allCases)
    func sessionsOfAnInteractionAreListedOldestFirst(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (first, firstKey) = try await h.create(interaction: "ix-A")
        _ = try await h.send(.end(session: first.id, by: .customer(key: firstKey))).get()
        h.advance(60)
        _ = try await h.create(interaction: "ix-B")
        h.advance(60)
        let (second, _) = try await h.active(agent: "agent-1", interaction: "ix-A")

        let listed = try await h.store.sessions(.interaction("ix-A"))
        #expect(listed.map(\.id) == [first.id, second.id])
        #expect(listed.map(\.state) == [.ended, .active])
        #expect(listed.last == second)
        #expect(try await h.store.sessions(.interaction("ix-none")).isEmpty)
        #expect(try await h.store.sessions(.interaction("ix-B")).count == 1)
    }

    // MARK: Interactions

    @Test(arguments: StoreKind.allCases)
    func anEndedInteractionEndsAllItsLiveSessionsOnceAndBarsNewOnes(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (idle, _) = try await h.create(interaction: "ix-end")
        let (active, _) = try await h.active(agent: "ana", interaction: "ix-end")
        let (other, _) = try await h.create(interaction: "ix-other")
        let end = RegistryCommand.endInteraction(interactionID: "ix-end", reason: .interactionEnded, occurredAt: h.now, system: "interaction-watch")
        let ended = try await h.send(end).list()
        #expect(Set(ended.map(\.id)) == [idle.id, active.id])
        #expect(ended.allSatisfy { $0.endReason == .interactionEnded && $0.endedBy == .system("interaction-watch") })
        #expect(try await h.send(end).list().isEmpty, "a repeated event ended something again")
        #expect(try await h.send(.get(session: other.id)).get().state == .idle)
        let refusal = try await h.send(.create(interactionToken: try await h.interactionToken("ix-end"))).refusal
        #expect(refusal?.code == .interactionEnded)
    }

    @Test(arguments: StoreKind.allCases)
    func aTransferEndsOnlySessionsCreatedBeforeItAndBarsNothing(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (before, _) = try await h.create(interaction: "ix-t")
        let transferredAt = h.now
        h.advance(60)
        let (after, _) = try await h.create(interaction: "ix-t")
        let ended = try await h.send(.endInteraction(interactionID: "ix-t", reason: .interactionTransferred, occurredAt: transferredAt,
                                                      system: "interaction-watch")).list()
        #expect(ended.map(\.id) == [before.id])
        #expect(try await h.send(.get(session: after.id)).get().state == .idle)
        #expect(try await h.send(.create(interactionToken: try await h.interactionToken("ix-t"))).session != nil)
    }

    @Test(arguments: StoreKind.allCases)
    func anInteractionEndsSessionsOnlyWithAnInteractionReason(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let reply = try await h.send(.endInteraction(interactionID: "ix", reason: .inactivity, occurredAt: h.now, system: "x"))
        #expect(reply.refusal?.code == .malformedRequest)
    }

    @Test(arguments: StoreKind.allCases)
    func listLiveHasIdleAndActiveSessionsOldestFirstAndNoEndedOnes(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (first, firstKey) = try await h.create(interaction: "ix-a")
        h.advance(1)
        let (second, _) = try await h.active(agent: "ana", interaction: "ix-b")
        h.advance(1)
        let (third, _) = try await h.create(interaction: "ix-c")
        _ = try await h.send(.end(session: first.id, by: .customer(key: firstKey))).get()
        #expect(try await h.send(.listLive).list().map(\.id) == [second.id, third.id])
    }
}
