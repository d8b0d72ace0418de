import AMQP
import CobrowseBroker
import CobrowseProtocol
import CobrowseTokens
import Foundation
import ServiceKit
import TestSupport
import Testing

/// A virtual host of its own on the private broker, optionally with a real `session-registry`,
/// and the real `cobrowse-ctl` binary pointed at both through its environment.
final class CtlFixture: @unchecked Sendable {
    let url: String
    let managementURL: String
    let database: String
    let connection: AMQPConnection
    let client: RegistryClient
    let tokens: ContactCenterTokens
    var registry: ServiceProcess?

    init(_ name: String) async throws {
        url = try await TestBroker.isolatedVirtualHost("ctl-\(name)")
        managementURL = try TestBroker.environment("COBROWSE_TEST_MANAGEMENT_URL")
        database = FileManager.default.temporaryDirectory.appendingPathComponent("ctl-registry-\(UUID().uuidString).sqlite").path
        connection = try await AMQPConnection.connect(url: url)
        client = RegistryClient(connection: connection, timeout: .seconds(20))
        tokens = await ContactCenterTokens.hs256()
    }

    func startRegistry() async throws {
        registry = try await ServiceProcess.ready("session-registry", environment: [
            "AMQP_URL": url, "REGISTRY_DATABASE": database, "TOKEN_HS256_SECRET": ContactCenterTokens.secret,
            "INSTANCE_ID": "ctl-test-registry",
        ])
    }

    /// Runs `cobrowse-ctl` as an operator would, with the URLs in its environment.
    func ctl(_ arguments: String...) async throws -> CommandRun {
        try await CommandRun.run("cobrowse-ctl", arguments, environment: ["AMQP_URL": url, "MANAGEMENT_URL": managementURL])
    }

    func createSession(interaction: String, channel: InteractionChannel = .chat) async throws -> SessionView {
        try await client.send(.create(interactionToken: tokens.interaction(interaction, channel: channel))).get()
    }

    func declareInteractionsExchange() async throws {
        try await connection.declare(ExchangeDeclaration(CobrowseTopology.interactionsExchange, kind: .topic))
    }

    func stop() async {
        if let registry, registry.process.isRunning { _ = await registry.terminate() }
        await connection.close()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: database + suffix) }
    }
}

@Suite struct CobrowseCtlTests {
    // MARK: publish-event

    @Test func publishEventLandsOnTheInteractionsExchangeAsTheSameEventUnderItsRoutingKey() async throws {
        let fixture = try await CtlFixture("publish")
        defer { Task { await fixture.stop() } }
        try await fixture.declareInteractionsExchange()
        let events = try await fixture.connection.listen(to: CobrowseTopology.interactionsExchange)

        let run = try await fixture.ctl("publish-event", "--type", "transferred", "--interaction", "ix-42", "--channel", "voice",
                                        "--agent", "agent-9", "--at", "2026-03-04T05:06:07.089Z", "--id", "ev-1")
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.contains("interaction.voice.transferred") && run.stdout.contains("ix-42"), "\(run)")

        let delivery = try #require(try await events.take(1).first)
        let expected = InteractionEvent(id: "ev-1", type: .transferred, interactionId: "ix-42", channel: .voice,
                                        agentId: "agent-9", at: try #require(CobrowseDate.parse("2026-03-04T05:06:07.089Z")))
        #expect(try InteractionEvent.decode(delivery.body) == expected)
        #expect(delivery.routingKey == "interaction.voice.transferred")
        #expect(delivery.exchange == CobrowseTopology.interactionsExchange)
        #expect(delivery.properties.persistent, "an event must survive a broker restart in a durable queue")
        #expect(delivery.properties.contentType == "application/json")
    }

