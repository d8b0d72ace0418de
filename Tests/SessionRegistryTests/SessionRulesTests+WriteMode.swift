import CobrowseProtocol
import Foundation
@testable import SessionRegistry
import Testing

extension SessionRulesTests {
    // MARK: Write requests

    @Test func writeRequestIsPendingUntilAnswered() throws {
        var record = try active()
        let askedAt = t0.addingTimeInterval(20)
        let event = try rules.requestWrite(&record, agent: Self.lead, now: askedAt)
        #expect(event == .modeRequested)
        #expect(record.view.writeRequestPendingUntil == askedAt.addingTimeInterval(30))
        #expect(record.view.mode == .pointer)
        #expect(record.view.modeChanges == [ModeChange(kind: .requested, at: askedAt, by: .agent(Self.lead.id))])
    }

    @Test func writeRequestDeadlineFollowsTheConfiguredTimeout() throws {
        let rules = SessionRules(writeRequestTimeout: .milliseconds(1500))
        var record = try active()
        let askedAt = t0.addingTimeInterval(20)
        _ = try rules.requestWrite(&record, agent: Self.lead, now: askedAt)
        #expect(record.view.writeRequestPendingUntil == askedAt.addingTimeInterval(1.5))
    }

    @Test func askingAgainWhileARequestIsPendingKeepsTheFirstDeadline() throws {
        var record = try pending()
        let before = record
        let event = try rules.requestWrite(&record, agent: Self.lead, now: t0.addingTimeInterval(40))
        #expect(event == nil)
        #expect(record == before)
        #expect(record.view.writeRequestPendingUntil == t0.addingTimeInterval(50))
    }

    @Test func askingForWriteInWriteModeIsNotAChange() throws {
        var record = try writing()
        let before = record
        let event = try rules.requestWrite(&record, agent: Self.lead, now: t0.addingTimeInterval(40))
        #expect(event == nil)
        #expect(record == before)
    }

