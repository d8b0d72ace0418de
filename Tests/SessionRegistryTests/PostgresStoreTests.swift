import CobrowseProtocol
import CobrowseTokens
import Foundation
import Logging
import PostgresNIO
@testable import SessionRegistry
import Synchronization
import TestSupport
import Testing

/// Two registries on one PostgreSQL database at once, as on two hosts: each with its own store
/// (its own pool, its own writer name) and its own handler, racing on the same rows.
private final class TwoRegistries: Sendable {
    let database: TestDatabase
    let first: TestStore
    let second: TestStore
    let handlers: [RegistryHandler]
    let tokens: ContactCenterTokens

    init() async throws {
        database = try await TestDatabase.make(.postgres)
        first = try await database.open(instanceID: "registry-a")
        second = try await database.open(instanceID: "registry-b")
        tokens = await ContactCenterTokens.hs256()
        let verifier = try await TokenVerifier(key: .hs256(secret: ContactCenterTokens.secret))
        handlers = [first, second].map {
            RegistryHandler(store: $0.store, verifier: verifier, rules: SessionRules(), logger: Logger(label: "two-registries"))
        }
    }

    deinit {
        Task { [database] in await database.remove() }
    }

    func send(_ command: RegistryCommand, to registry: Int) async throws -> RegistryReply {
        await handlers[registry].reply(to: try JSONEncoder.cobrowse.encode(RegistryRequest(command)))
    }
}

@Suite struct PostgresStoreTests {
    @Test func twoRegistriesJoiningOneAgentToTwoSessionsAtOnceLetExactlyOneWin() async throws {
        let registries = try await TwoRegistries()
        for round in 0..<50 {
            let first = try await registries.send(.create(interactionToken: registries.tokens.interaction()), to: 0).get()
            let second = try await registries.send(.create(interactionToken: registries.tokens.interaction()), to: 1).get()
            let token = try await registries.tokens.agent("agent-\(round)")
            async let joinFirst = registries.send(.join(session: first.id, agentToken: token), to: 0)
            async let joinSecond = registries.send(.join(session: second.id, agentToken: token), to: 1)
            let replies = try await [joinFirst, joinSecond]
            let joined = replies.compactMap(\.session)
            #expect(joined.count == 1, "round \(round): \(replies)")
            #expect(replies.compactMap(\.refusal?.code) == [.agentBusy], "round \(round): \(replies)")
            let led = try await registries.first.store.sessions(.agent("agent-\(round)")).filter { $0.state == .active }
            #expect(led.count == 1, "round \(round): agent-\(round) leads \(led.map(\.id))")
        }
    }

    @Test func aCreateRacingTheEndOfItsInteractionNeverLeavesALiveSessionInIt() async throws {
        let registries = try await TwoRegistries()
        let (creating, ending) = (registries.first.store, registries.second.store)
        for round in 0..<50 {
            let interaction = "ix-race-\(round)"
            // The stores themselves (no token to check first), so the two start as close together as can be.
            async let create = outcome { try await creating.create(grant: InteractionGrant(interactionID: interaction, channel: .chat),
                                                                  customerKeyHash: "hash", now: Date()) }
            async let end = ending.endInteraction(interaction, reason: .interactionEnded, createdBefore: nil, remember: true,
                                                  by: .system("interaction-watch"), rules: SessionRules(), now: Date())
            let (created, _) = try await (create, end)
            if case let .failure(error) = created {
                #expect((error as? RegistryRefusal)?.code == .interactionEnded, "round \(round): \(error)")
            }
            let sessions = try await ending.sessions(.interaction(interaction))
            #expect(sessions.allSatisfy { $0.state == .ended }, "round \(round): a live session in an ended interaction: \(sessions)")
        }
    }

