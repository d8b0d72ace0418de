import CobrowseProtocol
import Foundation
@testable import SessionRegistry
import TestSupport
import Testing

/// The supervisor's list (`superviseLive`) and the masking filters' health reports
/// (`reportHealth`) it is made of, over each real store.
@Suite struct SupervisionTests {
    static func report(_ session: SessionID, at: Date, frames: Int = 10, p50: Int? = 4, max: Int? = 20,
                       resyncs: Int = 0, window: Int = 2000) -> SessionHealth {
        SessionHealth(sessionID: session, at: at, windowMilliseconds: window, framesPassed: frames,
                      latencyP50Milliseconds: p50, latencyMaxMilliseconds: max, resyncs: resyncs,
                      lastFrameAt: frames > 0 ? Date(millisecondsSince1970: at.millisecondsSince1970 - 100) : nil)
    }

    func supervise(_ h: HandlerHarness) async throws -> Supervision {
        let token = try await h.tokens.agent("sam", role: .supervisor, name: "Sam Lee", expires: h.now.addingTimeInterval(600))
        let reply = try await h.send(.superviseLive(agentToken: token))
        return try #require(reply.supervision, "\(String(describing: reply.refusal))")
    }

    @Test(arguments: StoreKind.allCases)
    func aSupervisorSeesEveryLiveSessionWithItsLeadObserversAndLastHealthReport(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (waiting, _) = try await h.create(interaction: "ix-wait", channel: .voice)
        h.advance(1)
        let (led, _) = try await h.create(interaction: "ix-led", channel: .messaging)
        let ana = try await h.tokens.agent("ana", role: .agent, name: "Ana Ruiz", expires: h.now.addingTimeInterval(600))
        _ = try await h.send(.join(session: led.id, agentToken: ana)).get()
        let sam = try await h.tokens.agent("sam", role: .supervisor, name: "Sam Lee", expires: h.now.addingTimeInterval(600))
        _ = try await h.send(.join(session: led.id, agentToken: sam)).get()
        let (ended, key) = try await h.create(interaction: "ix-gone")
        _ = try await h.send(.end(session: ended.id, by: .customer(key: key))).get()
        h.advance(30)
        let health = Self.report(led.id, at: h.now)
        #expect(try await h.send(.reportHealth(sessions: [health, Self.report(ended.id, at: h.now)])).refusal == nil)

        let list = try await supervise(h)
        #expect(list.at == h.now)
        #expect(list.sessions.map(\.sessionID) == [waiting.id, led.id], "live ones only, oldest first")
        let idle = list.sessions[0]
        #expect(idle.state == .idle && idle.channel == .voice && idle.interactionID == "ix-wait")
        #expect(idle.leadAgentID == nil && idle.leadAgentName == nil && idle.joinedAt == nil && idle.observers.isEmpty)
        #expect(idle.healthStatus == .unknown && idle.health == nil)
        let active = list.sessions[1]
        #expect(active.state == .active && active.mode == .pointer && !active.writeRequestPending && active.channel == .messaging)
        #expect(active.leadAgentID == "ana" && active.leadAgentName == "Ana Ruiz")
        #expect(active.observers.map(\.agentID) == ["sam"] && active.observers.first?.name == "Sam Lee")
        #expect(active.createdAt == led.createdAt && active.joinedAt != nil)
        #expect(active.health == health && active.healthStatus == .good)

        // The lead asks for control: the list says a request is pending.
        _ = try await h.send(.requestWrite(session: led.id, agentToken: ana)).get()
        #expect(try await supervise(h).sessions[1].writeRequestPending)
    }