    @Test func publishEventWithoutAtStampsTheTimeOfPublishing() async throws {
        let fixture = try await CtlFixture("publish-now")
        defer { Task { await fixture.stop() } }
        try await fixture.declareInteractionsExchange()
        let events = try await fixture.connection.listen(to: CobrowseTopology.interactionsExchange, key: "interaction.chat.ended")

        let before = Date().wholeMilliseconds
        let run = try await fixture.ctl("publish-event", "--type", "ended", "--interaction", "ix-now", "--channel", "chat")
        let after = Date()
        #expect(run.status == 0, "\(run)")
        let event = try InteractionEvent.decode(try #require(try await events.take(1).first).body)
        #expect(event.type == .ended && event.interactionId == "ix-now" && event.agentId == nil && event.id == nil)
        #expect((before...after).contains(event.at), "at \(event.at) is not between \(before) and \(after)")
    }

    @Test func publishEventThatNoQueueWouldReceiveFailsInsteadOfVanishing() async throws {
        let fixture = try await CtlFixture("publish-unroutable")
        defer { Task { await fixture.stop() } }
        let args = ["publish-event", "--type", "ended", "--interaction", "ix-lost", "--channel", "messaging"]

        let noExchange = try await CommandRun.run("cobrowse-ctl", args, environment: ["AMQP_URL": fixture.url])
        #expect(noExchange.status == 1, "\(noExchange)")
        #expect(noExchange.stderr.contains("\(CobrowseTopology.interactionsExchange) does not exist"), "\(noExchange)")
        #expect(noExchange.stdout.isEmpty)

        try await fixture.declareInteractionsExchange()
        let unbound = try await CommandRun.run("cobrowse-ctl", args, environment: ["AMQP_URL": fixture.url])
        #expect(unbound.status == 1, "\(unbound)")
        #expect(unbound.stderr.contains("returned unroutable"), "\(unbound)")
        #expect(unbound.stdout.isEmpty)
    }

    // MARK: sessions

    @Test func sessionsSaysSoWhenNoSessionIsLive() async throws {
        let fixture = try await CtlFixture("sessions-none")
        defer { Task { await fixture.stop() } }
        try await fixture.startRegistry()

        let run = try await fixture.ctl("sessions")
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout == "no live sessions\n", "\(run)")
        let json = try await fixture.ctl("sessions", "--json")
        #expect(try JSONDecoder.cobrowse.decode([SessionView].self, from: Data(json.stdout.utf8)) == [], "\(json)")
    }