    // Rows locked without SKIP LOCKED would make B wait for A while A waits for B: a hang, failed by the limit.
    @Test(.timeLimit(.minutes(1)))
    func twoRegistriesDrainingOrphanedEventsAtOncePublishEachEventOnce() async throws {
        let database = try await TestDatabase.make(.postgres)
        defer { Task { await database.remove() } }
        let dead = try await database.open(instanceID: "registry-dead")
        let grant = InteractionGrant(interactionID: "ix-orphans", channel: .chat)
        for _ in 0..<20 { _ = try await dead.store.create(grant: grant, customerKeyHash: "hash", now: Date()) }
        let (a, b) = (try await database.open(instanceID: "registry-a"), try await database.open(instanceID: "registry-b"))
        let later = Date().addingTimeInterval(60)

        let publishedByA = Mutex<[Int64]>([]), publishedByB = Mutex<[Int64]>([])
        let drainedByA = try await a.store.drainOutbox(limit: 100, orphanAge: .seconds(10), now: later) { entry in
            publishedByA.withLock { $0.append(entry.sequence) }
            // While A holds its batch, B drains: it must skip every row A has locked.
            if publishedByA.withLock({ $0.count }) == 1 {
                let drainedByB = try await b.store.drainOutbox(limit: 100, orphanAge: .seconds(10), now: later) { entry in
                    publishedByB.withLock { $0.append(entry.sequence) }
                }
                #expect(drainedByB == 0)
            }
        }
        #expect(drainedByA == 20)
        #expect(publishedByB.withLock { $0 }.isEmpty, "B published events A was publishing")
        #expect(Set(publishedByA.withLock { $0 }).count == 20)
        #expect(try await b.store.outboxCount() == 0)
    }

    @Test func registriesStartingTogetherMigrateTheDatabaseOnce() async throws {
        let database = try await TestDatabase.make(.postgres)
        defer { Task { await database.remove() } }
        let stores = try await withThrowingTaskGroup(of: TestStore.self) { group in
            for index in 0..<6 { group.addTask { try await database.open(instanceID: "registry-\(index)") } }
            return try await group.reduce(into: [TestStore]()) { $0.append($1) }
        }
        #expect(stores.count == 6)
        let versions = try await TestPostgres.withConnection(database: try #require(database.postgresLocation).database) { connection in
            var versions: [Int] = []
            for try await version in try await connection.query("SELECT version FROM registry_schema ORDER BY version", logger: TestPostgres.logger)
                .decode(Int.self) { versions.append(version) }
            return versions
        }
        #expect(versions == PostgresSessionStore.migrations.map(\.version))
        // And the schema works from each of them.
        let grant = InteractionGrant(interactionID: "ix-migrated", channel: .voice)
        for store in stores { _ = try await store.store.create(grant: grant, customerKeyHash: "hash", now: Date()) }
        #expect(try await stores[0].store.sessions(.interaction("ix-migrated")).count == 6)
    }

    @Test func aDatabaseMigratedByANewerRegistryIsRefused() async throws {
        let database = try await TestDatabase.make(.postgres)
        defer { Task { await database.remove() } }
        let location = try #require(database.postgresLocation)
        _ = try await database.open()
        try await TestPostgres.withConnection(database: location.database) { connection in
            _ = try await connection.query("INSERT INTO registry_schema (version, name, appliedAt) VALUES (99, 'from the future', 0)",
                                           logger: TestPostgres.logger)
        }
        let error = await #expect(throws: PostgresSessionStore.SchemaTooNew.self) {
            _ = try await PostgresSessionStore(location, instanceID: "old-registry", logger: TestPostgres.logger)
        }
        #expect(error?.description.contains("schema version 99") == true)
    }
}

/// What `body` returned or threw.
private func outcome<T: Sendable>(_ body: () async throws -> T) async -> Result<T, any Error> {
    do { return .success(try await body()) } catch { return .failure(error) }
}