    @Test(arguments: StoreKind.allCases)
    func healthIsSlowFromEitherLatencyThresholdAndUnknownOnceTheReportIsStale(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (session, _) = try await h.active(agent: "ana")
        func status(_ report: SessionHealth) async throws -> HealthStatus {
            _ = try await h.send(.reportHealth(sessions: [report]))
            return try await supervise(h).sessions[0].healthStatus
        }
        h.advance(2)
        #expect(try await status(Self.report(session.id, at: h.now, p50: HealthStatus.slowMedianMilliseconds - 1,
                                             max: HealthStatus.slowMaxMilliseconds - 1)) == .good)
        h.advance(2)
        #expect(try await status(Self.report(session.id, at: h.now, p50: HealthStatus.slowMedianMilliseconds,
                                             max: HealthStatus.slowMedianMilliseconds)) == .slow)
        h.advance(2)
        #expect(try await status(Self.report(session.id, at: h.now, p50: 3, max: HealthStatus.slowMaxMilliseconds)) == .slow)
        h.advance(2)
        #expect(try await status(Self.report(session.id, at: h.now, frames: 0, p50: nil, max: nil)) == .good, "a quiet page is healthy")
        h.advance(HealthStatus.reportFreshness + 1)
        let stale = try await supervise(h).sessions[0]
        #expect(stale.healthStatus == .unknown && stale.health == nil)
    }

    @Test(arguments: StoreKind.allCases)
    func anOlderReportNeverReplacesANewerOne(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (session, _) = try await h.active(agent: "ana")
        h.advance(4)
        let newer = Self.report(session.id, at: h.now, frames: 7)
        _ = try await h.send(.reportHealth(sessions: [newer]))
        _ = try await h.send(.reportHealth(sessions: [Self.report(session.id, at: h.now.addingTimeInterval(-2), frames: 99)]))
        #expect(try await supervise(h).sessions[0].health == newer)
    }

    @Test(arguments: StoreKind.allCases)
    func onlyASupervisorsTokenShowsTheList(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        _ = try await h.active(agent: "ana")
        let agent = try await h.send(.superviseLive(agentToken: try await h.agentToken("ana")))
        #expect(agent.refusal?.code == .notAllowed && agent.supervision == nil)
        let forged = try await h.send(.superviseLive(agentToken: "eyJhbGciOiJIUzI1NiJ9.e30.bad"))
        #expect(forged.refusal?.code == .invalidToken && forged.supervision == nil)
        let expired = try await h.send(.superviseLive(agentToken: try await h.agentToken("sam", role: .supervisor,
                                                                                       expires: h.now.addingTimeInterval(-1))))
        #expect(expired.refusal?.code == .expiredToken)
    }

    @Test(arguments: StoreKind.allCases)
    func implausibleHealthReportsAreRefusedWithTheReasonAndChangeNothing(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (session, _) = try await h.active(agent: "ana")
        let kept = Self.report(session.id, at: h.now)
        _ = try await h.send(.reportHealth(sessions: [kept]))
        let later = h.now.addingTimeInterval(1)
        let implausible = [
            Self.report(session.id, at: later, frames: -1),
            Self.report(session.id, at: later, p50: 30, max: 20),
            Self.report(session.id, at: later, p50: nil, max: 20),
            Self.report(session.id, at: later, p50: -2, max: 20),
            Self.report(session.id, at: later, resyncs: -1),
            Self.report(session.id, at: later, window: 0),
            Self.report(session.id, at: later, window: 61_000),
        ]
        for report in implausible {
            let reply = try await h.send(.reportHealth(sessions: [kept, report]))
            #expect(reply.refusal?.code == .malformedRequest, "\(report)")
            #expect(reply.refusal?.message.contains("health report") == true)
        }
        let tooMany = (0...SessionHealth.perRequest).map { _ in Self.report(session.id, at: later) }
        #expect(try await h.send(.reportHealth(sessions: tooMany)).refusal?.code == .malformedRequest)
        let unreadable = await h.send(json: #"{"version":1,"command":"reportHealth","health":[{"sessionID":"12"}]}"#)
        #expect(unreadable.refusal?.code == .malformedRequest)
        #expect(try await supervise(h).sessions[0].health == kept, "nothing of a refused report was taken")
    }

    @Test(arguments: StoreKind.allCases)
    func theListCountsTheResyncsOfTheLastMinuteOfReports(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (session, _) = try await h.active(agent: "ana")
        _ = try await h.send(.reportHealth(sessions: [Self.report(session.id, at: h.now, resyncs: 2)]))
        h.advance(40)
        _ = try await h.send(.reportHealth(sessions: [Self.report(session.id, at: h.now, resyncs: 1)]))
        #expect(try await supervise(h).sessions[0].recentResyncs == 3)
        // A late report of an earlier window counts, without replacing the newest.
        _ = try await h.send(.reportHealth(sessions: [Self.report(session.id, at: h.now.addingTimeInterval(-2), frames: 99, resyncs: 4)]))
        let late = try await supervise(h).sessions[0]
        #expect(late.recentResyncs == 7 && late.health?.framesPassed == 10)
        h.advance(25)
        _ = try await h.send(.reportHealth(sessions: [Self.report(session.id, at: h.now)]))
        #expect(try await supervise(h).sessions[0].recentResyncs == 5, "the first report's two are over a minute old")
    }

    @Test(arguments: StoreKind.allCases)
    func theFiltersResyncRequestsAddUpInTheSessionsMaskingRecord(_ kind: StoreKind) async throws {
        let h = try await HandlerHarness(kind)
        let (session, _) = try await h.active(agent: "ana")
        var increment = MaskingRecord()
        increment.resyncRequests = 2
        _ = try await h.send(.recordMasking(session: session.id, record: increment)).get()
        increment.resyncRequests = 1
        _ = try await h.send(.recordMasking(session: session.id, record: increment)).get()
        #expect(try await h.send(.get(session: session.id)).get().masking?.resyncRequests == 3)
        increment.resyncRequests = -1
        #expect(try await h.send(.recordMasking(session: session.id, record: increment)).refusal?.code == .malformedRequest)
        #expect(try await h.send(.get(session: session.id)).get().masking?.resyncRequests == 3)
    }
}
