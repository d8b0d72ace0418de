import AMQP
import CobrowseBroker
import CobrowseProtocol
import CobrowseTokens
import Foundation
import ServiceKit
import Synchronization
import TestSupport
import Testing

/// A `session-registry` process on its own virtual host of the private broker, with its own
/// database (a SQLite file or a PostgreSQL database), driven over AMQP as the relays and the
/// watch will drive it.
final class RegistryFixture: @unchecked Sendable {
    let url: String
    let database: TestDatabase
    let connection: AMQPConnection
    let client: RegistryClient
    let tokens: ContactCenterTokens
    var processes: [ServiceProcess] = []

    /// `rpcTimeout` bounds each call, queueing included: a burst of calls is answered one by one.
    init(_ name: String, store: StoreKind, rpcTimeout: Duration = .seconds(20)) async throws {
        url = try await TestBroker.isolatedVirtualHost(name)
        database = try await TestDatabase.make(store)
        connection = try await AMQPConnection.connect(url: url)
        client = RegistryClient(connection: connection, timeout: rpcTimeout)
        tokens = await ContactCenterTokens.hs256()
    }

    /// Starts a registry process (another one shares the database and stands by).
    @discardableResult
    func start(_ extra: [String: String] = [:]) async throws -> ServiceProcess {
        var environment = ["AMQP_URL": url, "REGISTRY_DATABASE": database.value, "TOKEN_HS256_SECRET": ContactCenterTokens.secret,
                           "ADMIN_TOKEN": "admin-secret", "INSTANCE_ID": "registry-\(processes.count)"]
        environment.merge(extra) { $1 }
        let process = try await ServiceProcess.ready("session-registry", environment: environment)
        processes.append(process)
        return process
    }

    func send(_ command: RegistryCommand) async throws -> RegistryReply {
        try await client.send(command)
    }

    func session(_ command: RegistryCommand) async throws -> SessionView {
        let reply = try await client.send(command)
        guard let session = reply.session else { throw reply.refusal ?? RegistryRefusal(.unavailable, "empty reply") }
        return session
    }

    /// A queue receiving every lifecycle event of this virtual host.
    func lifecycleEvents() async throws -> AMQPConsumer {
        try await connection.listen(to: CobrowseTopology.lifecycleExchange)
    }

    func stop() async {
        for process in processes where process.process.isRunning { _ = await process.terminate() }
        await connection.close()
        await database.remove()
    }
}

extension AMQPConsumer {
    func events(_ count: Int) async throws -> [SessionEvent] {
        try await take(count).map { try JSONDecoder.cobrowse.decode(SessionEvent.self, from: $0.body) }
    }
}

@Suite struct RegistryIntegrationTests {
    @Test(arguments: StoreKind.allCases)
    func fullLifecycleOverAMQPWithEveryEventOnTheExchange(_ store: StoreKind) async throws {
        let registry = try await RegistryFixture("lifecycle", store: store)
        defer { Task { await registry.stop() } }
        try await registry.start()
        let events = try await registry.lifecycleEvents()

        let createReply = try await registry.send(.create(interactionToken: registry.tokens.interaction("ix-1", channel: .voice)))
        let created = try createReply.get()
        let customerKey = try #require(createReply.customerKey)
        #expect(created.state == .idle && created.channel == .voice && created.interactionID == "ix-1")
        let agent = try await registry.tokens.agent("agent-7")
        #expect(try await registry.session(.join(session: created.id, agentToken: agent)).state == .active)
        #expect(try await registry.session(.requestWrite(session: created.id, agentToken: agent)).writeRequestPendingUntil != nil)
        #expect(try await registry.session(.answerWrite(session: created.id, customerKey: customerKey, approve: true)).mode == .write)
        #expect(try await registry.session(.revokeWrite(session: created.id, customerKey: customerKey)).mode == .pointer)
        let ended = try await registry.session(.end(session: created.id, by: .customer(key: customerKey)))
        #expect(ended.state == .ended && ended.endReason == .customerExited && ended.endedBy == .customer)

        let seen = try await events.events(6)
        #expect(seen.map(\.kind) == [.created, .activated, .modeRequested, .modeChanged, .modeChanged, .ended])
        #expect(seen.allSatisfy { $0.session.id == created.id })
        #expect(seen.last?.session.endReason == .customerExited)
        #expect(seen.map(\.session.modeChanges.count) == [0, 0, 1, 2, 3, 3])

        let refused = try await registry.send(.join(session: created.id, agentToken: registry.tokens.agent("agent-8")))
        #expect(refused.refusal == .sessionEnded)
    }

