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

@Suite struct RelayWebTests {
    @Test func theSDKAndTheConsoleAreServedAndDevEndpointsExistOnlyInDevMode() async throws {
        let url = try await TestBroker.isolatedVirtualHost("relay-web")
        let production = try await ServiceProcess.ready("dom-relay", environment: ["AMQP_URL": url])
        let dev = try await ServiceProcess.ready("dom-relay", environment: [
            "AMQP_URL": url, "DEV_MODE": "1", "DEV_TOKEN_SECRET": ContactCenterTokens.secret,
        ])
        defer { Task { _ = await production.terminate(); _ = await dev.terminate() } }

        for relay in [production, dev] {
            let sdk = await relay.get("/cobrowse.js")
            #expect(sdk?.status == 200 && sdk?.body.contains("CoBrowse") == true)
            #expect(await relay.get("/agent/")?.status == 200)
        }
        #expect(await production.get("/demo/")?.status == 404)
        #expect(await production.get("/dev/agent-token?agent=ana")?.status == 404)
        #expect(await production.get("/dev/interaction-token")?.status == 404)

        #expect(await dev.get("/demo/")?.status == 200)
        let agent = try #require(await dev.get("/dev/agent-token?agent=ana"))
        #expect(agent.status == 200 && agent.body.contains("\"token\""))
        #expect(await dev.get("/dev/agent-token")?.status == 400, "no agent named")
        #expect(await dev.get("/dev/interaction-token?channel=fax")?.status == 400)
        #expect(await dev.get("/dev/interaction-token?channel=voice")?.status == 200)
    }

    @Test func theSDKGetsTheFiltersBuiltInListsFromTheRelayNeverACopy() async throws {
        let url = try await TestBroker.isolatedVirtualHost("relay-built-ins")
        let relay = try await ServiceProcess.ready("dom-relay", environment: ["AMQP_URL": url])
        defer { Task { _ = await relay.terminate() } }
        let module = try #require(await relay.get("/sdk/built-in-rules.js"))
        #expect(module.status == 200)
        func exported(_ name: String) throws -> [String] {
            let line = try #require(module.body.split(separator: "\n").first { $0.contains("export const \(name) ") })
            let json = try #require(line.firstRange(of: "Object.freeze(").map { line[$0.upperBound...].dropLast(2) })
            return try JSONDecoder().decode([String].self, from: Data(json.utf8))
        }
        for (name, table) in BuiltInTables.byExportName {
            #expect(try exported(name) == table, "\(name) as served")
        }
        #expect(try exported("SECRET_FIELD_HINTS") == BuiltInRules.secretFieldHints)
        #expect(module.body.contains("export const DEFAULT_CUSTOMER_MARK = \"\(BuiltInTables.defaultCustomerMark)\";"))
        #expect(Set(try exported("ALWAYS_MASKED_AUTOCOMPLETE")) == BuiltInRules.sensitiveAutocomplete)
        // The SDK imports it and keeps no list of its own.
        let masking = try #require(await relay.get("/sdk/masking.js"))
        #expect(masking.body.contains("from './built-in-rules.js'"))
        #expect(!masking.body.contains("'one-time-code'"), "the SDK has its own copy of the autocomplete tokens")
    }

    /// The SDK benchmark runs the SDK without a relay, so it reads the tables from the Swift source
    /// itself (Benchmarks/SDKBurst/sdk_burst.py): what it serves must be what the relay serves.
    @Test func theSDKBenchmarkServesTheSameBuiltInModuleAsTheRelay() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let run = try await CommandRun.run("/usr/bin/python3", [
            "-c", "import sys; sys.path.insert(0, 'Benchmarks/SDKBurst'); import sdk_burst; print(sdk_burst.built_in_rules_module(), end='')",
        ], environment: ["PYTHONDONTWRITEBYTECODE": "1"], workingDirectory: root.path)
        #expect(run.status == 0, "\(run)")
        func exports(_ module: String) throws -> [String: String] {
            var found: [String: String] = [:]
            for line in module.split(separator: "\n") where line.hasPrefix("export const ") {
                let name = String(line.dropFirst("export const ".count).prefix { $0 != " " })
                // A frozen list or table, or a plain string.
                let json = try #require(line.firstRange(of: "Object.freeze(").map { line[$0.upperBound...].dropLast(2) }
                    ?? line.firstRange(of: " = ").map { line[$0.upperBound...].dropLast(1) })
                // Compared as parsed values: the two JSON writers space and escape differently.
                let value = try JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])
                found[name] = String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]), as: UTF8.self)
            }
            return found
        }
        let served = try exports(BuiltInTables.javaScriptModule)
        #expect(served.count == BuiltInTables.byExportName.count + 2, "the tables, the detectors and the customer mark")
        #expect(try exports(run.stdout) == served)
    }

    /// No script of the SDK or the console writes a built-in table out again: each table's
    /// members, quoted as a script would list them, appear in none of them.
    @Test func noScriptKeepsACopyOfABuiltInTable() throws {
        let web = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appending(path: "Services/DOMRelay/Web/Public")
        let scripts = try #require(FileManager.default.enumerator(at: web, includingPropertiesForKeys: nil))
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "js" }
        #expect(scripts.count >= 10)
        for script in scripts {
            let text = try String(contentsOf: script, encoding: .utf8)
            for (name, table) in BuiltInTables.byExportName where table.count > 1 {
                // Two members in a row, as a list literal has them: a copy, however spaced or quoted.
                for pair in zip(table, table.dropFirst()) {
                    for quote in ["'", "\""] {
                        let pattern = "\(quote)\(pair.0)\(quote)\\s*,\\s*\(quote)\(pair.1)\(quote)"
                        #expect(text.range(of: pattern, options: .regularExpression) == nil,
                                "\(script.lastPathComponent) lists \(name) itself (\(pair.0), \(pair.1))")
                    }
                }
            }
        }
    }

    @Test func devModeWithoutTheSigningSecretRefusesToStart() async throws {
        let relay = try ServiceProcess("dom-relay", environment: ["AMQP_URL": try TestBroker.url(), "DEV_MODE": "1"])
        #expect(await relay.waitForExit() == 2)
        #expect(await eventually { relay.log.contains("DEV_TOKEN_SECRET") }, "the output arrives after the exit")
    }
}

