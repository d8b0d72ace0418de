import CobrowseProtocol
import Foundation
@testable import SessionRegistry
import Testing

/// The session state machine on its own: no store, no tokens, no clock but the dates given.
@Suite struct SessionRulesTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static let sessionID = SessionID("123456789")!
    static let lead = AgentIdentity(id: "agent-lead", role: .agent)
    static let otherAgent = AgentIdentity(id: "agent-other", role: .agent)
    static let supervisor = AgentIdentity(id: "supervisor-1", role: .supervisor)

    let rules = SessionRules()
    let t0 = Self.t0

    // MARK: Fixtures (each built through the rules themselves)

    func idle() -> SessionRecord {
        SessionRules.newSession(id: Self.sessionID, grant: InteractionGrant(interactionID: "ix-1", channel: .voice),
                                customerKeyHash: "key-hash", now: t0)
    }

    func active() throws -> SessionRecord {
        var record = idle()
        _ = try rules.join(&record, agent: Self.lead, agentHoldsAnotherLiveSession: false, now: t0.addingTimeInterval(10))
        return record
    }

    /// Active, with the lead's write request made at t0 + 20 s.
    func pending() throws -> SessionRecord {
        var record = try active()
        _ = try rules.requestWrite(&record, agent: Self.lead, now: t0.addingTimeInterval(20))
        return record
    }

    func writing() throws -> SessionRecord {
        var record = try pending()
        _ = try rules.answerWrite(&record, approve: true, now: t0.addingTimeInterval(25))
        return record
    }

    func ended() throws -> SessionRecord {
        var record = try active()
        _ = try rules.end(&record, reason: .customerExited, by: .customer, now: t0.addingTimeInterval(60))
        return record
    }

    // MARK: Creation

    @Test func newSessionStartsIdleInPointerModeWithoutAnAgent() {
        let record = idle()
        #expect(record.view.id == Self.sessionID)
        #expect(record.view.state == .idle)
        #expect(record.view.mode == .pointer)
        #expect(record.view.writeRequestPendingUntil == nil)
        #expect(record.view.interactionID == "ix-1")
        #expect(record.view.channel == .voice)
        #expect(record.view.leadAgentID == nil)
        #expect(record.view.observers.isEmpty)
        #expect(record.view.createdAt == t0)
        #expect(record.view.joinedAt == nil)
        #expect(record.view.endedAt == nil)
        #expect(record.view.modeChanges.isEmpty)
        #expect(record.customerKeyHash == "key-hash")
    }

    // MARK: Join

    @Test func agentJoiningAnIdleSessionActivatesIt() throws {
        var record = idle()
        let joinedAt = t0.addingTimeInterval(10)
        let event = try rules.join(&record, agent: Self.lead, agentHoldsAnotherLiveSession: false, now: joinedAt)
        #expect(event == .activated)
        #expect(record.view.state == .active)
        #expect(record.view.leadAgentID == Self.lead.id)
        #expect(record.view.joinedAt == joinedAt)
        #expect(record.view.observers.isEmpty)
        #expect(record.view.mode == .pointer)
    }

    @Test func joiningAnEndedSessionIsRefusedWithStartANewOne() throws {
        var record = try ended()
        let before = record
        let refusal = #expect(throws: RegistryRefusal.self) {
            try rules.join(&record, agent: Self.otherAgent, agentHoldsAnotherLiveSession: false, now: t0.addingTimeInterval(70))
        }
        #expect(refusal?.code == .sessionEnded)
        #expect(refusal?.message == "session ended; start a new one")
        #expect(record == before)
    }

    @Test func secondAgentIsRefusedSessionTaken() throws {
        var record = try active()
        let before = record
        let refusal = #expect(throws: RegistryRefusal.self) {
            try rules.join(&record, agent: Self.otherAgent, agentHoldsAnotherLiveSession: false, now: t0.addingTimeInterval(30))
        }
        #expect(refusal?.code == .sessionTaken)
        #expect(record == before)
        #expect(record.view.leadAgentID == Self.lead.id)
    }

    @Test func sameAgentRejoiningIsNotAChange() throws {
        var record = try active()
        let before = record
        let event = try rules.join(&record, agent: Self.lead, agentHoldsAnotherLiveSession: false, now: t0.addingTimeInterval(30))
        #expect(event == nil)
        #expect(record == before)
        #expect(record.view.joinedAt == t0.addingTimeInterval(10))
    }

    @Test func agentHoldingAnotherLiveSessionIsRefusedAgentBusy() {
        var record = idle()
        let before = record
        let refusal = #expect(throws: RegistryRefusal.self) {
            try rules.join(&record, agent: Self.lead, agentHoldsAnotherLiveSession: true, now: t0.addingTimeInterval(10))
        }
        #expect(refusal?.code == .agentBusy)
        #expect(record == before)
        #expect(record.view.state == .idle)
    }

    @Test func supervisorCanObserveOnlyActiveSessions() throws {
        var idleRecord = idle()
        let idleRefusal = #expect(throws: RegistryRefusal.self) {
            try rules.join(&idleRecord, agent: Self.supervisor, agentHoldsAnotherLiveSession: false, now: t0.addingTimeInterval(5))
        }
        #expect(idleRefusal?.code == .notActive)
        #expect(idleRecord == idle())

        var endedRecord = try ended()
        let endedRefusal = #expect(throws: RegistryRefusal.self) {
            try rules.join(&endedRecord, agent: Self.supervisor, agentHoldsAnotherLiveSession: false, now: t0.addingTimeInterval(70))
        }
        #expect(endedRefusal == .sessionEnded)

        var activeRecord = try active()
        let event = try rules.join(&activeRecord, agent: Self.supervisor, agentHoldsAnotherLiveSession: false, now: t0.addingTimeInterval(30))
        #expect(event == .observerJoined)
        #expect(activeRecord.view.observers == [Self.supervisor.id])
    }

    @Test func supervisorJoinsAsObserverOnceAndNeverGetsControl() throws {
        var record = try active()
        let first = try rules.join(&record, agent: Self.supervisor, agentHoldsAnotherLiveSession: false, now: t0.addingTimeInterval(30))
        let afterFirst = record
        let second = try rules.join(&record, agent: Self.supervisor, agentHoldsAnotherLiveSession: false, now: t0.addingTimeInterval(31))
        #expect(first == .observerJoined)
        #expect(second == nil)
        #expect(record == afterFirst)
        #expect(record.view.observers == [Self.supervisor.id])
        #expect(record.view.leadAgentID == Self.lead.id)

        let refusal = #expect(throws: RegistryRefusal.self) {
            try rules.requestWrite(&record, agent: Self.supervisor, now: t0.addingTimeInterval(32))
        }
        #expect(refusal?.code == .notAllowed)
        #expect(record.view.writeRequestPendingUntil == nil)
        #expect(record.view.mode == .pointer)
    }

    @Test func aSecondSupervisorIsAddedAlongsideTheFirst() throws {
        var record = try active()
        _ = try rules.join(&record, agent: Self.supervisor, agentHoldsAnotherLiveSession: false, now: t0.addingTimeInterval(30))
        let event = try rules.join(&record, agent: AgentIdentity(id: "supervisor-2", role: .supervisor),
                                   agentHoldsAnotherLiveSession: false, now: t0.addingTimeInterval(31))
        #expect(event == .observerJoined)
        #expect(record.view.observers == [Self.supervisor.id, "supervisor-2"])
    }

    // MARK: Visits (who is viewing, and the history of it)

    @Test func theLeadsJoinOpensAVisitWithTheNameTheTokenCarries() throws {
        var record = idle()
        _ = try rules.join(&record, agent: AgentIdentity(id: "agent-lead", role: .agent, name: "Ada"),
                           agentHoldsAnotherLiveSession: false, now: t0.addingTimeInterval(10))
        #expect(record.view.visits == [Visit(agentID: "agent-lead", name: "Ada", role: .agent, joinedAt: t0.addingTimeInterval(10))])
        // The lead's console coming back is the same visit.
        _ = try rules.join(&record, agent: Self.lead, agentHoldsAnotherLiveSession: false, now: t0.addingTimeInterval(20))
        #expect(record.view.visits.count == 1)
    }

    @Test func anObserverWhoLeavesAndComesBackHasTwoVisits() throws {
        var record = try active()
        let joined = t0.addingTimeInterval(30)
        #expect(try rules.join(&record, agent: Self.supervisor, agentHoldsAnotherLiveSession: false, now: joined) == .observerJoined)
        #expect(rules.observerLeft(&record, agentID: Self.supervisor.id, joinedAt: joined, now: t0.addingTimeInterval(40)) == .observerLeft)
        let rejoined = t0.addingTimeInterval(50)
        #expect(try rules.join(&record, agent: Self.supervisor, agentHoldsAnotherLiveSession: false, now: rejoined) == .observerJoined)
        #expect(record.view.visits.filter { $0.role == .supervisor } == [
            Visit(agentID: Self.supervisor.id, name: nil, role: .supervisor, joinedAt: joined, leftAt: t0.addingTimeInterval(40)),
            Visit(agentID: Self.supervisor.id, name: nil, role: .supervisor, joinedAt: rejoined),
        ])
        #expect(record.view.observers == [Self.supervisor.id], "observers lists each observer once")
    }

    @Test func aLeaveEndsOnlyTheVisitItNamesAndOnlyOnce() throws {
        var record = try active()
        let joined = t0.addingTimeInterval(30)
        _ = try rules.join(&record, agent: Self.supervisor, agentHoldsAnotherLiveSession: false, now: joined)
        let before = record
        // A late leave of an earlier visit (the old socket of a reloaded console) changes nothing.
        #expect(rules.observerLeft(&record, agentID: Self.supervisor.id, joinedAt: t0.addingTimeInterval(29), now: t0.addingTimeInterval(31)) == nil)
        #expect(rules.observerLeft(&record, agentID: "someone-else", joinedAt: joined, now: t0.addingTimeInterval(31)) == nil)
        // Nor does the lead "leaving": the lead's absence is the watch's grace, not a leave.
        #expect(rules.observerLeft(&record, agentID: Self.lead.id, joinedAt: t0.addingTimeInterval(10), now: t0.addingTimeInterval(31)) == nil)
        #expect(record == before)
        #expect(rules.observerLeft(&record, agentID: Self.supervisor.id, joinedAt: joined, now: t0.addingTimeInterval(32)) == .observerLeft)
        let left = record
        #expect(rules.observerLeft(&record, agentID: Self.supervisor.id, joinedAt: joined, now: t0.addingTimeInterval(33)) == nil)
        #expect(record == left)
    }

    @Test func theEndClosesEveryOpenVisitAtTheEnd() throws {
        var record = try active()
        _ = try rules.join(&record, agent: Self.supervisor, agentHoldsAnotherLiveSession: false, now: t0.addingTimeInterval(30))
        let end = t0.addingTimeInterval(90)
        _ = try rules.end(&record, reason: .customerExited, by: .customer, now: end)
        #expect(record.view.visits.map(\.leftAt) == [end, end])
        #expect(rules.observerLeft(&record, agentID: Self.supervisor.id, joinedAt: t0.addingTimeInterval(30), now: end.addingTimeInterval(1)) == nil)
    }

    // MARK: End

    @Test func endRecordsReasonActorAndTimeAndResetsMode() throws {
        var record = try writing()
        let endedAt = t0.addingTimeInterval(90)
        let event = try rules.end(&record, reason: .interactionEnded, by: .system("interaction-watch"), now: endedAt)
        #expect(event == .ended)
        #expect(record.view.state == .ended)
        #expect(record.view.mode == .pointer)
        #expect(record.view.writeRequestPendingUntil == nil)
        #expect(record.view.endedAt == endedAt)
        #expect(record.view.endReason == .interactionEnded)
        #expect(record.view.endedBy == .system("interaction-watch"))
        #expect(record.view.leadAgentID == Self.lead.id)
        #expect(record.view.joinedAt == t0.addingTimeInterval(10))
    }

    @Test func endWithdrawsAPendingRequest() throws {
        var record = try pending()
        let event = try rules.end(&record, reason: .agentExited, by: .agent(Self.lead.id), now: t0.addingTimeInterval(22))
        #expect(event == .ended)
        #expect(record.view.writeRequestPendingUntil == nil)
        #expect(record.view.endedBy == .agent(Self.lead.id))
    }

    @Test func anIdleSessionCanBeEnded() throws {
        var record = idle()
        let event = try rules.end(&record, reason: .customerExited, by: .customer, now: t0.addingTimeInterval(5))
        #expect(event == .ended)
        #expect(record.view.state == .ended)
        #expect(record.view.leadAgentID == nil)
        #expect(record.view.endReason == .customerExited)
    }

    enum Command: String, CaseIterable, Sendable {
        case join, requestWrite, answerWrite, revokeWrite, end
    }

    @Test(arguments: Command.allCases)
    func everyCommandOnAnEndedSessionIsRefused(_ command: Command) throws {
        var record = try ended()
        let before = record
        let now = t0.addingTimeInterval(120)
        let refusal = #expect(throws: RegistryRefusal.self) {
            switch command {
            case .join: try rules.join(&record, agent: Self.lead, agentHoldsAnotherLiveSession: false, now: now)
            case .requestWrite: try rules.requestWrite(&record, agent: Self.lead, now: now)
            case .answerWrite: try rules.answerWrite(&record, approve: true, now: now)
            case .revokeWrite: try rules.revokeWrite(&record, now: now)
            case .end: try rules.end(&record, reason: .administrator, by: .administrator, now: now)
            }
        }
        #expect(refusal == .sessionEnded)
        #expect(refusal?.code == .sessionEnded)
        #expect(refusal?.message == "session ended; start a new one")
        #expect(record == before)
    }

    // MARK: Mode history

    @Test func modeHistoryRecordsEveryStepWithWhoAndWhen() throws {
        var record = try active()
        // Answers come within the 30 s timeout; the third request lapses (at 180) before the fourth.
        let at = [100.0, 110, 120, 130, 140, 150, 190, 200].map { t0.addingTimeInterval($0) }
        _ = try rules.requestWrite(&record, agent: Self.lead, now: at[0])
        _ = try rules.answerWrite(&record, approve: true, now: at[1])
        _ = try rules.revokeWrite(&record, now: at[2])
        _ = try rules.requestWrite(&record, agent: Self.lead, now: at[3])
        _ = try rules.answerWrite(&record, approve: false, now: at[4])
        _ = try rules.requestWrite(&record, agent: Self.lead, now: at[5])
        _ = rules.expireWriteRequest(&record, now: at[5].addingTimeInterval(30))
        _ = try rules.requestWrite(&record, agent: Self.lead, now: at[6])
        _ = try rules.revokeWrite(&record, now: at[7])

        let agent = Actor.agent(Self.lead.id)
        #expect(record.view.modeChanges == [
            ModeChange(kind: .requested, at: at[0], by: agent),
            ModeChange(kind: .approved, at: at[1], by: .customer),
            ModeChange(kind: .revoked, at: at[2], by: .customer),
            ModeChange(kind: .requested, at: at[3], by: agent),
            ModeChange(kind: .denied, at: at[4], by: .customer),
            ModeChange(kind: .requested, at: at[5], by: agent),
            ModeChange(kind: .timedOut, at: at[5].addingTimeInterval(30), by: .system("write-request-timer")),
            ModeChange(kind: .requested, at: at[6], by: agent),
            ModeChange(kind: .denied, at: at[7], by: .customer),
        ])
    }

    @Test func commandsThatChangeNothingLeaveNoHistory() throws {
        var record = try pending()
        let count = record.view.modeChanges.count
        _ = try rules.requestWrite(&record, agent: Self.lead, now: t0.addingTimeInterval(21))
        _ = rules.expireWriteRequest(&record, now: t0.addingTimeInterval(21))
        _ = try rules.join(&record, agent: Self.lead, agentHoldsAnotherLiveSession: false, now: t0.addingTimeInterval(21))
        #expect(record.view.modeChanges.count == count)
        #expect(count == 1)
    }
}