    @Test(arguments: StoreKind.allCases)
    func badRequestsGetAnErrorReplyAndTheConsumerKeepsServing(_ store: StoreKind) async throws {
        let registry = try await RegistryFixture("malformed", store: store)
        defer { Task { await registry.stop() } }
        try await registry.start()
        for body in [Data("not json".utf8), Data("{}".utf8), Data(#"{"version":1,"command":"teleport"}"#.utf8),
                     Data(#"{"version":1,"command":"join","sessionID":"12"}"#.utf8), Data(repeating: 0x20, count: 70_000)] {
            let reply = try await registry.client.sendRaw(body)
            #expect(reply.refusal?.code == .malformedRequest, "reply: \(reply)")
        }
        let future = try await registry.client.sendRaw(Data(#"{"version":99,"command":"create","interactionToken":"x"}"#.utf8))
        #expect(future.refusal?.code == .unsupportedVersion)
        #expect(try await registry.send(.create(interactionToken: registry.tokens.interaction())).session != nil)
        let queue = try await registry.connection.inspectQueue(CobrowseTopology.registryRPCQueue)
        #expect(queue.messageCount == 0, "nothing may be left or requeued")
        let dead = try await registry.connection.inspectQueue(CobrowseTopology.deadLetterQueue)
        #expect(dead.messageCount == 0, "bad input is answered, not dead-lettered")
    }

    @Test(arguments: StoreKind.allCases)
    func everyRefusalReachesTheCallerWithItsReason(_ store: StoreKind) async throws {
        let registry = try await RegistryFixture("refusals", store: store)
        defer { Task { await registry.stop() } }
        try await registry.start()
        let tokens = registry.tokens
        let unknown = SessionID("000000001")!
        #expect(try await registry.send(.join(session: unknown, agentToken: tokens.agent("a"))).refusal?.code == .unknownSession)
        let expired = try await tokens.interaction(expires: Date().addingTimeInterval(-5))
        #expect(try await registry.send(.create(interactionToken: expired)).refusal?.code == .expiredToken)
        let forged = try await ContactCenterTokens.hs256("another-secret-of-at-least-32-bytes!").interaction()
        #expect(try await registry.send(.create(interactionToken: forged)).refusal?.code == .invalidToken)

        let first = try await registry.session(.create(interactionToken: tokens.interaction()))
        let second = try await registry.session(.create(interactionToken: tokens.interaction()))
        #expect(try await registry.send(.join(session: first.id, agentToken: tokens.agent("boss", role: .supervisor))).refusal?.code == .notActive)
        _ = try await registry.session(.join(session: first.id, agentToken: tokens.agent("alice")))
        #expect(try await registry.send(.join(session: first.id, agentToken: tokens.agent("bob"))).refusal?.code == .sessionTaken)
        #expect(try await registry.send(.join(session: second.id, agentToken: tokens.agent("alice"))).refusal?.code == .agentBusy)
        let observed = try await registry.session(.join(session: first.id, agentToken: tokens.agent("boss", role: .supervisor)))
        #expect(observed.observers == ["boss"])
        #expect(try await registry.send(.requestWrite(session: first.id, agentToken: tokens.agent("boss", role: .supervisor))).refusal?.code == .notAllowed)
        #expect(try await registry.send(.answerWrite(session: first.id, customerKey: "guess", approve: true)).refusal?.code == .notAllowed)
    }

    @Test(arguments: StoreKind.allCases)
    func disabledWriteModeIsRefusedWithThatReason(_ store: StoreKind) async throws {
        let registry = try await RegistryFixture("nowrite", store: store)
        defer { Task { await registry.stop() } }
        try await registry.start(["WRITE_MODE_ENABLED": "false"])
        let session = try await registry.session(.create(interactionToken: registry.tokens.interaction()))
        let agent = try await registry.tokens.agent("carol")
        _ = try await registry.session(.join(session: session.id, agentToken: agent))
        let refusal = try await registry.send(.requestWrite(session: session.id, agentToken: agent)).refusal
        #expect(refusal?.code == .writeModeDisabled)
        #expect(refusal?.message.contains("disabled") == true)
    }

    @Test(arguments: StoreKind.allCases)
    func unansweredWriteRequestTimesOutAndStaysPointer(_ store: StoreKind) async throws {
        let registry = try await RegistryFixture("timeout", store: store)
        defer { Task { await registry.stop() } }
        try await registry.start(["WRITE_REQUEST_TIMEOUT": "1"])
        let events = try await registry.lifecycleEvents()
        let session = try await registry.session(.create(interactionToken: registry.tokens.interaction()))
        let agent = try await registry.tokens.agent("dave")
        _ = try await registry.session(.join(session: session.id, agentToken: agent))
        _ = try await registry.session(.requestWrite(session: session.id, agentToken: agent))
        let seen = try await events.events(4)
        #expect(seen.last?.kind == .modeRequestDeclined)
        #expect(seen.last?.session.mode == .pointer)
        #expect(seen.last?.session.modeChanges.last?.kind == .timedOut)
    }

    @Test(arguments: StoreKind.allCases)
    func thousandConcurrentCreatesAndJoinsKeepIDsUniqueAndAgentsToOneSession(_ store: StoreKind) async throws {
        // A thousand calls at once on a shared, busy machine: the last waits for all the others.
        let registry = try await RegistryFixture("concurrency", store: store, rpcTimeout: .seconds(180))
        defer { Task { await registry.stop() } }
        try await registry.start()
        let tokens = registry.tokens
        let ids = try await withThrowingTaskGroup(of: SessionID.self) { group in
            for index in 0..<1_000 {
                group.addTask { try await registry.session(.create(interactionToken: tokens.interaction("ix-\(index)"))).id }
            }
            return try await group.reduce(into: [SessionID]()) { $0.append($1) }
        }
        #expect(Set(ids).count == 1_000, "duplicate live session ids")

        // 250 agents each race for 4 sessions: 1,000 joins, many conflicting.
        let agentTokens = try await (0..<250).asyncMap { try await tokens.agent("agent-\($0)") }
        let outcomes = try await withThrowingTaskGroup(of: (Int, SessionID, RegistryReply).self) { group in
            for (index, id) in ids.enumerated() {
                let agent = (index * 7 + index / 250) % 250
                group.addTask { (agent, id, try await registry.send(.join(session: id, agentToken: agentTokens[agent]))) }
            }
            return try await group.reduce(into: [(Int, SessionID, RegistryReply)]()) { $0.append($1) }
        }
        var sessionsOfAgent: [Int: Set<SessionID>] = [:]
        for (agent, id, reply) in outcomes {
            if let session = reply.session {
                #expect(session.leadAgentID == "agent-\(agent)")
                sessionsOfAgent[agent, default: []].insert(id)
            } else {
                #expect([.agentBusy, .sessionTaken].contains(reply.refusal?.code), "unexpected refusal \(String(describing: reply.refusal))")
            }
        }
        #expect(sessionsOfAgent.values.allSatisfy { $0.count == 1 }, "an agent holds two live sessions")
        var leads: [SessionID: String] = [:]
        for id in ids {
            let view = try await registry.session(.get(session: id))
            if let lead = view.leadAgentID {
                #expect(view.state == .active)
                leads[id] = lead
            }
        }
        #expect(Set(leads.values).count == leads.count, "one agent leads two sessions")
        #expect(leads.count == sessionsOfAgent.values.reduce(0) { $0 + $1.count })
    }

    @Test(arguments: StoreKind.allCases)
    func killedRegistryRestartsWithEverySessionAsItWas(_ store: StoreKind) async throws {
        let registry = try await RegistryFixture("kill9", store: store)
        defer { Task { await registry.stop() } }
        let first = try await registry.start(["WRITE_REQUEST_TIMEOUT": "15"])
        let tokens = registry.tokens
        let idle = try await registry.session(.create(interactionToken: tokens.interaction("ix-idle")))
        let active = try await registry.session(.create(interactionToken: tokens.interaction("ix-active")))
        let agent = try await tokens.agent("erin")
        _ = try await registry.session(.join(session: active.id, agentToken: agent))
        let pending = try await registry.session(.requestWrite(session: active.id, agentToken: agent))

        kill(first.process.processIdentifier, SIGKILL)
        _ = await first.waitForExit()
        try await registry.start(["WRITE_REQUEST_TIMEOUT": "15"])

        let idleAfter = try await registry.session(.get(session: idle.id))
        let activeAfter = try await registry.session(.get(session: active.id))
        #expect(idleAfter == idle, "before: \(idle)\nafter: \(idleAfter)")
        #expect(activeAfter == pending, "before: \(pending)\nafter: \(activeAfter)")
        #expect(try await registry.send(.join(session: active.id, agentToken: tokens.agent("frank"))).refusal?.code == .sessionTaken)
        // The pending write request still lapses after the restart.
        let lapsed = await eventually(within: .seconds(60)) {
            (try? await registry.session(.get(session: active.id)).writeRequestPendingUntil) == nil
        }
        #expect(lapsed)
    }

    @Test(arguments: StoreKind.allCases)
    func standbyTakesOverWhenTheActiveRegistryDies(_ store: StoreKind) async throws {
        let registry = try await RegistryFixture("standby", store: store)
        defer { Task { await registry.stop() } }
        let active = try await registry.start()
        let standby = try await registry.start()
        let session = try await registry.session(.create(interactionToken: registry.tokens.interaction()))

        kill(active.process.processIdentifier, SIGKILL)
        _ = await active.waitForExit()
        let joined = try await registry.session(.join(session: session.id, agentToken: registry.tokens.agent("gina")))
        #expect(joined.state == .active && joined.leadAgentID == "gina")
        #expect(standby.process.isRunning)
    }
}

extension Sequence where Element: Sendable {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}

@Suite struct ReportingAPITests {
    @Test(arguments: StoreKind.allCases)
    func reportsNeedTheAdminTokenAndAnswerByInteractionAgentTimeAndLiveCount(_ store: StoreKind) async throws {
        let registry = try await RegistryFixture("reporting", store: store)
        defer { Task { await registry.stop() } }
        let process = try await registry.start()
        let tokens = registry.tokens
        let before = Date()
        let a = try await registry.session(.create(interactionToken: tokens.interaction("ix-report", channel: .messaging)))
        let b = try await registry.session(.create(interactionToken: tokens.interaction("ix-report")))
        _ = try await registry.session(.create(interactionToken: tokens.interaction("ix-other")))
        _ = try await registry.session(.join(session: a.id, agentToken: tokens.agent("hank")))
        let admin = ["Authorization": "Bearer admin-secret"]

        #expect(await process.get("/api/sessions/live")?.status == 401)
        #expect(await process.get("/api/sessions/live", headers: ["Authorization": "Bearer wrong"])?.status == 401)
        let live = try #require(await process.get("/api/sessions/live", headers: admin))
        #expect(live.status == 200 && live.body.contains(#""active":1"#) && live.body.contains(#""idle":2"#), "\(live.body)")

        struct Sessions: Decodable { let sessions: [SessionView] }
        func sessions(_ query: String) async throws -> [SessionView] {
            let response = try #require(await process.get("/api/sessions?\(query)", headers: admin))
            return try JSONDecoder.cobrowse.decode(Sessions.self, from: Data(response.body.utf8)).sessions
        }
        #expect(Set(try await sessions("interaction=ix-report").map(\.id)) == [a.id, b.id])
        #expect(try await sessions("agent=hank").map(\.id) == [a.id])
        let from = CobrowseDate.format(before.addingTimeInterval(-1)), to = CobrowseDate.format(Date().addingTimeInterval(1))
        #expect(try await sessions("from=\(from)&to=\(to)").count == 3)
        #expect(await process.get("/api/sessions", headers: admin)?.status == 400)

        let ended = try #require(await process.request("POST", "/api/sessions/\(a.id)/end", headers: admin))
        #expect(ended.status == 200 && ended.body.contains(#""endReason":"administrator""#), "\(ended.body)")
        #expect(await process.request("POST", "/api/sessions/\(a.id)/end", headers: admin)?.status == 409)
        let one = try #require(await process.get("/api/sessions/\(a.id)", headers: admin))
        let view = try JSONDecoder.cobrowse.decode(SessionView.self, from: Data(one.body.utf8))
        #expect(view.state == .ended && view.endedBy == .administrator && view.joinedAt != nil)
        #expect(await process.get("/api/sessions/999999999", headers: admin)?.status == 404)
    }

    @Test(arguments: StoreKind.allCases)
    func adminAPIIsOffWithoutAToken(_ store: StoreKind) async throws {
        let registry = try await RegistryFixture("noadmin", store: store)
        defer { Task { await registry.stop() } }
        let process = try await registry.start(["ADMIN_TOKEN": ""])
        let response = await process.get("/api/sessions/live", headers: ["Authorization": "Bearer "])
        #expect(response?.status == 403)
        #expect(response?.body.contains("ADMIN_TOKEN") == true)
    }
}

@Suite struct RS256TokenTests {
    @Test func registryConfiguredWithAPublicKeyAcceptsRS256AndRefusesHS256() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rsa-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for arguments in [["genrsa", "-out", "\(directory)/key.pem", "2048"],
                          ["rsa", "-in", "\(directory)/key.pem", "-pubout", "-out", "\(directory)/public.pem"]] {
            let openssl = Process()
            openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            openssl.arguments = arguments
            openssl.standardError = FileHandle.nullDevice
            try openssl.run()
            openssl.waitUntilExit()
            try #require(openssl.terminationStatus == 0)
        }
        let registry = try await RegistryFixture("rs256", store: .sqlite)
        defer { Task { await registry.stop() } }
        try await registry.start(["TOKEN_HS256_SECRET": "", "TOKEN_RS256_PUBLIC_KEY_FILE": "\(directory)/public.pem"])
        let rsa = try await ContactCenterTokens.rs256(privateKeyPEM: String(contentsOfFile: "\(directory)/key.pem", encoding: .utf8))
        #expect(try await registry.send(.create(interactionToken: rsa.interaction())).session?.state == .idle)
        #expect(try await registry.send(.create(interactionToken: registry.tokens.interaction())).refusal?.code == .invalidToken)
    }
}
