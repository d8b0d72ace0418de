import AMQP
import CobrowseBroker
import CobrowseProtocol
import Foundation
import ServiceKit
import TestSupport
import Testing

/// Registries on several hosts: two real processes sharing nothing but the broker and one
/// PostgreSQL database; the broker's single active consumer of the RPC queue picks which serves.
@Suite struct RegistryFailoverTests {
    @Test func theStandbyTakesOverOnPostgreSQLAndNothingIsLostOrDuplicated() async throws {
        let registry = try await RegistryFixture("failover", store: .postgres)
        defer { Task { await registry.stop() } }
        let processes = [try await registry.start(), try await registry.start()]
        let tokens = registry.tokens
        let events = try await registry.lifecycleEvents()

        var sessions: [SessionView] = []
        for index in 0..<30 {
            let created = try await registry.session(.create(interactionToken: tokens.interaction("ix-\(index)")))
            // Every other one joined, so the agents' unique index holds rows on both sides of the kill.
            sessions.append(index.isMultiple(of: 2) ? try await registry.session(.join(session: created.id, agentToken: tokens.agent("agent-\(index)")))
                                                    : created)
        }
        let active = try await activeRegistry(registry)
        let standby = processes[1 - active]

        let killedAt = ContinuousClock.now
        kill(processes[active].process.processIdentifier, SIGKILL)
        // The first command after the kill waits in the queue until the broker hands it to the
        // standby; a generous bound, not a timing claim.
        let idle = sessions[1]
        let joined = try await RegistryClient(connection: registry.connection, timeout: .seconds(30))
            .send(.join(session: idle.id, agentToken: tokens.agent("agent-after")))
        let failover = ContinuousClock.now - killedAt
        print("failover on PostgreSQL: the first command after kill -9 of the active registry was answered after \(failover)")
        _ = await processes[active].waitForExit()
        #expect(standby.process.isRunning)
        let afterFailover = try joined.get()
        #expect(afterFailover.state == .active && afterFailover.leadAgentID == "agent-after")
        sessions[1] = afterFailover

        // Nothing lost: every session as it was (or as the standby changed it); nothing duplicated.
        for session in sessions {
            #expect(try await registry.session(.get(session: session.id)) == session)
        }
        let live = try await registry.send(.listLive).list()
        #expect(live.count == sessions.count)
        #expect(Set(live.map(\.id)) == Set(sessions.map(\.id)))
        // The standby keeps the one-live-session-per-agent rule the dead one's joins set up.
        #expect(try await registry.send(.join(session: sessions[3].id, agentToken: tokens.agent("agent-0"))).refusal?.code == .agentBusy)

        // Every event reached the exchange, including any the dead registry left unpublished
        // (the standby takes those over once orphaned): at least once each.
        let expected = Set(sessions.map { "\($0.id.digits).created" }
            + sessions.filter { $0.leadAgentID != nil }.map { "\($0.id.digits).activated" })
        var seen = Set<String>()
        for delivery in try await events.take(expected.count, within: .seconds(60)) {
            let event = try JSONDecoder.cobrowse.decode(SessionEvent.self, from: delivery.body)
            seen.insert("\(event.session.id.digits).\(event.kind.rawValue)")
        }
        if !expected.isSubset(of: seen) {
            let more = try await events.take(expected.subtracting(seen).count, within: .seconds(60))
            for delivery in more {
                let event = try JSONDecoder.cobrowse.decode(SessionEvent.self, from: delivery.body)
                seen.insert("\(event.session.id.digits).\(event.kind.rawValue)")
            }
        }
        #expect(expected.isSubset(of: seen), "missing: \(expected.subtracting(seen).sorted())")

        // SIGTERM shuts the survivor down cleanly, its connection pool last.
        #expect(await standby.terminate() == 0, "\(standby.log.split(separator: "\n").suffix(10).joined(separator: "\n"))")
    }

    /// Which of the fixture's registries the broker made the RPC queue's active consumer (its
    /// index: each registry's connection is named after its INSTANCE_ID, `registry-<index>`).
    private func activeRegistry(_ registry: RegistryFixture) async throws -> Int {
        let vhost = try #require(URLComponents(string: registry.url)).percentEncodedPath.dropFirst()
        var found: Int?
        let decided = try await eventually(within: .seconds(30)) {
            let consumers = try await TestBroker.managementGET("/api/consumers/\(vhost)") as? [[String: Any]] ?? []
            let connections = try await TestBroker.managementGET("/api/vhosts/\(vhost)/connections") as? [[String: Any]] ?? []
            guard let consumer = consumers.first(where: {
                ($0["queue"] as? [String: Any])?["name"] as? String == CobrowseTopology.registryRPCQueue && $0["active"] as? Bool == true
            }), let connectionName = (consumer["channel_details"] as? [String: Any])?["connection_name"] as? String,
                let named = connections.first(where: { $0["name"] as? String == connectionName })?["user_provided_name"] as? String,
                let index = Int(named.split(separator: "-").last ?? "") else { return false }
            found = index
            return true
        }
        #expect(decided, "the management API named no active consumer of \(CobrowseTopology.registryRPCQueue)")
        return try #require(found)
    }
}
