import CobrowseProtocol
import Foundation
@testable import InteractionWatch
import Testing

/// The timeout rules on their own, with a clock the test moves.
@Suite struct SessionTimersTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    let limits = TimeoutLimits(inactivity: [.chat: 900, .messaging: 120], noAgent: 600, agentGrace: 60, customerGrace: 30)

    func view(_ digits: String, _ state: SessionState, channel: InteractionChannel = .chat, createdAt: Date? = nil) -> SessionView {
        SessionView(id: SessionID(digits)!, state: state, mode: .pointer, writeRequestPendingUntil: nil, interactionID: "ix",
                    channel: channel, leadAgentID: state == .active ? "ana" : nil, observers: [], createdAt: createdAt ?? t0,
                    joinedAt: state == .active ? t0 : nil, endedAt: nil, endReason: nil, endedBy: nil, modeChanges: [])
    }

    func event(_ kind: SessionEvent.Kind, _ view: SessionView) -> SessionEvent {
        SessionEvent(kind: kind, at: t0, by: .customer, session: view)
    }

    func report(_ digits: String, sharers: Int = 1, leads: Int = 1, idle: Int? = nil, relay: String = "r") -> ActivityReport {
        ActivityReport(relay: relay, sessions: [.init(id: SessionID(digits)!, sharers: sharers, leads: leads, observers: 0, idleMilliseconds: idle)])
    }

    /// A session created and joined at t0 on `channel`.
    func active(_ channel: InteractionChannel) -> SessionTimers {
        var timers = SessionTimers(limits: limits)
        timers.apply(event(.created, view("000000001", .idle, channel: channel)), now: t0)
        timers.apply(event(.activated, view("000000001", .active, channel: channel)), now: t0)
        return timers
    }

    /// Both parties stay connected (a report every 10 s up to `until`), saying nothing of activity.
    func present(_ timers: inout SessionTimers, until: TimeInterval) {
        for second in stride(from: 10.0, through: until, by: 10) {
            timers.apply(report("000000001"), receivedAt: t0 + second)
        }
    }

    @Test func aSessionNoAgentJoinedEndsAfterTheNoAgentTimeoutAndNotBefore() {
        var timers = SessionTimers(limits: limits)
        timers.apply(event(.created, view("000000001", .idle)), now: t0)
        for second in stride(from: 10.0, through: 620, by: 10) {
            timers.apply(report("000000001", leads: 0), receivedAt: t0 + second)
        }
        #expect(timers.due(now: t0 + 599).isEmpty)
        #expect(timers.due(now: t0 + 600).map(\.1) == [.noAgentJoined])
    }

    @Test func inactivityEndsMessagingAfterTwoMinutesChatAfterFifteenAndVoiceNever() {
        var messaging = active(.messaging)
        present(&messaging, until: 1000)
        #expect(messaging.due(now: t0 + 119).isEmpty)
        #expect(messaging.due(now: t0 + 120).map(\.1) == [.inactivity])
        var chat = active(.chat)
        present(&chat, until: 1000)
        #expect(chat.due(now: t0 + 899).isEmpty)
        #expect(chat.due(now: t0 + 900).map(\.1) == [.inactivity])
        var voice = active(.voice)
        present(&voice, until: 10_000)
        #expect(voice.due(now: t0 + 10_000).isEmpty)
    }

    @Test func activityReportedByARelayPostponesInactivity() {
        var timers = active(.messaging)
        present(&timers, until: 400)
        timers.apply(report("000000001", idle: 50_000), receivedAt: t0 + 300) // the last activity: t0+250
        #expect(timers.due(now: t0 + 369).isEmpty)
        #expect(timers.due(now: t0 + 370).map(\.1) == [.inactivity])
    }

    @Test func aReportCannotMoveActivityBackwards() {
        var timers = active(.messaging)
        present(&timers, until: 300)
        timers.apply(report("000000001", idle: 0), receivedAt: t0 + 100)
        timers.apply(report("000000001", idle: 100_000), receivedAt: t0 + 110) // another relay: idle since t0+10
        #expect(timers.due(now: t0 + 219).isEmpty, "activity at t0+100 counts even though a later report is older")
        #expect(timers.due(now: t0 + 220).map(\.1) == [.inactivity])
    }

    @Test func theCustomerGoneLongerThanTheGraceEndsTheSessionAndAShortAbsenceDoesNot() {
        var timers = active(.voice)
        timers.apply(report("000000001", sharers: 0), receivedAt: t0 + 20)
        timers.apply(report("000000001", sharers: 1), receivedAt: t0 + 29) // a reload: back within the grace
        #expect(timers.due(now: t0 + 58).isEmpty)
        timers.apply(report("000000001", sharers: 0), receivedAt: t0 + 40)
        #expect(timers.due(now: t0 + 59).map(\.1) == [.customerAbsent])
    }

    @Test func theAgentGoneLongerThanTheGraceEndsTheSession() {
        var timers = active(.voice)
        for second in stride(from: 5.0, through: 100, by: 5) {
            timers.apply(report("000000001", sharers: 1, leads: 0), receivedAt: t0 + second)
        }
        #expect(timers.due(now: t0 + 59).isEmpty)
        #expect(timers.due(now: t0 + 60).map(\.1) == [.agentAbsent])
    }

    @Test func anOutageOfTheWatchsBrokerIsChargedToNoOne() {
        var timers = active(.voice)
        present(&timers, until: 100)
        // The broker was gone from t0+100 to t0+400: longer than every grace and the relay silence.
        timers.excuse(unheard: 300)
        #expect(timers.due(now: t0 + 400).isEmpty)
        timers.apply(report("000000001", sharers: 1, leads: 1), receivedAt: t0 + 401)
        #expect(timers.due(now: t0 + 430).isEmpty)
        // The customer really left after the outage: charged from the relay's report that last saw them.
        timers.apply(report("000000001", sharers: 0, leads: 1), receivedAt: t0 + 405)
        #expect(timers.due(now: t0 + 430).isEmpty)
        #expect(timers.due(now: t0 + 431).map(\.1) == [.customerAbsent])
    }

    @Test func partiesOfASilentRelayAreChargedOnlyAfterTheRelaySilenceLimit() {
        var timers = active(.voice)
        present(&timers, until: 100) // relay r last saw both at t0+100, then fell silent
        // Another relay's reports about another session say nothing about r's parties.
        timers.apply(event(.created, view("000000002", .idle)), now: t0)
        for second in stride(from: 110.0, through: 300, by: 10) {
            timers.apply(report("000000002", relay: "other"), receivedAt: t0 + second)
        }
        let silence = limits.relaySilence
        #expect(timers.due(now: t0 + 100 + silence + limits.customerGrace - 1).isEmpty)
        #expect(timers.due(now: t0 + 100 + silence + limits.customerGrace).map(\.1) == [.customerAbsent])
    }

    @Test func aRelayThatReportsAgainWithoutThePartyChargesFromItsLastSighting() {
        var timers = active(.voice)
        present(&timers, until: 100)
        timers.apply(report("000000001", sharers: 0, leads: 1), receivedAt: t0 + 110)
        #expect(timers.due(now: t0 + 129).isEmpty)
        #expect(timers.due(now: t0 + 130).map(\.1) == [.customerAbsent])
    }

    @Test func aDueSessionIsOrderedToEndOnceUnlessTheOrderFailed() {
        var timers = active(.messaging)
        present(&timers, until: 200)
        #expect(timers.due(now: t0 + 200).count == 1)
        #expect(timers.due(now: t0 + 201).isEmpty)
        timers.endFailed(SessionID("000000001")!)
        #expect(timers.due(now: t0 + 202).count == 1)
        timers.forget(SessionID("000000001")!)
        #expect(timers.count == 0)
    }

    @Test func sessionsLearnedFromTheRegistryCountFromWhenTheyWereLearnedExceptTheNoAgentTimeout() {
        var timers = SessionTimers(limits: limits)
        let learned = t0 + 1000
        timers.reconcile(with: [view("000000001", .active, channel: .messaging), view("000000002", .idle)], now: learned)
        // Created at t0: no agent since then, so the idle one is overdue at once.
        #expect(timers.due(now: learned).map(\.0.digits) == ["000000002"])
        // The active one gets its full grace and inactivity from the moment it was learned.
        #expect(timers.due(now: learned + 29).isEmpty)
        timers.reconcile(with: [view("000000001", .active, channel: .messaging)], now: learned + 29)
        #expect(!timers.tracks(SessionID("000000002")!), "a session the registry no longer lists is forgotten")
    }

    @Test func anEndedEventForgetsTheSession() {
        var timers = active(.messaging)
        timers.apply(event(.ended, view("000000001", .ended)), now: t0 + 1)
        #expect(timers.count == 0)
        #expect(timers.due(now: t0 + 10_000).isEmpty)
    }
}
