import AMQP
import CobrowseProtocol
import CobrowseTokens
import Foundation
import HummingbirdTLS
import MaskingRules
import ServiceKit
import TestSupport
import Testing

/// A login page as the SDK would serialize it, with a password and a script.
func loginSnapshot(seq: Int = 1) -> [String: Any] {
    [
        "t": "snapshot", "seq": seq, "url": "https://shop.example/login", "viewport": ["w": 1280, "h": 800],
        "scroll": ["x": 0, "y": 0],
        "root": ["id": 1, "type": "element", "tag": "html", "children": [
            ["id": 2, "type": "element", "tag": "body", "children": [
                ["id": 3, "type": "element", "tag": "input", "attrs": ["type": "password", "value": "hunter2"], "value": "hunter2"],
                ["id": 4, "type": "element", "tag": "script", "children": [["id": 5, "type": "text", "text": "steal()"]]],
                ["id": 6, "type": "element", "tag": "p", "children": [["id": 7, "type": "text", "text": "日本語のカート"]]],
            ]],
        ]],
    ]
}

@Suite struct RelayIntegrationTests {
    @Test func sharerOnOneRelayAndAgentOnAnotherSeeTheMaskedStreamUntilTheEnd() async throws {
        let suite = try await SuiteFixture("relay-path")
        defer { Task { await suite.stop() } }
        let (sharer, started) = try await suite.share()
        let sessionID = try #require(started["sessionId"] as? String)
        #expect(SessionID(sessionID) != nil)
        #expect((started["customerKey"] as? String)?.isEmpty == false)

        let viewer = suite.socket(1, "/ws/view")
        viewer.send(["t": "join", "agentToken": try await suite.tokens.agent("ana"), "sessionId": sessionID])
        let joined = try #require(await viewer.next(type: "joined"))
        #expect((joined["session"] as? [String: Any])?["state"] as? String == "active")

        // The viewer's join asks the sharer (on the other relay) for a snapshot.
        let resync = try #require(await sharer.next(type: "resync"))
        #expect((resync["reason"] as? String)?.contains("viewer") == true)
        sharer.send(frame(loginSnapshot()))
        sharer.send(frame(["t": "input", "seq": 2, "id": 3, "value": "hunter2!"]))

        let snapshot = try #require(await viewer.next(type: "snapshot"))
        let text = frame(snapshot)
        #expect(!text.contains("hunter2") && !text.contains("steal()"), "leaked: \(text)")
        #expect(text.contains("日本語のカート"))
        let input = try #require(await viewer.next(type: "input"))
        #expect(input["value"] as? String == "****")

        // The customer ends it: both sides are told why and closed.
        sharer.send(["t": "end", "seq": 3])
        let viewerEnd = try #require(await viewer.next(type: "ended"))
        #expect(viewerEnd["reason"] as? String == "customer-exited")
        #expect(await sharer.next(type: "ended")?["reason"] as? String == "customer-exited")
        #expect(try await viewer.closed()?.reason?.contains("customer-exited") == true)

        // What operators see: the live path measured on the viewer's relay, frames and bytes
        // counted both ways, and no secret, token or page content in any service's log.
        let metrics = try #require(await suite.relays[1].get("/metrics")?.body)
        #expect(metrics.contains("cobrowse_live_path_seconds_count 2"), "\(metrics)")
        #expect(metrics.contains(#"cobrowse_relay_frames_total{direction="out",side="viewer"}"#))
        let sharerMetrics = try #require(await suite.relays[0].get("/metrics")?.body)
        #expect(sharerMetrics.contains(#"cobrowse_relay_bytes_total{direction="in",side="sharer"}"#))
        for process in suite.processes {
            for secret in ["hunter2", "steal()", "日本語", "eyJ"] {
                #expect(!process.log.contains(secret), "\(process.name) logged '\(secret)'")
            }
        }
        #expect(suite.relays[1].log.contains("session=\(sessionID)"), "the relay's log names the session")
    }

    @Test func refusalsReachTheBrowserWithTheRegistrysReasonAndClose() async throws {
        let suite = try await SuiteFixture("relay-refusals")
        defer { Task { await suite.stop() } }
        let forged = suite.socket(0, "/ws/share")
        forged.send(["t": "start", "interactionToken": "not.a.token"])
        #expect(await forged.next(type: "error")?["code"] as? String == "invalid-token")
        #expect(try await forged.closed()?.closeCode == .policyViolation)

        let lost = suite.socket(1, "/ws/view")
        lost.send(["t": "join", "agentToken": try await suite.tokens.agent("bo"), "sessionId": "000000000"])
        #expect(await lost.next(type: "error")?["code"] as? String == "unknown-session")

        let rude = suite.socket(0, "/ws/view")
        rude.send("hello?")
        #expect(await rude.next(type: "error")?["code"] as? String == "malformed-request")
    }