    @Test func sessionsListsEveryLiveSessionAsATableAndAsJSON() async throws {
        let fixture = try await CtlFixture("sessions")
        defer { Task { await fixture.stop() } }
        try await fixture.startRegistry()
        let first = try await fixture.createSession(interaction: "ix-first", channel: .voice)
        let second = try await fixture.createSession(interaction: "ix-second", channel: .messaging)

        let run = try await fixture.ctl("sessions")
        #expect(run.status == 0, "\(run)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "a header and two sessions: \(run)")
        #expect(lines.first?.hasPrefix("ID") == true)
        for session in [first, second] {
            let line = try #require(lines.first { $0.hasPrefix(session.id.digits) }, "no line for \(session.id): \(run)")
            let cells = line.split(separator: " ").map(String.init)
            #expect(Array(cells.prefix(7)) == [session.id.digits, "idle", "pointer", session.channel.rawValue,
                                               session.interactionID, "-", CobrowseDate.format(session.createdAt)], "\(line)")
        }

        let json = try await fixture.ctl("sessions", "--json")
        #expect(json.status == 0, "\(json)")
        let listed = try JSONDecoder.cobrowse.decode([SessionView].self, from: Data(json.stdout.utf8))
        #expect(listed.count == 2)
        #expect(listed.first { $0.id == first.id } == first)
        #expect(listed.first { $0.id == second.id } == second)
    }

    @Test func registryCommandsWithoutARegistryFailWithAClearMessage() async throws {
        let fixture = try await CtlFixture("no-registry")
        defer { Task { await fixture.stop() } }

        let run = try await fixture.ctl("sessions")
        #expect(run.status == 1, "\(run)")
        #expect(run.stderr.contains("no session registry is running"), "\(run)")
        #expect(run.stdout.isEmpty)
    }

    // MARK: end

    @Test func endEndsASessionAsAdministratorAndEndingItAgainExits1WithSessionEnded() async throws {
        let fixture = try await CtlFixture("end")
        defer { Task { await fixture.stop() } }
        try await fixture.startRegistry()
        let session = try await fixture.createSession(interaction: "ix-end")

        let run = try await fixture.ctl("end", session.id.digits)
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.contains("ended session \(session.id)"), "\(run)")
        let ended = try await fixture.client.send(.get(session: session.id)).get()
        #expect(ended.state == .ended && ended.endReason == .administrator && ended.endedBy == .administrator)

        let again = try await fixture.ctl("end", session.id.digits)
        #expect(again.status == 1, "\(again)")
        #expect(again.stderr.contains(RegistryRefusal.Code.sessionEnded.rawValue), "\(again)")
        #expect(again.stdout.isEmpty)
    }

    @Test func endWithASystemReasonRecordsCobrowseCtlAsTheSystemThatEndedIt() async throws {
        let fixture = try await CtlFixture("end-reason")
        defer { Task { await fixture.stop() } }
        try await fixture.startRegistry()
        let session = try await fixture.createSession(interaction: "ix-idle")
        let endings = try await fixture.connection.listen(to: CobrowseTopology.lifecycleExchange, key: "s.*.ended")

        let run = try await fixture.ctl("end", session.id.digits, "--reason", "inactivity")
        #expect(run.status == 0, "\(run)")
        let event = try JSONDecoder.cobrowse.decode(SessionEvent.self, from: try #require(try await endings.take(1).first).body)
        #expect(event.session.id == session.id)
        #expect(event.by == .system("cobrowse-ctl"))
        #expect(event.session.endReason == .inactivity && event.session.endedBy == .system("cobrowse-ctl"))
    }

    @Test func endOfAnUnknownSessionExits1WithTheUnknownSessionMessage() async throws {
        let fixture = try await CtlFixture("end-unknown")
        defer { Task { await fixture.stop() } }
        try await fixture.startRegistry()
        let unknown = SessionID.random()

        let run = try await fixture.ctl("end", unknown.digits)
        #expect(run.status == 1, "\(run)")
        #expect(run.stderr.contains("unknown-session"), "\(run)")
        #expect(run.stderr.contains(RegistryRefusal.unknownSession(unknown).message), "\(run)")
    }

    @Test func endOfAMalformedSessionIDIsAUsageErrorBeforeAnyRequest() async throws {
        let fixture = try await CtlFixture("end-malformed")
        defer { Task { await fixture.stop() } }

        // No registry: a request would fail differently (exit 1, "no session registry").
        let run = try await fixture.ctl("end", "12345")
        #expect(run.status == 64, "\(run)")
        #expect(run.stderr.contains("'12345' is not a session id (nine digits)"), "\(run)")
    }

    // MARK: queues

    @Test func queuesShowsTheRegistryRPCQueueWithItsOneConsumer() async throws {
        let fixture = try await CtlFixture("queues")
        defer { Task { await fixture.stop() } }
        try await fixture.startRegistry()

        // The management API refreshes queue statistics every few seconds.
        var last: CommandRun?
        let counted = try await eventually {
            let run = try await fixture.ctl("queues", "--json")
            last = run
            let rows = try JSONDecoder().decode([Row].self, from: Data(run.stdout.utf8))
            return rows.first { $0.name == CobrowseTopology.registryRPCQueue }?.consumers == 1
        }
        #expect(counted, "\(String(describing: last))")

        let table = try await fixture.ctl("queues")
        #expect(table.status == 0, "\(table)")
        let line = try #require(table.stdout.split(separator: "\n").first { $0.hasPrefix(CobrowseTopology.registryRPCQueue + " ") },
                                "\(table)")
        let cells = line.split(separator: " ").map(String.init)
        #expect(cells.count == 7 && cells[4] == "1", "consumers column: \(line)")
    }

    @Test func queuesWithAWrongManagementPasswordFailsWithAClearMessage() async throws {
        let fixture = try await CtlFixture("queues-auth")
        defer { Task { await fixture.stop() } }
        // The tool runs as its own broker user (CommandRun gives it its own URL).
        let user = try AMQPConfiguration(url: TestBroker.serviceURL(for: "cobrowse-ctl", fixture.url)).user
        #expect(user == "cobrowse-ctl")

        let run = try await fixture.ctl("queues", "--management-password", "not-the-password")
        #expect(run.status == 1, "\(run)")
        #expect(run.stderr.contains("refused user '\(user)' (401)"), "\(run)")
        #expect(run.stdout.isEmpty)
    }

    /// The fields of a `queues --json` row this suite reads.
    struct Row: Decodable {
        var name: String
        var consumers: Int
    }
}

