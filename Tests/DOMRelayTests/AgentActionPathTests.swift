import AMQP
import CobrowseProtocol
import CobrowseTokens
import Foundation
import HummingbirdTLS
import MaskingRules
import ServiceKit
import TestSupport
import Testing

@Suite struct AgentActionPathTests {
    /// A checkout page: a name field (10), a password (11), a form's submit button (12) with a
    /// label (13), a link (14).
    static func checkout() -> [String: Any] {
        [
            "t": "snapshot", "seq": 1, "url": "https://shop.example/checkout", "viewport": ["w": 800, "h": 600],
            "scroll": ["x": 0, "y": 0],
            "root": ["id": 1, "type": "element", "tag": "html", "children": [["id": 2, "type": "element", "tag": "body", "children": [
                ["id": 3, "type": "element", "tag": "form", "children": [
                    ["id": 10, "type": "element", "tag": "input", "attrs": ["name": "name"]],
                    ["id": 11, "type": "element", "tag": "input", "attrs": ["type": "password"]],
                    ["id": 12, "type": "element", "tag": "button", "children": [["id": 13, "type": "element", "tag": "span"]]],
                ]],
                ["id": 14, "type": "element", "tag": "a", "attrs": ["href": "/help"]],
            ]]]],
        ]
    }

    /// The sharer, the lead agent's console and a supervisor's, with the page mirrored.
    func joined(_ suite: SuiteFixture) async throws -> (sharer: SocketPeer, agent: SocketPeer, supervisor: SocketPeer) {
        let (sharer, started) = try await suite.share()
        let id = try #require(started["sessionId"] as? String)
        let agent = suite.socket(1, "/ws/view")
        agent.send(["t": "join", "agentToken": try await suite.tokens.agent("lead-\(UUID())"), "sessionId": id])
        #expect(await agent.next(type: "joined")?["role"] as? String == "lead")
        _ = try #require(await sharer.next(type: "resync"))
        sharer.send(frame(Self.checkout()))
        _ = try #require(await agent.next(type: "snapshot"))
        let supervisor = suite.socket(0, "/ws/view")
        supervisor.send(["t": "join", "agentToken": try await suite.tokens.agent("sup-\(UUID())", role: .supervisor), "sessionId": id])
        #expect(await supervisor.next(type: "joined")?["role"] as? String == "observer")
        return (sharer, agent, supervisor)
    }

    @Test func onlyARelayInDevModeOffersTheTestHooks() async throws {
        for devMode in [false, true] {
            let environment = devMode ? ["DEV_MODE": "1", "DEV_TOKEN_SECRET": ContactCenterTokens.secret] : [:]
            let suite = try await SuiteFixture("test-hooks-\(devMode)", relayEnvironment: environment)
            let (sharer, started) = try await suite.share()
            let id = try #require(started["sessionId"] as? String)
            let agent = suite.socket(1, "/ws/view")
            agent.send(["t": "join", "agentToken": try await suite.tokens.agent("hooks-\(UUID())"), "sessionId": id])
            let joined = try #require(await agent.next(type: "joined"))
            // In production the field is absent, not false: nothing in the answer names the hooks.
            #expect(started["testHooks"] as? Bool == (devMode ? true : nil), "started: \(started)")
            #expect(joined["testHooks"] as? Bool == (devMode ? true : nil), "joined: \(joined)")
            sharer.close()
            agent.close()
            await suite.stop()
        }
    }

    /// Open visits in a session notice: who is viewing now, as the customer's bar shows them.
    static func viewing(_ notice: [String: Any]?) -> [String] {
        let visits = (notice?["session"] as? [String: Any])?["visits"] as? [[String: Any]] ?? []
        return visits.filter { $0["leftAt"] == nil }.map { "\($0["role"] ?? "?"):\($0["name"] ?? "-")" }
    }

    @Test func observersJoiningAndLeavingReachTheCustomerAndStayInTheSessionsHistory() async throws {
        let suite = try await SuiteFixture("presence")
        defer { Task { await suite.stop() } }
        let (sharer, started) = try await suite.share()
        let id = try #require(started["sessionId"] as? String)
        let agent = suite.socket(1, "/ws/view")
        agent.send(["t": "join", "agentToken": try await suite.tokens.agent("lead-\(UUID())", name: "Ada"), "sessionId": id])
        #expect(await agent.next(type: "joined")?["role"] as? String == "lead")
        #expect(Self.viewing(await sharer.next(event: "activated")) == ["agent:Ada"])

        // A supervisor on the other relay: the customer's relay hears of it through the broker.
        let supervisorID = "sup-\(UUID())"
        let supervisor = suite.socket(0, "/ws/view")
        supervisor.send(["t": "join", "agentToken": try await suite.tokens.agent(supervisorID, role: .supervisor, name: "Sam"), "sessionId": id])
        #expect(await supervisor.next(type: "joined")?["role"] as? String == "observer")
        #expect(Self.viewing(await sharer.next(event: "observer-joined")) == ["agent:Ada", "supervisor:Sam"])

        // The supervisor's console closes: the visit ends, and the customer's bar is told.
        supervisor.close()
        let left = await sharer.next(event: "observer-left")
        #expect(Self.viewing(left) == ["agent:Ada"])
        #expect(Self.viewing(await agent.next(event: "observer-left")) == ["agent:Ada"], "the lead's console is told too")

        // The registry keeps the visit with both instants; the session's end closes the lead's.
        sharer.send(["t": "end"])
        let ended = try #require(await agent.next(event: "ended"))
        let visits = try #require((ended["session"] as? [String: Any])?["visits"] as? [[String: Any]])
        #expect(visits.count == 2)
        #expect(visits.allSatisfy { $0["joinedAt"] is String && $0["leftAt"] is String }, "\(visits)")
        #expect(visits.map { $0["agentID"] as? String }.last == supervisorID)
    }