@Suite struct RelayMaskingRulesTests {
    @Test func aPageGetsTheRulesForItsURLAndItsSiteMayReadThem() async throws {
        let url = try await TestBroker.isolatedVirtualHost("relay-rules")
        let path = NSTemporaryDirectory() + "rules-\(UUID()).json"
        try #"""
        {"version": 1, "maskPlaceholders": true, "rules": [
          {"site": "*", "mask": [".secret"], "noAgent": ["#delete"]},
          {"site": "https://shop.example", "urls": ["/checkout*"], "mask": ["#card"], "maskImages": ["img.id"], "block": ["#chat"]},
          {"site": "https://other.example", "mask": ["#other"]}
        ]}
        """#.write(toFile: path, atomically: true, encoding: .utf8)
        let relay = try await ServiceProcess.ready("dom-relay", environment: [
            "AMQP_URL": url, "MASKING_RULES": path, "ALLOWED_ORIGINS": "https://shop.example",
        ])
        defer { Task { _ = await relay.terminate() } }

        let page = "https://shop.example/checkout/pay?step=2".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let answer = try #require(await relay.get("/cobrowse/rules?url=\(page)", headers: ["Origin": "https://shop.example"]))
        let rules = try #require(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
        #expect(rules["mask"] as? [String] == [".secret", "#card"])
        #expect(rules["maskImages"] as? [String] == ["img.id"])
        #expect(rules["block"] as? [String] == ["#chat"])
        #expect(rules["noAgent"] as? [String] == ["#delete"])
        #expect(rules["maskPlaceholders"] as? Bool == true)

        let home = "https://shop.example/".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let other = try #require(await relay.get("/cobrowse/rules?url=\(home)"))
        #expect(other.body.contains("\".secret\"") && !other.body.contains("#card"))
        #expect(await relay.get("/cobrowse/rules")?.status == 400)
    }

    @Test func theSDKsModulesMayBeLoadedByAllowedSitesOnly() async throws {
        let url = try await TestBroker.isolatedVirtualHost("relay-sdk-cors")
        let root = NSTemporaryDirectory() + "web-\(UUID())"
        try FileManager.default.createDirectory(atPath: root + "/Public/sdk", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/Demo", withIntermediateDirectories: true)
        try "export const part = 1;\n".write(toFile: root + "/Public/sdk/part.js", atomically: true, encoding: .utf8)
        let relay = try await ServiceProcess.ready("dom-relay", environment: [
            "AMQP_URL": url, "WEB_ROOT": root, "ALLOWED_ORIGINS": "https://shop.example",
        ])
        defer { Task { _ = await relay.terminate() } }
        let module = "http://127.0.0.1:\(relay.httpPort)/sdk/part.js"
        #expect(try await headerOf("Access-Control-Allow-Origin", module, origin: "https://shop.example") == ("200", "https://shop.example"))
        #expect(try await headerOf("Access-Control-Allow-Origin", module, origin: "https://evil.example") == ("200", ""))
    }

    @Test func theAgentConsoleIsServedUnderAStrictContentSecurityPolicy() async throws {
        let url = try await TestBroker.isolatedVirtualHost("relay-csp")
        let relay = try await ServiceProcess.ready("dom-relay", environment: ["AMQP_URL": url])
        defer { Task { _ = await relay.terminate() } }
        let (status, policy) = try await headerOf("Content-Security-Policy", "http://127.0.0.1:\(relay.httpPort)/agent/")
        #expect(status == "200")
        #expect(policy.contains("script-src 'self'") && policy.contains("object-src 'none'") && policy.contains("form-action 'none'"))
        #expect(!policy.contains("unsafe-eval") && !policy.contains("script-src *"))
    }

    /// The status and one header of a GET, through curl (URLSession hides some headers).
    func headerOf(_ name: String, _ url: String, origin: String? = nil) async throws -> (String, String) {
        let lines = try await CommandRun.run("/usr/bin/curl", ["-s", "-D", "-", "-o", "/dev/null"]
            + (origin.map { ["-H", "Origin: \($0)"] } ?? []) + [url]).stdout.split(separator: "\r\n")
        let status = lines.first?.split(separator: " ").dropFirst().first.map(String.init) ?? ""
        let value = lines.first { $0.lowercased().hasPrefix(name.lowercased() + ":") }
            .map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) } ?? ""
        return (status, value)
    }
}

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