    @Test func badFramesGetAnErrorAndTheSocketStaysOpen() async throws {
        let suite = try await SuiteFixture("relay-badframes")
        defer { Task { await suite.stop() } }
        let (sharer, started) = try await suite.share()
        let sessionID = try #require(started["sessionId"] as? String)
        sharer.send("{not json")
        #expect(await sharer.next(type: "error")?["code"] as? String == "malformed-frame")
        sharer.send(frame(["t": "cursor", "x": 1]))
        #expect((await sharer.next(type: "error")?["message"] as? String)?.contains("seq") == true)

        let viewer = suite.socket(1, "/ws/view")
        viewer.send(["t": "join", "agentToken": try await suite.tokens.agent("cy"), "sessionId": sessionID])
        _ = await viewer.next(type: "joined")
        _ = await sharer.next(type: "resync")
        sharer.send(frame(loginSnapshot()))
        #expect(await viewer.next(type: "snapshot") != nil, "the socket kept working after bad frames")
    }

    @Test func givenACertificateTheRelayServesHTTPSAndWSS() async throws {
        let tlsDir = try TestBroker.environment("COBROWSE_TEST_TLS_DIR")
        let suite = try await SuiteFixture("relay-tls")
        defer { Task { await suite.stop() } }
        let relay = try ServiceProcess("dom-relay", environment: [
            "AMQP_URL": suite.url, "ALLOWED_ORIGINS": "*", "TLS_CERT_FILE": "\(tlsDir)/server.pem", "TLS_KEY_FILE": "\(tlsDir)/server.key",
        ])
        defer { Task { await relay.terminate() } }
        // The certificate is for localhost, signed by the test CA.
        func curl(_ url: String) async throws -> String {
            try await CommandRun.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3",
                                                       "--cacert", "\(tlsDir)/ca.pem", url]).stdout
        }
        let ready = await eventually {
            guard relay.httpPort > 0 else { return false }
            return (try? await curl("https://localhost:\(relay.httpPort)/ready")) == "200"
        }
        #expect(ready, "log:\n\(relay.log)")
        #expect(try await curl("http://localhost:\(relay.httpPort)/ready") != "200", "plain HTTP is served too")

        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file("\(tlsDir)/ca.pem")
        let sharer = SocketPeer("wss://localhost:\(relay.httpPort)/ws/share", tls: tls)
        sharer.send(["t": "start", "interactionToken": try await suite.tokens.interaction()])
        #expect(await sharer.next(type: "started") != nil)
    }

    @Test func aTLSCertificateWithoutItsKeyIsRefusedAtStart() async throws {
        let relay = try ServiceProcess("dom-relay", environment: ["AMQP_URL": try TestBroker.url(), "TLS_CERT_FILE": "/etc/hostname"])
        #expect(await relay.waitForExit() == 2)
        #expect(await eventually { relay.log.contains("TLS_KEY_FILE") })
    }

    @Test func anIngestBatchWindowOutOfRangeIsRefusedAtStartNamingTheVariable() async throws {
        let relay = try ServiceProcess("dom-relay", environment: ["AMQP_URL": try TestBroker.url(), "INGEST_BATCH_WINDOW": "5000"])
        #expect(await relay.waitForExit() == 2)
        #expect(await eventually { relay.log.contains("INGEST_BATCH_WINDOW") })
    }

    @Test func aDrainedRelayClosesItsSocketsAndTheSharerResumesOnAnother() async throws {
        let suite = try await SuiteFixture("relay-drain")
        defer { Task { await suite.stop() } }
        let (sharer, started) = try await suite.share(on: 0)
        let id = try #require(started["sessionId"] as? String)
        let key = try #require(started["customerKey"] as? String)
        let viewer = try await suite.join(id, on: 1)
        _ = try #require(await sharer.next(type: "resync"))

        // SIGTERM: the WebSocket layer closes every socket (normal closure), and the relay exits.
        #expect(await suite.relays[0].terminate() == 0, "the relay did not stop cleanly: \(suite.relays[0].log)")
        _ = try? await sharer.closed()
        #expect(sharer.isClosed)
        // What the SDK does next: resume on whichever relay the load balancer picks.
        let resumed = suite.socket(1, "/ws/share")
        resumed.send(["t": "resume", "sessionId": id, "customerKey": key])
        #expect(await resumed.next(type: "resumed") != nil)
        resumed.send(frame(loginSnapshot(seq: 1)))
        #expect(await viewer.next(type: "snapshot") != nil, "the viewer lost the stream when the sharer's relay drained")
    }

    @Test func aFrameOverTheLimitClosesTheSocket() async throws {
        let suite = try await SuiteFixture("relay-oversize", relayEnvironment: ["MAX_FRAME_BYTES": "65536"])
        defer { Task { await suite.stop() } }
        let (sharer, _) = try await suite.share()
        sharer.send(frame(["t": "cursor", "seq": 1, "pad": String(repeating: "x", count: 100_000)]))
        // The relay answers 1009 and closes at once, with the rest of the frame unread; the
        // kernel may then reset the connection before the client reads the close frame. Either
        // way the socket is gone, and a close frame, when it arrives, says why.
        let close = try? await sharer.closed()
        #expect(close == nil || close?.closeCode == .messageTooLarge, "closed with \(String(describing: close))")
        // (Messages that came before the close, such as the `created` notice, may still be unread.)
        #expect(sharer.isClosed, "the socket is closed")

        #expect((try? await suite.share()) != nil, "the relay goes on serving")
    }

    /// The HTTP status of a WebSocket upgrade request with exactly one `Origin` (curl, as a
    /// browser would send it; the test WebSocket client always adds its own origin).
    func upgradeStatus(port: Int, origin: String?, upgrade: Bool = true) async throws -> String {
        try await CommandRun.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3", "--http1.1"]
            + (upgrade ? ["-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H", "Sec-WebSocket-Version: 13",
                          "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="] : [])
            + (origin.map { ["-H", "Origin: \($0)"] } ?? []) + ["http://127.0.0.1:\(port)/ws/share"]).stdout
    }

    @Test func pagesFromOtherOriginsCannotOpenSockets() async throws {
        let suite = try await SuiteFixture("relay-origin", relayEnvironment: ["ALLOWED_ORIGINS": "https://shop.example"])
        defer { Task { await suite.stop() } }
        let port = suite.relays[0].httpPort
        // A declined upgrade is answered 400 by the WebSocket layer; no socket is opened.
        #expect(try await upgradeStatus(port: port, origin: "https://evil.example") == "400")
        #expect(try await upgradeStatus(port: port, origin: "https://shop.example") == "101")
        #expect(try await upgradeStatus(port: port, origin: nil) == "101", "programs without an Origin prove themselves with tokens")
        // Without the upgrade the relay itself answers, and says why.
        #expect(try await upgradeStatus(port: port, origin: "https://evil.example", upgrade: false) == "403")
        #expect(try await upgradeStatus(port: port, origin: "https://shop.example", upgrade: false) == "426")
    }

    @Test func withoutAListOnlyTheRelaysOwnOriginMayConnect() async throws {
        let suite = try await SuiteFixture("relay-own-origin", relayEnvironment: ["ALLOWED_ORIGINS": ""])
        defer { Task { await suite.stop() } }
        let port = suite.relays[0].httpPort
        #expect(try await upgradeStatus(port: port, origin: "http://127.0.0.1:\(port)") == "101")
        #expect(try await upgradeStatus(port: port, origin: "http://127.0.0.1:1") == "400")
        #expect(try await upgradeStatus(port: port, origin: "https://evil.example") == "400")
    }

    @Test func aSharerComesBackWithItsKeyAndOnlyWithIt() async throws {
        let suite = try await SuiteFixture("relay-resume")
        defer { Task { await suite.stop() } }
        let (first, started) = try await suite.share()
        let id = try #require(started["sessionId"] as? String), key = try #require(started["customerKey"] as? String)
        first.close()

        let impostor = suite.socket(1, "/ws/share")
        impostor.send(["t": "resume", "sessionId": id, "customerKey": "guessed"])
        // The same answer as for an id that does not exist (issue 11, item 8).
        #expect(await impostor.next(type: "error")?["code"] as? String == "unknown-session")

        let back = suite.socket(1, "/ws/share")
        back.send(["t": "resume", "sessionId": id, "customerKey": key])
        #expect(await back.next(type: "resumed")?["sessionId"] as? String == id)
    }

    @Test func aCustomerWithoutASocketEndsTheSessionOverHTTPWithItsKeyAndOnlyWithIt() async throws {
        let suite = try await SuiteFixture("relay-http-end")
        defer { Task { await suite.stop() } }
        let (sharer, started) = try await suite.share()
        let id = try #require(started["sessionId"] as? String), key = try #require(started["customerKey"] as? String)
        let agent = try await suite.join(id)
        sharer.close() // reconnecting, say, after its relay went away
        let relay = suite.relays[1]
        func end(_ body: String, origin: String = "ws://127.0.0.1") async -> (status: Int, body: String)? {
            // As a beacon sends it: text/plain, the page's origin.
            await relay.request("POST", "/cobrowse/end", headers: ["Content-Type": "text/plain;charset=UTF-8", "Origin": origin], body: body)
        }
        func refusal(_ answer: (status: Int, body: String)?) -> String? {
            (try? JSONSerialization.jsonObject(with: Data((answer?.body ?? "").utf8)) as? [String: Any])?["code"] as? String
        }

        let malformed = await end("{\"sessionId\": \(id)}")
        #expect(malformed?.status == 400 && refusal(malformed) == "malformed-request")
        let foreign = await end(frame(["sessionId": id, "customerKey": key]), origin: "https://evil.example")
        #expect(foreign?.status == 403)
        let guessed = await end(frame(["sessionId": id, "customerKey": "guessed"]))
        // The same answer as for an unknown id: a wrong key does not say the session exists.
        #expect(guessed?.status == 404 && refusal(guessed) == "unknown-session")
        #expect(guessed?.body == (await end(frame(["sessionId": id == "000000001" ? "000000002" : "000000001", "customerKey": key])))?.body)
        let unknown = await end(frame(["sessionId": id == "000000001" ? "000000002" : "000000001", "customerKey": key]))
        #expect(unknown?.status == 404 && refusal(unknown) == "unknown-session")
        #expect(await agent.nothing(ofType: "ended", within: .milliseconds(300)), "a refused end ended the session")

        let ended = await end(frame(["sessionId": id, "customerKey": key]))
        #expect(ended?.status == 204)
        let notice = try #require(await agent.next(type: "ended"))
        #expect(notice["reason"] as? String == EndReason.customerExited.rawValue)
        let again = await end(frame(["sessionId": id, "customerKey": key]))
        #expect(again?.status == 409 && refusal(again) == "session-ended")
    }
}

