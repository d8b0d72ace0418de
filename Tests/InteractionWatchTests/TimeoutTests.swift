import AMQP
import CobrowseBroker
import CobrowseProtocol
import Foundation
import ServiceKit
import TestSupport
import Testing

/// Every timeout, end to end: relays report who is connected and how idle each session is,
/// the watch ends the session through the registry, and both parties are told why. The
/// timeouts are a few seconds here; the margins around them are generous, since these
/// machines are shared.
@Suite struct TimeoutTests {
    @Test func inactivityEndsMessagingFirstWhileChatAndVoiceGoOn() async throws {
        let suite = try await watchedStack("watch-inactivity", watch: [
            "INACTIVITY_TIMEOUT_MESSAGING": "3", "INACTIVITY_TIMEOUT_CHAT": "600", "INACTIVITY_TIMEOUT_VOICE": "0",
        ])
        defer { Task { await suite.stop() } }
        let messaging = try await sharedSession(suite, channel: .messaging)
        let chat = try await sharedSession(suite, channel: .chat)
        let voice = try await sharedSession(suite, channel: .voice)
        await expectBothTold(suite, messaging.sharer, messaging.agent, .inactivity)
        // Two more messaging timeouts later, the others are still live.
        try await Task.sleep(for: .seconds(6))
        #expect(try await registryView(chat.id, on: suite.url).state == .active)
        #expect(try await registryView(voice.id, on: suite.url).state == .active, "voice timed out for inactivity")
    }