    @Test func askingForWriteBeforeJoiningIsRefusedNotActive() {
        var record = idle()
        let refusal = #expect(throws: RegistryRefusal.self) {
            try rules.requestWrite(&record, agent: Self.lead, now: t0.addingTimeInterval(5))
        }
        #expect(refusal?.code == .notActive)
        #expect(record == idle())
    }

    @Test func onlyTheLeadAgentMayRequestWrite() throws {
        var record = try active()
        let before = record
        let refusal = #expect(throws: RegistryRefusal.self) {
            try rules.requestWrite(&record, agent: Self.otherAgent, now: t0.addingTimeInterval(20))
        }
        #expect(refusal?.code == .notAllowed)
        #expect(record == before)
    }

    @Test func approvingSwitchesToWrite() throws {
        var record = try pending()
        let answeredAt = t0.addingTimeInterval(25)
        let event = try rules.answerWrite(&record, approve: true, now: answeredAt)
        #expect(event == .modeChanged)
        #expect(record.view.mode == .write)
        #expect(record.view.writeRequestPendingUntil == nil)
        #expect(record.view.modeChanges.last == ModeChange(kind: .approved, at: answeredAt, by: .customer))
    }

    @Test func denyingKeepsPointerAndRecordsDenied() throws {
        var record = try pending()
        let answeredAt = t0.addingTimeInterval(25)
        let event = try rules.answerWrite(&record, approve: false, now: answeredAt)
        #expect(event == .modeRequestDeclined)
        #expect(record.view.mode == .pointer)
        #expect(record.view.writeRequestPendingUntil == nil)
        #expect(record.view.modeChanges.last == ModeChange(kind: .denied, at: answeredAt, by: .customer))
    }

    @Test(arguments: [true, false])
    func answeringWithoutAPendingRequestIsRefused(approve: Bool) throws {
        for var record in [try active(), try writing()] {
            let before = record
            let refusal = #expect(throws: RegistryRefusal.self) {
                try rules.answerWrite(&record, approve: approve, now: t0.addingTimeInterval(40))
            }
            #expect(refusal?.code == .noPendingWriteRequest)
            #expect(record == before)
        }
    }

    @Test func revokeReturnsToPointer() throws {
        var record = try writing()
        let revokedAt = t0.addingTimeInterval(40)
        let event = try rules.revokeWrite(&record, now: revokedAt)
        #expect(event == .modeChanged)
        #expect(record.view.mode == .pointer)
        #expect(record.view.modeChanges.last == ModeChange(kind: .revoked, at: revokedAt, by: .customer))
    }

    @Test func revokeWithdrawsAPendingRequest() throws {
        var record = try pending()
        let revokedAt = t0.addingTimeInterval(22)
        let event = try rules.revokeWrite(&record, now: revokedAt)
        #expect(event == .modeRequestDeclined)
        #expect(record.view.mode == .pointer)
        #expect(record.view.writeRequestPendingUntil == nil)
        #expect(record.view.modeChanges.last == ModeChange(kind: .denied, at: revokedAt, by: .customer))
    }

    @Test func revokeInPointerModeIsANoOp() throws {
        for var record in [idle(), try active()] {
            let before = record
            let event = try rules.revokeWrite(&record, now: t0.addingTimeInterval(40))
            #expect(event == nil)
            #expect(record == before)
        }
    }

    @Test func disabledWriteModeRefusesRequestsAndApprovals() throws {
        let disabled = SessionRules(writeModeEnabled: false)

        var activeRecord = try active()
        let requestRefusal = #expect(throws: RegistryRefusal.self) {
            try disabled.requestWrite(&activeRecord, agent: Self.lead, now: t0.addingTimeInterval(20))
        }
        #expect(requestRefusal?.code == .writeModeDisabled)
        #expect(activeRecord.view.writeRequestPendingUntil == nil)

        // Asked while enabled, then disabled before the customer approved.
        var pendingRecord = try pending()
        let before = pendingRecord
        let approvalRefusal = #expect(throws: RegistryRefusal.self) {
            try disabled.answerWrite(&pendingRecord, approve: true, now: t0.addingTimeInterval(25))
        }
        #expect(approvalRefusal?.code == .writeModeDisabled)
        #expect(pendingRecord == before)
        #expect(pendingRecord.view.mode == .pointer)
    }

    @Test func disabledWriteModeStillLetsTheCustomerDenyAndRevoke() throws {
        let disabled = SessionRules(writeModeEnabled: false)

        var pendingRecord = try pending()
        #expect(try disabled.answerWrite(&pendingRecord, approve: false, now: t0.addingTimeInterval(25)) == .modeRequestDeclined)
        #expect(pendingRecord.view.writeRequestPendingUntil == nil)

        var writingRecord = try writing()
        #expect(try disabled.revokeWrite(&writingRecord, now: t0.addingTimeInterval(40)) == .modeChanged)
        #expect(writingRecord.view.mode == .pointer)
    }

    @Test func pendingRequestLapsesAfterItsDeadlineOnly() throws {
        var record = try pending()
        let deadline = try #require(record.view.writeRequestPendingUntil)
        let before = record

        #expect(rules.expireWriteRequest(&record, now: deadline.addingTimeInterval(-0.001)) == nil)
        #expect(record == before)

        let lapsedAt = deadline.addingTimeInterval(1)
        #expect(rules.expireWriteRequest(&record, now: lapsedAt) == .modeRequestDeclined)
        #expect(record.view.writeRequestPendingUntil == nil)
        #expect(record.view.mode == .pointer)
        #expect(record.view.modeChanges.last == ModeChange(kind: .timedOut, at: lapsedAt, by: .system("write-request-timer")))

        // Once lapsed there is nothing left to expire.
        let afterLapse = record
        #expect(rules.expireWriteRequest(&record, now: lapsedAt.addingTimeInterval(60)) == nil)
        #expect(record == afterLapse)
    }

    @Test func expiringWithoutAPendingRequestDoesNothing() throws {
        for var record in [idle(), try active(), try writing()] {
            let before = record
            #expect(rules.expireWriteRequest(&record, now: t0.addingTimeInterval(3600)) == nil)
            #expect(record == before)
        }
    }

    @Test func expiringNeverTouchesAnEndedSession() throws {
        var record = try ended()
        record.view.writeRequestPendingUntil = t0 // as if left over; an ended session never changes
        let before = record
        #expect(rules.expireWriteRequest(&record, now: t0.addingTimeInterval(3600)) == nil)
        #expect(record == before)
    }

    /// A lapsed request that the timer has not yet swept (it runs every 500 ms) is not
    /// approvable: the agent was told, or will be, that it timed out.
    @Test func approvingALapsedRequestIsRefused() throws {
        var record = try pending()
        let deadline = try #require(record.view.writeRequestPendingUntil)
        let refusal = #expect(throws: RegistryRefusal.self) {
            try rules.answerWrite(&record, approve: true, now: deadline.addingTimeInterval(5))
        }
        #expect(refusal?.code == .noPendingWriteRequest)
        #expect(record.view.mode == .pointer)
    }
}