@Suite struct RelayStreamNoticeTests {
    @Test func whenTheSharersSocketGoesAwayTheViewerIsToldTheStreamPaused() async throws {
        let suite = try await SuiteFixture("relay-paused")
        defer { Task { await suite.stop() } }
        let (sharer, started) = try await suite.share()
        #expect(started["maxFrameBytes"] as? Int == 4_194_304, "the SDK learns the frame limit")
        let id = try #require(started["sessionId"] as? String), key = try #require(started["customerKey"] as? String)
        let viewer = suite.socket(1, "/ws/view")
        viewer.send(["t": "join", "agentToken": try await suite.tokens.agent("pia"), "sessionId": id])
        _ = try #require(await sharer.next(type: "resync"))
        sharer.send(frame(loginSnapshot().merging(["stream": "socket-1"]) { $1 }))
        sharer.send(frame(["t": "cursor", "seq": 2, "x": 5, "y": 6]))
        _ = try #require(await viewer.next(type: "cursor"))

        sharer.close() // the customer left the site
        let paused = try #require(await viewer.next(type: "paused"))
        #expect(paused["seq"] as? Int == 3, "in sequence after the cursor")
        #expect(paused["stream"] as? String == "socket-1", "naming the connection that went away")

        // The customer comes back on another relay: the snapshot ends the pause.
        let back = suite.socket(1, "/ws/share")
        back.send(["t": "resume", "sessionId": id, "customerKey": key])
        _ = try #require(await back.next(type: "resumed"))
        back.send(frame(loginSnapshot()))
        #expect(await viewer.next(type: "snapshot") != nil)
    }

    @Test func aViewerThatSawAGapGetsASnapshotByAskingForIt() async throws {
        let suite = try await SuiteFixture("relay-viewer-resync")
        defer { Task { await suite.stop() } }
        let (sharer, started) = try await suite.share()
        let id = try #require(started["sessionId"] as? String)
        let viewer = suite.socket(1, "/ws/view")
        viewer.send(["t": "join", "agentToken": try await suite.tokens.agent("quin"), "sessionId": id])
        _ = try #require(await sharer.next(type: "resync"))

        viewer.send(["t": "resync"])
        let resync = try #require(await sharer.next(type: "resync"))
        #expect((resync["reason"] as? String)?.contains("gap") == true)

        viewer.send(["t": "type-this"])
        #expect(await viewer.next(type: "error")?["code"] as? String == "not-supported", "anything else is answered, not dropped")
    }
}