/// `cobrowse-ctl rules`: the real binary on files, as an administrator runs it.
@Suite struct CobrowseCtlRulesTests {
    static func write(_ text: String, _ suffix: String = ".json") throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ctl-rules-\(UUID().uuidString)\(suffix)").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func checkExitsNonZeroOnErrorsAndPrintsEveryFinding() async throws {
        let bad = try Self.write(#"{"rules": [{"mask": ["a ~ b"], "mode": "secret"}]}"#)
        let run = try await CommandRun.run("cobrowse-ctl", ["rules", "check", bad])
        #expect(run.status == 1, "\(run)")
        #expect(run.stdout.contains("error: rules[0].mask[0]: 'a ~ b': selector 'a ~ b': the '~' combinator is not supported"))
        #expect(run.stdout.contains("error: rules[0].mode: must be \"private\" or \"public\""))
        #expect(run.stdout.contains(": 2 errors, 0 warnings"))
    }

    @Test func warningsPassUnlessStrictAndSampleURLsComeFromAFile() async throws {
        let rules = try Self.write(##"{"rules": [{"urls": ["/nowhere*"], "mask": ["#a"]}]}"##)
        let urls = try Self.write("# pages of the site\nhttps://shop.example/cart\n", ".txt")
        let lenient = try await CommandRun.run("cobrowse-ctl", ["rules", "check", rules, "--urls", urls])
        #expect(lenient.status == 0, "\(lenient)")
        #expect(lenient.stdout.contains("warning: rules[0].urls[0]: '/nowhere*' matches none of the 1 sample URLs of site *"))
        let strict = try await CommandRun.run("cobrowse-ctl", ["rules", "check", rules, "--urls", urls, "--strict"])
        #expect(strict.status == 1, "\(strict)")
        let notAURL = try Self.write("cart\n", ".txt")
        let refused = try await CommandRun.run("cobrowse-ctl", ["rules", "check", rules, "--urls", notAURL])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("'cart' in \(notAURL) is not an absolute page URL"), "\(refused)")
        let missing = try await CommandRun.run("cobrowse-ctl", ["rules", "check", "/nonexistent/rules.json"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("cannot read the rules file '/nonexistent/rules.json'"), "\(missing)")
    }

    @Test func explainNamesTheRuleSetsAndTheElementsEachSelectorMatches() async throws {
        let rules = try Self.write("""
        {"rules": [
          {"mask": [".balance"], "noAgent": ["#close"]},
          {"urls": ["/account*"], "mode": "private", "unmask": ["header"], "detectors": {"phone": false}},
          {"urls": ["/cart*"], "block": ["#chat"]}
        ]}
        """)
        let html = try Self.write("""
        <!DOCTYPE html><html><head><title>x</title><script>if (a < b) {}</script></head>
        <body><header><nav>Shop</nav></header>
        <p class="balance">1</p><div><span class='balance big'>2</span></div>
        <input type=password id=pw><input name="member-pin"><button id="close" disabled>Close</button>
        <!-- <p class="balance">in a comment</p> --></body></html>
        """, ".html")
        let run = try await CommandRun.run("cobrowse-ctl", ["rules", "explain", rules, "https://shop.example/account/7", "--html", html])
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.contains("rule sets: rules[0] (site *, urls *), rules[1] (site *, urls /account*)"))
        #expect(run.stdout.contains("mode: private"))
        #expect(run.stdout.contains("detectors: iban, card, ssn, email"))
        #expect(run.stdout.contains("mask .balance  (rules[0])  -> 2: p.balance, span.balance.big"))
        #expect(run.stdout.contains("unmask header  (rules[1])  -> 1: header"))
        #expect(run.stdout.contains("always masked (built-in): input#pw"))
        #expect(run.stdout.contains("value masked (secret-named): input[name=member-pin]\n"), "#pw is always masked, not secret-named")
        #expect(run.stdout.contains("no agent action: 1 element (button#close)"))
        #expect(!run.stdout.contains("#chat"), "the cart's rule set does not apply to /account/7")
        let bad = try await CommandRun.run("cobrowse-ctl", ["rules", "explain", rules, "account/7"])
        #expect(bad.status == 64, "\(bad)")
        #expect(bad.stderr.contains("'account/7' is not an absolute page URL"))
    }
}
