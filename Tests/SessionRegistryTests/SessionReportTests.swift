import CobrowseProtocol
import CobrowseTokens
import Foundation
@testable import SessionRegistry
import TestSupport
import Testing

/// `GET /api/reports/sessions`: figures per period and group, as JSON or CSV, read a page at a time.
@Suite struct SessionReportTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000) // 2027-01-15T08:00:00Z

    static func row(_ index: Int, channel: InteractionChannel = .chat, lead: String? = "ana", joinAfter: Double? = 10,
                    endAfter: Double? = 100, reason: EndReason? = .customerExited, changes: [ModeChange] = [],
                    dropped: [String: Int] = [:], day: Int = 0) -> ReportRow {
        let created = t0.addingTimeInterval(Double(day) * 86_400 + Double(index))
        return ReportRow(id: SessionID(String(format: "%09d", index))!, createdAt: created, joinedAt: joinAfter.map { created.addingTimeInterval($0) },
                         endedAt: endAfter.map { created.addingTimeInterval($0) }, channel: channel, leadAgentID: joinAfter == nil ? nil : lead,
                         endReason: endAfter == nil ? nil : reason, modeChanges: changes, droppedActions: dropped)
    }

    @Test func oneGroupCountsTheSessionsAndTakesNearestRankPercentiles() {
        var builder = SessionReport.Builder(from: Self.t0, to: Self.t0.addingTimeInterval(86_400), by: .none)
        for index in 1...10 { builder.add(Self.row(index, joinAfter: Double(index), endAfter: Double(index * 100))) }
        builder.add(Self.row(11, joinAfter: nil, endAfter: 300, reason: .noAgentJoined))
        builder.add(Self.row(12, joinAfter: 5, endAfter: nil))
        let report = builder.report(offset: 0, limit: 100)
        #expect(report.totalGroups == 1)
        let all = report.groups[0]
        #expect(all.key == "all" && all.started == 12 && all.joined == 11 && all.ended == 11)
        #expect(all.timeToJoin == .init(median: 5_000, p90: 9_000))
        #expect(all.length == .init(median: 500_000, p90: 900_000))
        #expect(all.endReasons == ["customer-exited": 10, "no-agent-joined": 1])
    }

    @Test func writeModeFiguresAddUpRequestsApprovalsAndTime() {
        let at = { (seconds: Double) in Self.t0.addingTimeInterval(seconds) }
        var builder = SessionReport.Builder(from: Self.t0, to: Self.t0.addingTimeInterval(86_400), by: .none)
        builder.add(Self.row(0, endAfter: 100, changes: [
            ModeChange(kind: .requested, at: at(10), by: .agent("ana")), ModeChange(kind: .approved, at: at(12), by: .customer),
            ModeChange(kind: .revoked, at: at(42), by: .customer), ModeChange(kind: .requested, at: at(50), by: .agent("ana")),
            ModeChange(kind: .approved, at: at(51), by: .customer),
        ], dropped: ["pointer-mode": 2]))
        builder.add(Self.row(1, changes: [ModeChange(kind: .requested, at: at(20), by: .agent("ana")),
                                          ModeChange(kind: .denied, at: at(21), by: .customer)], dropped: ["pointer-mode": 1, "not-listed": 4]))
        let all = builder.report(offset: 0, limit: 10).groups[0]
        #expect(all.writeRequests == 3 && all.writeApprovals == 2 && all.writeAcceptanceRate == 2.0 / 3.0)
        #expect(all.writeModeTime == 30_000 + 49_000, "approved at 12 s, revoked at 42; approved at 51, ended at 100")
        #expect(all.droppedActions == ["pointer-mode": 3, "not-listed": 4])
    }

    @Test func groupsByDayAgentAndChannelComeInKeyOrderAPageAtATime() {
        let rows = [Self.row(1, channel: .voice, lead: "zoe"), Self.row(2, lead: "ana", day: 1), Self.row(3, channel: .voice, lead: "ana", day: 1),
                    Self.row(4, joinAfter: nil, endAfter: nil)]
        func report(_ by: SessionReport.Grouping, offset: Int = 0, limit: Int = 10) -> SessionReport {
            var builder = SessionReport.Builder(from: Self.t0, to: Self.t0.addingTimeInterval(3 * 86_400), by: by)
            for row in rows { builder.add(row) }
            return builder.report(offset: offset, limit: limit)
        }
        #expect(report(.day).groups.map(\.key) == ["2027-01-15", "2027-01-16"])
        #expect(report(.day).groups.map(\.started) == [2, 2])
        #expect(report(.agent).groups.map(\.key) == ["", "ana", "zoe"], "\"\": sessions nobody joined")
        #expect(report(.channel).groups.map { "\($0.key)=\($0.started)" } == ["chat=2", "voice=2"])
        let page = report(.agent, offset: 1, limit: 1)
        #expect(page.groups.map(\.key) == ["ana"] && page.totalGroups == 3 && page.offset == 1)
    }

    @Test func csvHasAHeaderAndOneQuotedLinePerGroup() {
        var builder = SessionReport.Builder(from: Self.t0, to: Self.t0.addingTimeInterval(86_400), by: .agent)
        builder.add(Self.row(1, lead: "ana, \"the lead\"", dropped: ["pointer-mode": 1, "not-allowed": 2]))
        let lines = builder.report(offset: 0, limit: 10).csv.components(separatedBy: "\r\n")
        #expect(lines[0].hasPrefix("from,to,group,started,joined,ended,time_to_join_median_ms,"))
        #expect(lines[1].contains(#","ana, ""the lead""",1,1,1,10000,10000,100000,100000,0,0,,0,customer-exited=1,not-allowed=2;pointer-mode=1"#),
                "\(lines[1])")
        #expect(lines.count == 3 && lines[2].isEmpty)
    }

    @Test(arguments: StoreKind.allCases)
    func reportRowsComePageByPageWithoutLossWhenManyShareAnInstant(_ kind: StoreKind) async throws {
        let database = try await TestDatabase.make(kind)
        defer { Task { await database.remove() } }
        let opened = try await database.open()
        var created: Set<SessionID> = []
        for index in 0..<7 {
            created.insert(try await opened.store.create(grant: InteractionGrant(interactionID: "ix-\(index)", channel: .messaging),
                                                         customerKeyHash: "h", now: Self.t0).view.id)
        }
        _ = try await opened.store.create(grant: InteractionGrant(interactionID: "ix-late", channel: .chat), customerKeyHash: "h",
                                          now: Self.t0.addingTimeInterval(3600))
        var seen: [SessionID] = []
        var cursor: ReportCursor?
        while true {
            let rows = try await opened.store.reportRows(createdFrom: Self.t0, to: Self.t0.addingTimeInterval(60), after: cursor, limit: 3)
            seen += rows.map(\.id)
            guard let last = rows.last else { break }
            cursor = ReportCursor(createdAt: last.createdAt, id: last.id)
        }
        #expect(seen.count == 7 && Set(seen) == created, "the session an hour later is outside the period")
        #expect(seen == seen.sorted { $0.digits < $1.digits }, "same instant: in id order")
    }

    @Test(arguments: StoreKind.allCases)
    func theRegistryAnswersReportsAsJSONAndCSVAndRefusesUnboundedOnes(_ store: StoreKind) async throws {
        let registry = try await RegistryFixture("reports", store: store)
        defer { Task { await registry.stop() } }
        let process = try await registry.start()
        let tokens = registry.tokens
        let before = Date().addingTimeInterval(-1)
        for (index, channel) in [InteractionChannel.voice, .chat, .chat].enumerated() {
            let reply = try await registry.send(.create(interactionToken: tokens.interaction("ix-report-\(index)", channel: channel)))
            let session = try reply.get()
            if index > 0 { _ = try await registry.session(.join(session: session.id, agentToken: try await tokens.agent("agent-\(index)"))) }
            _ = try await registry.session(.end(session: session.id, by: .customer(key: try #require(reply.customerKey))))
        }
        let period = "from=\(CobrowseDate.format(before))&to=\(CobrowseDate.format(Date().addingTimeInterval(1)))"
        let admin = ["Authorization": "Bearer admin-secret"]

        let json = try #require(await process.get("/api/reports/sessions?\(period)&by=channel", headers: admin))
        #expect(json.status == 200, "\(json.body)")
        let report = try JSONDecoder.cobrowse.decode(SessionReport.self, from: Data(json.body.utf8))
        #expect(report.groups.map(\.key) == ["chat", "voice"] && report.groups.map(\.started) == [2, 1])
        #expect(report.groups[0].joined == 2 && report.groups[0].endReasons == ["customer-exited": 2] && report.groups[1].joined == 0)

        let csv = try #require(await process.get("/api/reports/sessions?\(period)&by=agent&format=csv", headers: admin))
        #expect(csv.status == 200)
        let lines = csv.body.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(lines.count == 4, "a header and three agents (one of them nobody): \(csv.body)")
        #expect(lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false)[2] } == ["", "agent-1", "agent-2"])

        let long = "from=2026-01-01T00:00:00.000Z&to=2026-06-01T00:00:00.000Z"
        #expect(await process.get("/api/reports/sessions?\(long)", headers: admin)?.body.contains("at most 92 days") == true)
        #expect(await process.get("/api/reports/sessions?\(period)&by=week", headers: admin)?.status == 400)
        #expect(await process.get("/api/reports/sessions?\(period)&limit=0", headers: admin)?.status == 400)
        #expect(await process.get("/api/reports/sessions", headers: admin)?.status == 400)
        #expect(await process.get("/api/reports/sessions?\(period)")?.status == 401)
    }
}
