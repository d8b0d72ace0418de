import CobrowseProtocol
import Foundation
import TestSupport
import Testing

/// The supervisor's live view through the whole path: a real masking filter reports each
/// session's health to the registry over the broker, and a relay answers a supervisor's
/// `GET /cobrowse/supervision` with the live sessions and that health.
@Suite struct SupervisionRelayTests {
    /// The supervisor's list as a relay answers it: status and body.
    func supervision(_ suite: SuiteFixture, token: String?) async throws -> (status: Int, body: String) {
        let answer = try #require(await suite.relays[1].exchange("GET", "/cobrowse/supervision",
                                                                 headers: token.map { ["Authorization": "Bearer \($0)"] } ?? [:],
                                                                 timeout: 30))
        return (answer.status, answer.body)
    }

    /// Asks until `condition` holds for the list (the filter reports every 2 s), or 60 s passed.
    func supervision(_ suite: SuiteFixture, token: String,
                     until condition: (Supervision) -> Bool) async throws -> Supervision {
        let deadline = ContinuousClock.now + .seconds(60)
        var last: Supervision?
        while ContinuousClock.now < deadline {
            let (status, body) = try await supervision(suite, token: token)
            #expect(status == 200, "\(body)")
            let list = try JSONDecoder.cobrowse.decode(Supervision.self, from: Data(body.utf8))
            if condition(list) { return list }
            last = list
            try await Task.sleep(for: .milliseconds(250))
        }
        throw TestBroker.Failure("the supervisor's list never showed what was awaited; last: \(String(describing: last))")
    }

    @Test func aSupervisorSeesTheLiveSessionsWithTheirLeadObserversAndTheFiltersHealth() async throws {
        let suite = try await SuiteFixture("supervision")
        defer { Task { await suite.stop() } }
        let (waiting, waitingStarted) = try await suite.share(channel: .voice)
        _ = waiting
        let waitingID = try #require(waitingStarted["sessionId"] as? String)
        let (sharer, started) = try await suite.share(channel: .messaging)
        let sessionID = try #require(started["sessionId"] as? String)

        let lead = suite.socket(1, "/ws/view")
        lead.send(["t": "join", "agentToken": try await suite.tokens.agent("ana", name: "Ana Ruiz"), "sessionId": sessionID])
        #expect(await lead.next(type: "joined") != nil)
        _ = try #require(await sharer.next(type: "resync"))
        sharer.send(frame(loginSnapshot()))
        #expect(await lead.next(type: "snapshot") != nil)
        sharer.send(frame(["t": "input", "seq": 2, "id": 3, "value": "hunter2!"]))
        #expect(await lead.next(type: "input") != nil)

        let supervisor = try await suite.tokens.agent("sam", role: .supervisor, name: "Sam Lee")
        let list = try await supervision(suite, token: supervisor) { list in
            list.sessions.first { $0.sessionID.digits == sessionID }?.health.map { $0.framesPassed > 0 || $0.lastFrameAt != nil } == true
        }
        #expect(list.sessions.map(\.sessionID.digits) == [waitingID, sessionID], "live sessions, oldest first")
        let idle = list.sessions[0]
        #expect(idle.state == .idle && idle.channel == .voice && idle.leadAgentID == nil)
        let row = list.sessions[1]
        #expect(row.state == .active && row.mode == .pointer && row.channel == .messaging)
        #expect(row.leadAgentID == "ana" && row.leadAgentName == "Ana Ruiz" && row.observers.isEmpty)
        #expect(row.recentResyncs >= 1, "the lead's join asked the page for a snapshot")
        #expect(row.healthStatus != .unknown)
        let health = try #require(row.health)
        #expect(health.lastFrameAt != nil && health.isPlausible)
        if health.framesPassed > 0 {
            #expect(health.latencyP50Milliseconds != nil && health.latencyMaxMilliseconds != nil)
        }

        // The supervisor observes: the list names them among the viewers.
        let observer = suite.socket(1, "/ws/view")
        observer.send(["t": "join", "agentToken": supervisor, "sessionId": sessionID])
        #expect(await observer.next(type: "joined") != nil)
        let watched = try await supervision(suite, token: supervisor) { list in
            list.sessions.first { $0.sessionID.digits == sessionID }?.observers.map(\.agentID) == ["sam"]
        }
        #expect(watched.sessions.first { $0.sessionID.digits == sessionID }?.observers.first?.name == "Sam Lee")

        // The customer ends it: it leaves the list.
        sharer.send(["t": "end", "seq": 3])
        #expect(await sharer.next(type: "ended") != nil)
        let after = try await supervision(suite, token: supervisor) { list in
            !list.sessions.contains { $0.sessionID.digits == sessionID }
        }
        #expect(after.sessions.map(\.sessionID.digits) == [waitingID])
    }

    @Test func theListIsForSupervisorsAloneAndSaysWhyNot() async throws {
        let suite = try await SuiteFixture("supervision-refusals")
        defer { Task { await suite.stop() } }
        let none = try await supervision(suite, token: nil)
        #expect(none.status == 401 && none.body.contains("invalid-token"), "\(none.body)")
        let agent = try await supervision(suite, token: try await suite.tokens.agent("ana"))
        #expect(agent.status == 403 && agent.body.contains("not-allowed") && agent.body.contains("supervisor"), "\(agent.body)")
        let forged = try await supervision(suite, token: "eyJhbGciOiJIUzI1NiJ9.e30.bad")
        #expect(forged.status == 400 && forged.body.contains("invalid-token"), "\(forged.body)")
        let expired = try await supervision(suite, token: try await suite.tokens.agent("sam", role: .supervisor,
                                                                                        expires: Date().addingTimeInterval(-60)))
        #expect(expired.status == 400 && expired.body.contains("expired-token"), "\(expired.body)")
        let empty = try await supervision(suite, token: try await suite.tokens.agent("sam", role: .supervisor))
        #expect(empty.status == 200 && empty.body.contains(#""sessions":[]"#), "\(empty.body)")
    }
}
