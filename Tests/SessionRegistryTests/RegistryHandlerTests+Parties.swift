import CobrowseProtocol
import CobrowseTokens
import Foundation
import Logging
@testable import SessionRegistry
import Synchronization
import TestSupport
import Testing

extension RegistryHandlerTests {
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
}
