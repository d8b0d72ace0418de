import CobrowseProtocol
import CobrowseTokens
import Foundation
import Logging
@testable import SessionRegistry
import Synchronization
import TestSupport
import Testing

extension RegistryHandlerTests {
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
    func anAgentsSessionsAreThoseTheyLedOrObservedOldestFirstUpToTheLimit(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (first, firstKey) = try await h.active(agent: "ana", interaction: "ix-a")
        _ = try await h.join(first.id, agent: "sam", role: .supervisor).get()
        _ = try await h.send(.end(session: first.id, by: .customer(key: firstKey))).get()
        h.advance(1)
        let (second, _) = try await h.active(agent: "ana", interaction: "ix-b")
        h.advance(1)
        let (third, _) = try await h.active(agent: "bo", interaction: "ix-c")
        _ = try await h.join(third.id, agent: "sam", role: .supervisor).get()
        _ = try await h.join(third.id, agent: "sam", role: .supervisor).get() // a second visit: still one session
        h.advance(1)
        _ = try await h.active(agent: "cy", interaction: "ix-d")
        #expect(try await h.store.sessions(.agent("ana"), limit: 10).map(\.id) == [first.id, second.id])
        #expect(try await h.store.sessions(.agent("sam"), limit: 10).map(\.id) == [first.id, third.id])
        #expect(try await h.store.sessions(.agent("sam"), limit: 1).map(\.id) == [first.id])
        #expect(try await h.store.sessions(.agent("nobody"), limit: 10).isEmpty)
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
