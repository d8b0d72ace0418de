import CobrowseProtocol
import Foundation
import Logging
@testable import SessionRegistry
import ServiceKit
import TestSupport
import Testing

/// Session ids from the store's sequence through its keyed permutation: unique without keeping
/// every id, unguessable from the last.
@Suite struct SessionIDPermutationTests {
    static let key = Data((0..<32).map { UInt8($0) })

    @Test func theFirstTwoHundredThousandIdsAreAllDifferentAndNineDigits() {
        let permutation = SessionIDPermutation(key: Self.key)
        var seen = Set<UInt64>()
        for sequence in 0..<200_000 as Range<UInt64> {
            let value = permutation.value(at: sequence)
            #expect(value < SessionIDPermutation.space)
            seen.insert(value)
        }
        #expect(seen.count == 200_000)
        #expect(permutation.id(at: 0).digits.count == 9)
    }

    @Test func consecutiveIdsLookUnrelatedAndAnotherKeyGivesAnotherOrder() {
        let permutation = SessionIDPermutation(key: Self.key)
        let other = SessionIDPermutation(key: Data(repeating: 7, count: 32))
        let values = (0..<1000 as Range<UInt64>).map(permutation.value(at:))
        let neighbours = zip(values, values.dropFirst()).filter { max($0, $1) - min($0, $1) < 1000 }.count
        #expect(neighbours < 5, "\(neighbours) of 999 consecutive ids are within 1000 of each other")
        #expect((0..<1000 as Range<UInt64>).filter { other.value(at: $0) == values[Int($0)] }.count < 5)
        #expect(permutation.value(at: 42) == SessionIDPermutation(key: Self.key).value(at: 42), "the same key, the same ids")
    }

    @Test func keysReadBackFromTheirHexForm() {
        let hex = SessionIDPermutation.newKey()
        #expect(SessionIDPermutation.key(hex: hex)?.count == 32)
        #expect(SessionIDPermutation.key(hex: "zz" + hex.dropFirst(2)) == nil)
        #expect(SessionIDPermutation.key(hex: "abcd") == nil)
    }
}