    /// The next approved action of the same type as `action` within half a second. Earlier
    /// attempts of the previous `act` may be let through late (once the filter had the mode) and
    /// are still on their way: they are skipped, not taken for this one.
    func approvedAction(like action: [String: Any], reaching sharer: SocketPeer) async -> [String: Any]? {
        let deadline = ContinuousClock.now + .milliseconds(500)
        while ContinuousClock.now < deadline, let approved = await sharer.next(type: "action", within: deadline - ContinuousClock.now) {
            if let got = approved["action"] as? [String: Any], got["t"] as? String == action["t"] as? String { return got }
        }
        return nil
    }

    /// Sends an action until the filter has seen the latest mode (its lifecycle queue may lag
    /// the consoles' notices by a moment); returns what the sharer or the agent got.
    func act(_ action: [String: Any], agent: SocketPeer, sharer: SocketPeer, expecting reason: String? = nil) async -> [String: Any]? {
        for _ in 0..<20 {
            agent.send(action)
            if let reason {
                // Nothing back: the filter still had the old mode and let it through; again.
                guard let dropped = await agent.next(type: "action-dropped", within: .seconds(2)) else { continue }
                if dropped["reason"] as? String == reason { return dropped }
            } else if let approved = await approvedAction(like: action, reaching: sharer) {
                return approved
            } else {
                _ = await agent.next(type: "action-dropped", within: .milliseconds(100))
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    @Test func inPointerModeOnlyPointingAndAnnotationsReachTheCustomer() async throws {
        let suite = try await SuiteFixture("actions-pointer")
        defer { Task { await suite.stop() } }
        let (sharer, agent, supervisor) = try await joined(suite)

        agent.send(["t": "pointer", "x": 10, "y": 20])
        #expect(await sharer.next(type: "action")?["action"] as? [String: Any] as NSDictionary? == ["t": "pointer", "x": 10, "y": 20])
        agent.send(["t": "annotate", "x": 5, "y": 6])
        #expect((await sharer.next(type: "action")?["action"] as? [String: Any])?["t"] as? String == "annotate")

        agent.send(["t": "click", "id": 10])
        let dropped = try #require(await agent.next(type: "action-dropped"))
        #expect(dropped["reason"] as? String == "pointer-mode" && dropped["action"] as? String == "click")
        #expect((dropped["message"] as? String)?.contains("ask the customer") == true)

        supervisor.send(["t": "pointer", "x": 1, "y": 1])
        #expect(await supervisor.next(type: "error")?["code"] as? String == "not-allowed")
        supervisor.send(["t": "wave"])
        #expect(await supervisor.next(type: "error")?["code"] as? String == "not-supported")
    }

    @Test func writeModeComesOnlyWithConsentAndTheRulesStillHold() async throws {
        let suite = try await SuiteFixture("actions-write")
        defer { Task { await suite.stop() } }
        let (sharer, agent, _) = try await joined(suite)

        agent.send(["t": "request-write"])
        _ = try #require(await sharer.next(event: "mode-requested"))
        sharer.send(["t": "answer-write", "approve": true])
        let changed = try #require(await agent.next(event: "mode-changed"))
        #expect((changed["session"] as? [String: Any])?["mode"] as? String == "write")

        #expect(await act(["t": "click", "id": 10], agent: agent, sharer: sharer)?["id"] as? Int == 10)
        #expect(await act(["t": "type", "id": 10, "value": "Ada"], agent: agent, sharer: sharer)?["value"] as? String == "Ada")
        #expect(await act(["t": "navigate", "to": "url", "url": "/help"], agent: agent, sharer: sharer) != nil)
        #expect(await act(["t": "click", "id": 13], agent: agent, sharer: sharer, expecting: "disabled-element") != nil,
                "inside a form's submit button: the customer submits, never the agent")
        #expect(await act(["t": "type", "id": 11, "value": "x"], agent: agent, sharer: sharer, expecting: "masked-field") != nil)
        #expect(await act(["t": "navigate", "to": "url", "url": "https://evil.example/"], agent: agent, sharer: sharer,
                          expecting: "off-site") != nil)
        #expect(await act(["t": "click", "id": 999], agent: agent, sharer: sharer, expecting: "unknown-element") != nil)

        // The customer takes control back at any time.
        sharer.send(["t": "revoke-write"])
        _ = try #require(await agent.next(event: "mode-changed"))
        #expect(await act(["t": "click", "id": 10], agent: agent, sharer: sharer, expecting: "pointer-mode") != nil)
    }
}
