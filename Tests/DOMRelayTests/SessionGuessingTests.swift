import CobrowseProtocol
import Foundation
import TestSupport
import Testing

/// Session-id guessing (issue 11, item 8): wrong ids and keys are limited per client address
/// (behind a trusted proxy, per `X-Forwarded-For`) and per agent, and "unknown" and "not yours"
/// answer alike. Through the real relays, registry and broker.
@Suite struct SessionGuessingTests {
    /// Both relays trust 127.0.0.1 as their proxy: `X-Forwarded-For` then says who the client is.
    static let behindProxy = ["TRUSTED_PROXIES": "127.0.0.1", "WRONG_ID_LIMIT": "10", "WRONG_ID_WINDOW": "60"]

    static func resume(_ suite: SuiteFixture, _ id: String, _ key: String, from address: String? = nil) -> SocketPeer {
        let socket = suite.socket(1, "/ws/share", headers: address.map { ["X-Forwarded-For": $0] } ?? [:])
        socket.send(["t": "resume", "sessionId": id, "customerKey": key])
        return socket
    }

    static func otherID(_ id: String) -> String { id == "000000001" ? "000000002" : "000000001" }

    @Test func elevenWrongResumesFromOneAddressAreThrottledWhileOtherAddressesAndTheCustomerGoOn() async throws {
        let suite = try await SuiteFixture("guess-resume", relayEnvironment: Self.behindProxy)
        defer { Task { await suite.stop() } }
        let (first, started) = try await suite.share()
        let id = try #require(started["sessionId"] as? String), key = try #require(started["customerKey"] as? String)
        first.close()

        for attempt in 0..<10 {
            let guess = Self.resume(suite, attempt.isMultiple(of: 2) ? id : Self.otherID(id), "guessed", from: "203.0.113.7")
            #expect(await guess.next(type: "error")?["code"] as? String == "unknown-session", "attempt \(attempt + 1)")
        }
        let eleventh = Self.resume(suite, id, "guessed", from: "203.0.113.7")
        let refusal = try #require(await eleventh.next(type: "error"))
        #expect(refusal["code"] as? String == "too-many-attempts")
        let retryAfter = try #require(refusal["retryAfter"] as? Int)
        #expect((1...60).contains(retryAfter))
        #expect(try await eleventh.closed()?.closeCode == .policyViolation)
        // The right key from the throttled address is refused too, unasked: the address is limited.
        let stillThrottled = Self.resume(suite, id, key, from: "203.0.113.7")
        #expect(await stillThrottled.next(type: "error")?["code"] as? String == "too-many-attempts")

        // The same address over HTTP: 429, Retry-After, the usual body.
        let end = await suite.relays[1].request("POST", "/cobrowse/end", headers: [
            "Content-Type": "text/plain", "Origin": "ws://127.0.0.1", "X-Forwarded-For": "203.0.113.7",
        ], body: frame(["sessionId": id, "customerKey": "guessed"]))
        #expect(end?.status == 429)
        let body = try #require((try? JSONSerialization.jsonObject(with: Data((end?.body ?? "").utf8))) as? [String: Any])
        #expect(body["code"] as? String == "too-many-attempts" && body["message"] is String)

        // Another address is not limited, and the real customer comes back with its key.
        let bystander = Self.resume(suite, Self.otherID(id), "guessed", from: "198.51.100.9")
        #expect(await bystander.next(type: "error")?["code"] as? String == "unknown-session")
        let customer = Self.resume(suite, id, key, from: "198.51.100.20")
        #expect(await customer.next(type: "resumed")?["sessionId"] as? String == id)
        // The relay itself counts them.
        let metrics = await suite.relays[1].request("GET", "/metrics")?.body ?? ""
        #expect(metrics.contains("cobrowse_relay_wrong_attempts_total{kind=\"resume\"} 11"), "\(metrics.split(separator: "\n").filter { $0.contains("attempts") || $0.contains("throttled") })")
        #expect(metrics.contains("cobrowse_relay_throttled_total{kind=\"resume\"} 2"))
        #expect(metrics.contains("cobrowse_relay_throttled_total{kind=\"end\"} 1"))
    }

    @Test func aForgedForwardedForIsIgnoredWithoutTrustedProxies() async throws {
        let suite = try await SuiteFixture("guess-forged-xff")
        defer { Task { await suite.stop() } }
        for attempt in 0..<10 {
            let guess = Self.resume(suite, "000000001", "guessed", from: "203.0.113.\(attempt)")
            #expect(await guess.next(type: "error")?["code"] as? String == "unknown-session")
        }
        // Every one of them came from 127.0.0.1, whatever the header said.
        let eleventh = Self.resume(suite, "000000001", "guessed", from: "198.51.100.1")
        #expect(await eleventh.next(type: "error")?["code"] as? String == "too-many-attempts")
    }