/// `HISTORY_RETENTION_DAYS`: ended sessions' records go after the period, live and recent ones
/// stay, and ids are never issued again.
@Suite struct HistoryRetentionTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    /// A session created at t0 in `interaction`, ended by its customer at `endedAt` (live when nil).
    static func session(_ interaction: String, endedAt: Date?, in store: any SessionStoring) async throws -> SessionID {
        let id = try await store.create(grant: InteractionGrant(interactionID: interaction, channel: .chat), customerKeyHash: "h", now: t0).view.id
        if let endedAt {
            _ = try await store.change(id, by: .customer, now: endedAt) { record, _ in
                try SessionRules().end(&record, reason: .customerExited, by: .customer, now: endedAt)
            }
        }
        return id
    }

    func permutation(of store: any SessionStoring) throws -> SessionIDPermutation {
        if let store = store as? SQLiteSessionStore { return store.ids }
        return try #require(store as? PostgresSessionStore).ids
    }

    @Test(arguments: StoreKind.allCases)
    func sessionsGetTheirIdsInTheOrderOfTheStoresSequence(_ kind: StoreKind) async throws {
        let database = try await TestDatabase.make(kind)
        defer { Task { await database.remove() } }
        let opened = try await database.open()
        var ids: [SessionID] = []
        for index in 0..<5 {
            ids.append(try await opened.store.create(grant: InteractionGrant(interactionID: "ix-\(index)", channel: .chat),
                                                     customerKeyHash: "h", now: Self.t0).view.id)
        }
        let permutation = try permutation(of: opened.store)
        #expect(ids == (0..<5).map { permutation.id(at: UInt64($0)) })
        // Another process on the same database goes on from the same sequence, with the same key.
        let other = try await database.open(instanceID: "another")
        let next = try await other.store.create(grant: InteractionGrant(interactionID: "ix-5", channel: .chat), customerKeyHash: "h", now: Self.t0)
        #expect(next.view.id == permutation.id(at: 5))
    }

    @Test(arguments: StoreKind.allCases)
    func recordsEndedBeforeTheCutoffGoAndEverythingElseStays(_ kind: StoreKind) async throws {
        let database = try await TestDatabase.make(kind)
        defer { Task { await database.remove() } }
        let opened = try await database.open()
        defer { withExtendedLifetime(opened) {} } // a PostgreSQL store's pool runs while it lives
        let store = opened.store
        let rules = SessionRules()
        let old = try await Self.session("ix-old", endedAt: Self.t0.addingTimeInterval(100), in: store)
        let recent = try await Self.session("ix-recent", endedAt: Self.t0.addingTimeInterval(10_000), in: store)
        let live = try await Self.session("ix-live", endedAt: nil, in: store)
        var masking = MaskingRecord()
        masking.maskedElements = 3
        _ = try await store.recordMasking(old, adding: masking)
        // An old session a supervisor observed: its observer row goes with it.
        let observed = try await store.create(grant: InteractionGrant(interactionID: "ix-observed", channel: .chat), customerKeyHash: "h",
                                              now: Self.t0).view.id
        for agent in [AgentIdentity(id: "ana", role: .agent, name: nil), AgentIdentity(id: "sam", role: .supervisor, name: nil)] {
            _ = try await store.change(observed, by: agent.actor, now: Self.t0) { record, _ in
                try rules.join(&record, agent: agent, agentHoldsAnotherLiveSession: false, now: Self.t0)
            }
        }
        _ = try await store.change(observed, by: .customer, now: Self.t0.addingTimeInterval(100)) { record, _ in
            try rules.end(&record, reason: .customerExited, by: .customer, now: Self.t0.addingTimeInterval(100))
        }
        #expect(try await store.sessions(.agent("sam"), limit: 10).map(\.id) == [observed])
        for (interaction, at) in [("ix-forgotten", 100.0), ("ix-remembered", 10_000.0)] {
            _ = try await store.endInteraction(interaction, reason: .interactionEnded, createdBefore: nil, remember: true,
                                               by: .system("interaction-watch"), rules: rules, now: Self.t0.addingTimeInterval(at))
        }

        let cutoff = Self.t0.addingTimeInterval(5_000)
        #expect(try await HistorySweeper(store: store, period: .seconds(1), interval: .seconds(1), logger: Logger(label: "test"))
            .sweep(before: cutoff) == 2)
        #expect(try await store.session(old) == nil)
        #expect(try await store.session(observed) == nil)
        #expect(try await store.sessions(.agent("sam"), limit: 10).isEmpty)
        #expect(try await store.sessions(.agent("ana"), limit: 10).isEmpty)
        #expect(try await store.session(recent)?.view.state == .ended)
        #expect(try await store.session(live)?.view.state == .idle)
        // The interaction ended long ago is forgotten; the recent one still bars new sessions.
        _ = try await store.create(grant: InteractionGrant(interactionID: "ix-forgotten", channel: .chat), customerKeyHash: "h", now: Self.t0)
        await #expect(throws: RegistryRefusal.self) {
            _ = try await store.create(grant: InteractionGrant(interactionID: "ix-remembered", channel: .chat), customerKeyHash: "h", now: Self.t0)
        }
        #expect(try await HistorySweeper(store: store, period: .seconds(1), interval: .seconds(1), logger: Logger(label: "test"))
            .sweep(before: cutoff) == 0, "a second sweep finds nothing")
    }

    @Test(arguments: StoreKind.allCases)
    func aSweepDeletesMoreThanOneBatch(_ kind: StoreKind) async throws {
        let database = try await TestDatabase.make(kind)
        defer { Task { await database.remove() } }
        let opened = try await database.open()
        defer { withExtendedLifetime(opened) {} } // a PostgreSQL store's pool runs while it lives
        let store = opened.store
        for index in 0..<(HistorySweeper.batch + 5) {
            _ = try await Self.session("ix-\(index)", endedAt: Self.t0, in: store)
        }
        #expect(try await HistorySweeper(store: store, period: .seconds(1), interval: .seconds(1), logger: Logger(label: "test"))
            .sweep(before: Self.t0.addingTimeInterval(1)) == HistorySweeper.batch + 5)
        #expect(try await store.sessions(.created(from: Self.t0.addingTimeInterval(-1), to: Self.t0.addingTimeInterval(1))).isEmpty)
    }

    @Test(arguments: ["-1", "forever", "36501"])
    func aRetentionThatIsNotANumberOfDaysIsRefused(_ value: String) {
        let error = #expect(throws: ConfigurationError.self) { try HistoryRetention(ServiceEnvironment(["HISTORY_RETENTION_DAYS": value])) }
        #expect(error?.variable == "HISTORY_RETENTION_DAYS")
    }

    @Test func zeroKeepsEverythingAndTheDefaultIsAYear() throws {
        #expect(try HistoryRetention(ServiceEnvironment(["HISTORY_RETENTION_DAYS": "0"])).period == nil)
        #expect(try HistoryRetention(ServiceEnvironment([:])).period == .seconds(365 * 86_400))
    }

    @Test(arguments: StoreKind.allCases)
    func theRunningRegistryDeletesAnEndedSessionOnceItsRetentionHasPassed(_ store: StoreKind) async throws {
        let registry = try await RegistryFixture("retention", store: store)
        defer { Task { await registry.stop() } }
        // Two seconds of retention, looked at five times a second.
        let process = try await registry.start(["HISTORY_RETENTION_DAYS": "0.000023", "HISTORY_SWEEP_INTERVAL": "0.2"])
        let reply = try await registry.send(.create(interactionToken: registry.tokens.interaction("ix-kept-briefly")))
        let created = try reply.get()
        let admin = ["Authorization": "Bearer admin-secret"]
        let ended = try await registry.session(.end(session: created.id, by: .customer(key: try #require(reply.customerKey))))
        // Kept until its retention has passed, counted from its end (a loaded machine may only
        // get here later: then there is nothing to say about "at first").
        let answer = await process.get("/api/sessions/\(created.id)", headers: admin)?.status
        if Date() < (try #require(ended.endedAt)).addingTimeInterval(1.5) { #expect(answer == 200, "deleted before its retention passed") }
        #expect(await eventually { await process.get("/api/sessions/\(created.id)", headers: admin)?.status == 404 })
        #expect(process.log.contains("deleted ended sessions past retention"))
        let next = try await registry.session(.create(interactionToken: registry.tokens.interaction("ix-next")))
        #expect(next.id != created.id)
    }
}