    @Test func aCustomerOrAgentWhoKeepsDoingSomethingKeepsTheSessionAlive() async throws {
        // A timeout far above the 250 ms between actions, even on a machine busy with every suite.
        let suite = try await watchedStack("watch-activity", watch: ["INACTIVITY_TIMEOUT_MESSAGING": "4"])
        defer { Task { await suite.stop() } }
        let (sharer, agent, id) = try await sharedSession(suite, channel: .messaging)
        // Six seconds of the customer moving the mouse, then of the agent pointing: three timeouts.
        for seq in 1...24 {
            sharer.send(["t": "cursor", "seq": seq, "x": seq, "y": seq])
            try await Task.sleep(for: .milliseconds(250))
        }
        for step in 1...24 {
            agent.send(["t": "pointer", "x": step, "y": step])
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(try await registryView(id, on: suite.url).state == .active, "ended although someone was active")
        await expectBothTold(suite, sharer, agent, .inactivity)
    }

    @Test func aSessionNoAgentJoinsEndsAndTheCustomerIsTold() async throws {
        let suite = try await watchedStack("watch-no-agent", watch: ["NO_AGENT_TIMEOUT": "2"])
        defer { Task { await suite.stop() } }
        let (sharer, _) = try await suite.share()
        let ended = await sharer.next(type: "ended", within: .seconds(30))
        #expect(ended?["reason"] as? String == EndReason.noAgentJoined.rawValue)
    }

    @Test func theAgentsConsoleGoneLongerThanTheGraceEndsTheSessionAndAReloadDoesNot() async throws {
        // The grace leaves room for a join that takes seconds while every suite runs at once (one
        // CI run under a concurrent build took over 5 s to join: 6 s was too tight).
        let suite = try await watchedStack("watch-agent-gone", watch: ["AGENT_ABSENT_GRACE": "12"])
        defer { Task { await suite.stop() } }
        let (sharer, agent, id) = try await sharedSession(suite)
        // A reload: the console goes and comes back within the grace.
        let gone = ContinuousClock.now
        agent.close()
        try await Task.sleep(for: .seconds(1))
        let reloaded = try await suite.join(id, agent: try #require(await leadAgent(id, suite)))
        try await Task.sleep(until: gone + .seconds(13))
        #expect(try await registryView(id, on: suite.url).state == .active, "ended although the console came back")
        // Closed for good.
        reloaded.close()
        let ended = await sharer.next(type: "ended", within: .seconds(30))
        #expect(ended?["reason"] as? String == EndReason.agentAbsent.rawValue)
    }

    @Test func aGraceCountsFromWhenThePartyLeftNotFromTheRelaysLastReport() async throws {
        // Reports every 3 s, a 4 s grace, and the console closed 2.5 s after a report: counted
        // from that report, the session would end 1.5 s after the close.
        let suite = try await watchedStack("watch-grace-from-close", watch: ["AGENT_ABSENT_GRACE": "4"], reportInterval: "3")
        defer { Task { await suite.stop() } }
        let (sharer, agent, id) = try await sharedSession(suite)
        let reports = try await ExchangeTap(suite.url, exchange: CobrowseTopology.activityExchange, key: "#")
        // A report of the agent's relay that saw the agent (the sharer's relay reports on its own beat).
        var sawAgent = false
        while !sawAgent {
            let report = try JSONDecoder.cobrowse.decode(ActivityReport.self, from: try await reports.next())
            sawAgent = report.sessions.contains { $0.id.digits == id && $0.leads > 0 }
        }
        try await Task.sleep(for: .milliseconds(2500))
        let closed = ContinuousClock.now
        agent.close()
        let ended = await sharer.next(type: "ended", within: .seconds(30))
        let after = ContinuousClock.now - closed
        #expect(ended?["reason"] as? String == EndReason.agentAbsent.rawValue)
        #expect(after >= .seconds(4), "the session ended \(after) after the console closed, before the 4 s grace")
        await reports.connection.close()
    }

    @Test func theCustomersPageGoneLongerThanTheGraceEndsTheSessionAndTheNextPageDoesNot() async throws {
        let suite = try await watchedStack("watch-customer-gone", watch: ["CUSTOMER_ABSENT_GRACE": "6"])
        defer { Task { await suite.stop() } }
        let (sharer, started) = try await suite.share()
        let id = try #require(started["sessionId"] as? String)
        let key = try #require(started["customerKey"] as? String)
        let agent = try await suite.join(id)
        // The next page of the site: the socket goes, and the page resumes within the grace.
        let gone = ContinuousClock.now
        sharer.close()
        try await Task.sleep(for: .seconds(1))
        let nextPage = suite.socket(1, "/ws/share")
        nextPage.send(["t": "resume", "sessionId": id, "customerKey": key])
        #expect(await nextPage.next(type: "resumed") != nil)
        try await Task.sleep(until: gone + .seconds(13))
        #expect(try await registryView(id, on: suite.url).state == .active, "ended although the customer came back")
        // The tab closed.
        nextPage.close()
        let ended = await agent.next(type: "ended", within: .seconds(30))
        #expect(ended?["reason"] as? String == EndReason.customerAbsent.rawValue)
    }

    @Test func aRestartedWatchKeepsEveryTimeoutAndEndsEachSessionOnce() async throws {
        let suite = try await watchedStack("watch-restart", watch: ["NO_AGENT_TIMEOUT": "5"])
        defer { Task { await suite.stop() } }
        let ended = try await ExchangeTap(suite.url, key: "s.*.ended")
        let (first, _) = try await suite.share()
        let (second, _) = try await suite.share()
        // Killed outright, then a new one: it learns both sessions from the registry.
        let killed = try #require(suite.watch)
        kill(killed.process.processIdentifier, SIGKILL)
        _ = await killed.waitForExit()
        try await suite.startWatch(["NO_AGENT_TIMEOUT": "5"])
        for sharer in [first, second] {
            let notice = await sharer.next(type: "ended", within: .seconds(30))
            #expect(notice?["reason"] as? String == EndReason.noAgentJoined.rawValue)
        }
        // And once more: a third watch ends nothing again.
        try await suite.startWatch(["NO_AGENT_TIMEOUT": "5"])
        #expect(try await ended.count(settling: .seconds(3)) == 2)
    }
}

/// The lead agent of a session, from the registry.
func leadAgent(_ id: String, _ suite: SuiteFixture) async throws -> String? {
    try await registryView(id, on: suite.url).leadAgentID
}