    @Test func aLiveIDWithAWrongCredentialAndAnUnknownIDAnswerAlike() async throws {
        let suite = try await SuiteFixture("guess-one-answer")
        defer { Task { await suite.stop() } }
        let (_, started) = try await suite.share()
        let id = try #require(started["sessionId"] as? String)
        _ = try await suite.join(id)

        func socketAnswer(_ path: String, _ message: [String: Any]) async -> String? {
            let socket = suite.socket(1, path)
            socket.send(message)
            return await socket.next()
        }
        let wrongKey = await socketAnswer("/ws/share", ["t": "resume", "sessionId": id, "customerKey": "guessed"])
        let unknown = await socketAnswer("/ws/share", ["t": "resume", "sessionId": Self.otherID(id), "customerKey": "guessed"])
        #expect(wrongKey != nil && wrongKey == unknown)
        #expect(wrongKey?.contains("unknown-session") == true)

        // A session another agent leads answers as an unknown one does.
        let token = try await suite.tokens.agent("carla")
        let taken = await socketAnswer("/ws/view", ["t": "join", "agentToken": token, "sessionId": id])
        let nowhere = await socketAnswer("/ws/view", ["t": "join", "agentToken": token, "sessionId": Self.otherID(id)])
        #expect(taken != nil && taken == nowhere)

        func end(_ session: String) async -> (status: Int, body: String)? {
            await suite.relays[1].request("POST", "/cobrowse/end", headers: ["Content-Type": "text/plain", "Origin": "ws://127.0.0.1"],
                                          body: frame(["sessionId": session, "customerKey": "guessed"]))
        }
        let endWrongKey = await end(id), endUnknown = await end(Self.otherID(id))
        #expect(endWrongKey?.status == 404 && endWrongKey?.status == endUnknown?.status && endWrongKey?.body == endUnknown?.body)
    }

    @Test func wrongJoinsLimitTheAgentOnEveryAddressButAForgedTokenNeverDoes() async throws {
        let suite = try await SuiteFixture("guess-join", relayEnvironment: Self.behindProxy)
        defer { Task { await suite.stop() } }
        func join(_ token: String, _ session: String, from address: String) async -> [String: Any]? {
            let viewer = suite.socket(1, "/ws/view", headers: ["X-Forwarded-For": address])
            viewer.send(["t": "join", "agentToken": token, "sessionId": session])
            return await viewer.nextJSON()
        }
        // A forged token naming agent "dana" (her real token with its signature changed), from one address.
        let dana = try await suite.tokens.agent("dana")
        let forged = String(dana.dropLast(6)) + (dana.hasSuffix("AAAAAA") ? "BBBBBB" : "AAAAAA")
        for _ in 0..<10 { #expect(await join(forged, "000000001", from: "203.0.113.50")?["code"] as? String == "invalid-token") }
        #expect(await join(forged, "000000001", from: "203.0.113.50")?["code"] as? String == "too-many-attempts")
        // Dana herself is not limited by it: she joins a real session from her own address.
        let (_, started) = try await suite.share()
        let id = try #require(started["sessionId"] as? String)
        #expect(await join(dana, id, from: "198.51.100.60")?["t"] as? String == "joined")

        // Agent "eve" guesses ids from ever new addresses: the agent is limited wherever she comes from.
        let eve = try await suite.tokens.agent("eve")
        for attempt in 0..<10 {
            #expect(await join(eve, String(format: "%09d", 100 + attempt), from: "198.51.100.\(100 + attempt)")?["code"] as? String == "unknown-session")
        }
        let throttled = await join(eve, "000000200", from: "198.51.100.200")
        #expect(throttled?["code"] as? String == "too-many-attempts" && throttled?["retryAfter"] is Int)
        // Another agent from that same new address is not.
        let fay = try await suite.tokens.agent("fay")
        #expect(await join(fay, "000000201", from: "198.51.100.200")?["code"] as? String == "unknown-session")
    }

    @Test func invalidUTF8InATextFrameClosesEitherSocketWith1007() async throws {
        let suite = try await SuiteFixture("invalid-utf8")
        defer { Task { await suite.stop() } }
        for path in ["/ws/share", "/ws/view"] {
            let socket = suite.socket(0, path)
            socket.sendRawText([0x7B, 0x22, 0x74, 0x22, 0x3A, 0x22, 0xC3, 0x28, 0x22, 0x7D]) // {"t":"\xC3(\"}
            #expect(try await socket.closed()?.closeCode == .dataInconsistentWithMessage, "\(path)")
        }
        // And after the opening message too.
        let (sharer, _) = try await suite.share()
        sharer.sendRawText([0xFF, 0xFE])
        #expect(try await sharer.closed()?.closeCode == .dataInconsistentWithMessage)
    }
}