@Suite struct StoreVisitsTests {
    @Test(arguments: StoreKind.allCases)
    func visitsWithNamesAndBothInstantsAreKeptAndReadBack(_ kind: StoreKind) async throws {
        let database = try await TestDatabase.make(kind)
        defer { Task { await database.remove() } }
        let opened = try await database.open()
        let rules = SessionRules()
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        let lead = AgentIdentity(id: "ana", role: .agent, name: "Ana Núñez")
        let supervisor = AgentIdentity(id: "sam", role: .supervisor, name: "山田")
        let id = try await opened.store.create(grant: InteractionGrant(interactionID: "ix-visits", channel: .chat), customerKeyHash: "h", now: t0).view.id
        _ = try await opened.store.change(id, by: .agent("ana"), now: t0) { record, _ in
            try rules.join(&record, agent: lead, agentHoldsAnotherLiveSession: false, now: t0.addingTimeInterval(1))
        }
        _ = try await opened.store.change(id, by: .supervisor("sam"), now: t0) { record, _ in
            try rules.join(&record, agent: supervisor, agentHoldsAnotherLiveSession: false, now: t0.addingTimeInterval(2))
        }
        _ = try await opened.store.change(id, by: .supervisor("sam"), now: t0) { record, _ in
            rules.observerLeft(&record, agentID: "sam", joinedAt: t0.addingTimeInterval(2), now: t0.addingTimeInterval(3))
        }
        let reopened = try await database.open(instanceID: "reader")
        #expect(try await reopened.store.session(id)?.view.visits == [
            Visit(agentID: "ana", name: "Ana Núñez", role: .agent, joinedAt: t0.addingTimeInterval(1)),
            Visit(agentID: "sam", name: "山田", role: .supervisor, joinedAt: t0.addingTimeInterval(2), leftAt: t0.addingTimeInterval(3)),
        ])
    }
}

@Suite struct StoreOutboxTests {
    @Test(arguments: StoreKind.allCases)
    func aRegistryTakesOverAnotherRegistrysEventsOnlyOnceTheyAreOrphaned(_ kind: StoreKind) async throws {
        let database = try await TestDatabase.make(kind)
        defer { Task { await database.remove() } }
        let writer = try await database.open(instanceID: "registry-dead")
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        _ = try await writer.store.create(grant: InteractionGrant(interactionID: "ix-1", channel: .chat), customerKeyHash: "h", now: t0)
        let other = try await database.open(instanceID: "registry-alive")
        let ignore: @Sendable (OutboxEntry) async throws -> Void = { _ in }

        #expect(try await other.store.drainOutbox(limit: 10, orphanAge: .seconds(10), now: t0.addingTimeInterval(9), publish: ignore) == 0)
        #expect(try await other.store.outboxCount() == 1)
        #expect(try await other.store.drainOutbox(limit: 10, orphanAge: .seconds(10), now: t0.addingTimeInterval(11), publish: ignore) == 1)
        #expect(try await other.store.outboxCount() == 0)
    }

    @Test(arguments: StoreKind.allCases)
    func aFailedPublishLeavesTheEventsForTheNextDrain(_ kind: StoreKind) async throws {
        let database = try await TestDatabase.make(kind)
        defer { Task { await database.remove() } }
        let opened = try await database.open()
        let grant = InteractionGrant(interactionID: "ix-1", channel: .chat)
        for _ in 0..<3 { _ = try await opened.store.create(grant: grant, customerKeyHash: "h", now: Date()) }
        struct BrokerGone: Error {}
        await #expect(throws: BrokerGone.self) {
            _ = try await opened.store.drainOutbox(limit: 10, orphanAge: .seconds(10), now: Date()) { _ in throw BrokerGone() }
        }
        #expect(try await opened.store.outboxCount() == 3)
        let published = Mutex<[String]>([])
        #expect(try await opened.store.drainOutbox(limit: 10, orphanAge: .seconds(10), now: Date()) { entry in
            published.withLock { $0.append(entry.routingKey) }
        } == 3)
        #expect(published.withLock { $0 }.allSatisfy { $0.hasSuffix(".created") })
    }
}
