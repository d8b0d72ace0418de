import CobrowseProtocol
import Foundation
@testable import SessionRegistry
import Testing

/// Voice codes on their own: six digits, single use, a lifetime, a limit per agent.
@Suite struct VoiceCodesTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func refusal(_ body: () throws -> Void) -> RegistryRefusal.Code? {
        do {
            try body()
            return nil
        } catch {
            return (error as? RegistryRefusal)?.code
        }
    }

    @Test func aCodeIsSixDigitsAndStartsOneSessionOnly() throws {
        let codes = VoiceCodes()
        let code = try codes.issue(interactionID: "call-1", agentID: "ana", now: t0)
        #expect(code.code.count == 6 && code.code.allSatisfy(\.isNumber))
        #expect(code.expiresAt == t0.addingTimeInterval(300))
        let taken = try codes.redeem(code.code, now: t0.addingTimeInterval(10))
        #expect(taken.interactionID == "call-1" && taken.agentID == "ana")
        codes.bind(code.code, to: SessionID("123456789")!)
        #expect(refusal { _ = try codes.redeem(code.code, now: t0.addingTimeInterval(20)) } == .codeUsed)
        #expect(codes.status(code.code, agentID: "ana")?.sessionID == SessionID("123456789"))
        #expect(codes.status(code.code, agentID: "bob") == nil, "another agent's code says nothing")
        #expect(codes.lead(of: SessionID("123456789")!) == "ana")
    }

    @Test func wrongExpiredAndMalformedCodesAreRefusedEachWithItsReason() throws {
        let codes = VoiceCodes()
        let code = try codes.issue(interactionID: "call-1", agentID: "ana", now: t0)
        let other = code.code == "000000" ? "000001" : "000000"
        #expect(refusal { _ = try codes.redeem(other, now: t0) } == .codeUnknown)
        #expect(refusal { _ = try codes.redeem("12 456", now: t0) } == .codeUnknown)
        #expect(refusal { _ = try codes.redeem("１２３４５６", now: t0) } == .codeUnknown, "full-width digits are not digits here")
        #expect(refusal { _ = try codes.redeem(code.code, now: t0.addingTimeInterval(300)) } == .codeExpired)
        // A lifetime after it expired, it is forgotten.
        #expect(refusal { _ = try codes.redeem(code.code, now: t0.addingTimeInterval(601)) } == .codeUnknown)
    }

    @Test func aRefusedStartGivesTheCodeBack() throws {
        let codes = VoiceCodes()
        let code = try codes.issue(interactionID: "call-1", agentID: "ana", now: t0)
        _ = try codes.redeem(code.code, now: t0)
        codes.release(code.code)
        #expect(try codes.redeem(code.code, now: t0).interactionID == "call-1")
    }

    @Test func anAgentMayAskForSoManyCodesAWindow() throws {
        let codes = VoiceCodes(limits: .init(lifetime: 300, perAgent: 3, window: 600))
        for _ in 0..<3 { _ = try codes.issue(interactionID: "call-1", agentID: "ana", now: t0) }
        #expect(refusal { _ = try codes.issue(interactionID: "call-1", agentID: "ana", now: t0.addingTimeInterval(1)) } == .tooManyCodes)
        #expect(try codes.issue(interactionID: "call-2", agentID: "bob", now: t0).code.count == 6, "per agent")
        #expect(try codes.issue(interactionID: "call-1", agentID: "ana", now: t0.addingTimeInterval(601)).code.count == 6, "a window later")
    }
}
