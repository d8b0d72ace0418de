import CobrowseProtocol
import CobrowseTokens
import Foundation
@testable import SessionRegistry
import TestSupport
import Testing

/// `GET /api/sessions/{id}/timeline` and `/api/interactions/{id}/timeline`: a session's steps in
/// order and its durations, derived from what the registry stores.
@Suite struct SessionTimelineTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    /// A session driven through the rules: created at t0, joined at +10 s, write requested at +20,
    /// approved at +25, revoked at +85, observed from +30 to +40, ended by the customer at +100.
    static func session() throws -> SessionView {
        let rules = SessionRules()
        var record = SessionRules.newSession(id: SessionID("123456789")!, grant: InteractionGrant(interactionID: "ix-t", channel: .voice),
                                             customerKeyHash: "h", now: t0)
        _ = try rules.join(&record, agent: AgentIdentity(id: "ana", role: .agent, name: "Ana"), agentHoldsAnotherLiveSession: false,
                           now: t0.addingTimeInterval(10))
        _ = try rules.requestWrite(&record, agent: AgentIdentity(id: "ana", role: .agent, name: "Ana"), now: t0.addingTimeInterval(20))
        _ = try rules.answerWrite(&record, approve: true, now: t0.addingTimeInterval(25))
        _ = try rules.join(&record, agent: AgentIdentity(id: "sam", role: .supervisor, name: nil), agentHoldsAnotherLiveSession: false,
                           now: t0.addingTimeInterval(30))
        _ = rules.observerLeft(&record, agentID: "sam", joinedAt: t0.addingTimeInterval(30), now: t0.addingTimeInterval(40))
        _ = try rules.revokeWrite(&record, now: t0.addingTimeInterval(85))
        _ = try rules.end(&record, reason: .customerExited, by: .customer, now: t0.addingTimeInterval(100))
        var view = record.view
        var masking = MaskingRecord()
        masking.droppedActions = [.init(at: t0.addingTimeInterval(15), action: "input", reason: "pointer-mode")]
        masking.droppedActionsTotal = 3
        masking.pages = [.init(at: t0.addingTimeInterval(5), url: "https://shop.example/cart"),
                         .init(at: t0.addingTimeInterval(50), url: "https://shop.example/checkout")]
        masking.pagesTotal = 2
        masking.forwardedActions = [.init(at: t0.addingTimeInterval(60), action: "click")]
        masking.forwardedActionsTotal = 1
        view.masking = masking
        return view
    }

    @Test func everyStepComesInTimeOrderWithWhoDidIt() throws {
        let timeline = SessionTimeline(try Self.session(), now: Self.t0.addingTimeInterval(1000))
        #expect(timeline.entries.map(\.kind) == ["created", "page", "joined", "action-dropped", "write-requested", "write-approved",
                                                  "observer-joined", "observer-left", "page", "action-forwarded", "write-revoked", "ended"])
        #expect(timeline.entries.map { $0.at.timeIntervalSince(Self.t0) } == [0, 5, 10, 15, 20, 25, 30, 40, 50, 60, 85, 100])
        #expect(timeline.entries[1].url == "https://shop.example/cart" && timeline.entries[1].by == .customer)
        #expect(timeline.entries[2].by == .agent("ana") && timeline.entries[2].name == "Ana")
        #expect(timeline.entries[3].action == "input" && timeline.entries[3].reason == "pointer-mode")
        #expect(timeline.entries[6].by == .supervisor("sam"))
        #expect(timeline.entries[9].action == "click" && timeline.entries[9].by == .agent("ana"))
        #expect(timeline.entries.last?.by == .customer && timeline.entries.last?.reason == "customer-exited")
        #expect(timeline.droppedActionsNotListed == 2 && timeline.pagesNotListed == 0 && timeline.forwardedActionsNotListed == 0)
    }

    @Test func durationsAreTheWaitTheRunAndTheTimeInWriteMode() throws {
        let timeline = SessionTimeline(try Self.session(), now: Self.t0.addingTimeInterval(1000))
        #expect(timeline.durations == .init(waitingForAgent: 10_000, active: 90_000, writeMode: 60_000, writeRequests: 1, writeApprovals: 1))
    }

    @Test func aLiveSessionsDurationsRunToNowAndAnUnjoinedOneOnlyWaits() throws {
        let rules = SessionRules()
        var record = SessionRules.newSession(id: SessionID("000000001")!, grant: InteractionGrant(interactionID: "ix-live", channel: .chat),
                                             customerKeyHash: "h", now: Self.t0)
        #expect(SessionTimeline(record.view, now: Self.t0.addingTimeInterval(7)).durations.waitingForAgent == 7_000)
        #expect(SessionTimeline(record.view, now: Self.t0.addingTimeInterval(7)).durations.active == nil)
        _ = try rules.join(&record, agent: AgentIdentity(id: "ana", role: .agent, name: nil), agentHoldsAnotherLiveSession: false,
                           now: Self.t0.addingTimeInterval(2))
        _ = try rules.requestWrite(&record, agent: AgentIdentity(id: "ana", role: .agent, name: nil), now: Self.t0.addingTimeInterval(3))
        _ = try rules.answerWrite(&record, approve: true, now: Self.t0.addingTimeInterval(4))
        let live = SessionTimeline(record.view, now: Self.t0.addingTimeInterval(10))
        #expect(live.durations == .init(waitingForAgent: 2_000, active: 8_000, writeMode: 6_000, writeRequests: 1, writeApprovals: 1))
    }

    @Test(arguments: StoreKind.allCases)
    func theRegistryServesTimelinesOfASessionAndOfAnInteraction(_ store: StoreKind) async throws {
        let registry = try await RegistryFixture("timeline", store: store)
        defer { Task { await registry.stop() } }
        let process = try await registry.start()
        let tokens = registry.tokens
        let reply = try await registry.send(.create(interactionToken: tokens.interaction("ix-audit", channel: .voice)))
        let created = try reply.get()
        let key = try #require(reply.customerKey)
        let agent = try await tokens.agent("ana", name: "Ana")
        _ = try await registry.session(.join(session: created.id, agentToken: agent))
        _ = try await registry.session(.requestWrite(session: created.id, agentToken: agent))
        _ = try await registry.session(.answerWrite(session: created.id, customerKey: key, approve: false))
        _ = try await registry.session(.end(session: created.id, by: .customer(key: key)))
        let second = try await registry.session(.create(interactionToken: tokens.interaction("ix-audit", channel: .voice)))
        let admin = ["Authorization": "Bearer admin-secret"]

        let response = try #require(await process.get("/api/sessions/\(created.id)/timeline", headers: admin))
        #expect(response.status == 200, "\(response.body)")
        let timeline = try JSONDecoder.cobrowse.decode(SessionTimeline.self, from: Data(response.body.utf8))
        #expect(timeline.entries.map(\.kind) == ["created", "joined", "write-requested", "write-denied", "ended"])
        #expect(timeline.entries[1].name == "Ana" && timeline.channel == .voice && timeline.endReason == .customerExited)
        #expect(timeline.durations.writeRequests == 1 && timeline.durations.writeApprovals == 0 && timeline.durations.writeMode == 0)

        struct Interaction: Decodable { let interactionID: String; let sessions: [SessionTimeline] }
        let all = try #require(await process.get("/api/interactions/ix-audit/timeline", headers: admin))
        let interaction = try JSONDecoder.cobrowse.decode(Interaction.self, from: Data(all.body.utf8))
        #expect(interaction.interactionID == "ix-audit" && interaction.sessions.map(\.session) == [created.id, second.id])
        #expect(interaction.sessions[1].state == .idle && interaction.sessions[1].entries.map(\.kind) == ["created"])

        #expect(await process.get("/api/interactions/ix-none/timeline", headers: admin)?.body.contains(#""sessions":[]"#) == true)
        #expect(await process.get("/api/sessions/999999999/timeline", headers: admin)?.status == 404)
        #expect(await process.get("/api/sessions/12/timeline", headers: admin)?.status == 400)
        #expect(await process.get("/api/sessions/\(created.id)/timeline")?.status == 401)
        #expect(await process.get("/api/interactions/ix-audit/timeline")?.status == 401)
    }
}
