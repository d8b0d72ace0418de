import CobrowseProtocol
import Foundation
import TestSupport
import Testing

/// Voice codes through the relays, the broker and the registry: the agent's console asks for a
/// code over HTTP, the customer's SDK starts with it over its socket, and the console learns the
/// session it started.
@Suite struct VoiceCodeRelayTests {
    @Test func aCodeTheAgentReadsOutStartsTheCallsSessionWhichTheAgentThenLeads() async throws {
        let suite = try await SuiteFixture("voice-codes")
        defer { Task { await suite.stop() } }
        let console = suite.relays[1]
        let agentToken = try await suite.tokens.agent("ana-voice")
        let callToken = try await suite.tokens.interaction("call-77", channel: .voice)
        let body = try JSONSerialization.data(withJSONObject: ["agentToken": agentToken, "interactionToken": callToken])
        let issued = try #require(await console.exchange("POST", "/cobrowse/voice-codes", headers: ["Content-Type": "application/json"],
                                                          body: body, timeout: 30))
        #expect(issued.status == 201, "\(issued.body)")
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(issued.body.utf8)) as? [String: Any])
        let code = try #require(answer["code"] as? String)
        #expect(code.count == 6)
        #expect(answer["interactionID"] as? String == "call-77")
        #expect(answer["sessionID"] == nil)

        // A wrong code first: refused with its reason, and nothing started.
        let wrong = suite.socket(0, "/ws/share")
        wrong.send(["t": "start", "voiceCode": code == "000000" ? "000001" : "000000"])
        #expect(await wrong.next(type: "error")?["code"] as? String == "code-unknown")

        let sharer = suite.socket(0, "/ws/share")
        sharer.send(["t": "start", "voiceCode": code])
        let started = try #require(await sharer.next(type: "started"))
        let id = try #require(started["sessionId"] as? String)
        #expect((started["session"] as? [String: Any])?["channel"] as? String == "voice")

        // The console learns the session the code started, and joins it at once.
        let status = try #require(await console.exchange("GET", "/cobrowse/voice-codes/\(code)",
                                                          headers: ["Authorization": "Bearer \(agentToken)"], timeout: 30))
        #expect(status.status == 200)
        #expect(status.body.contains(#""sessionID":"\#(id)""#), "\(status.body)")
        _ = try await suite.join(id, agent: "ana-voice")

        // Single use.
        let again = suite.socket(0, "/ws/share")
        again.send(["t": "start", "voiceCode": code])
        #expect(await again.next(type: "error")?["code"] as? String == "code-used")

        // Bad input: a clear refusal, nothing issued.
        let bad = try #require(await console.request("POST", "/cobrowse/voice-codes", body: "{}"))
        #expect(bad.status == 400 && bad.body.contains("interactionToken"), "\(bad.body)")
        let chat = try JSONSerialization.data(withJSONObject: ["agentToken": agentToken,
                                                              "interactionToken": try await suite.tokens.interaction("chat-9", channel: .chat)])
        let notVoice = try #require(await console.exchange("POST", "/cobrowse/voice-codes", body: chat, timeout: 30))
        #expect(notVoice.status == 400 && notVoice.body.contains("not-voice"), "\(notVoice.body)")
        let noToken = try #require(await console.get("/cobrowse/voice-codes/\(code)"))
        #expect(noToken.status == 401)
    }
}
