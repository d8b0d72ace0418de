import CobrowseBroker
import CobrowseProtocol
import Foundation
import Hummingbird
import ServiceKit

/// The registry's HTTP API for reporting and administration. Every route needs
/// `Authorization: Bearer <ADMIN_TOKEN>`; without a configured token the API is off.
///
/// - `GET /api/sessions?interaction=ID` | `?agent=ID` | `?from=ISO8601&to=ISO8601`
/// - `GET /api/sessions/live` — live sessions by state
/// - `GET /api/sessions/{id}`
/// - `GET /api/sessions/{id}/timeline` — its steps and durations (`SessionTimeline`)
/// - `GET /api/interactions/{id}/timeline` — the timelines of the interaction's sessions, oldest first
/// - `GET /api/reports/sessions?from=&to=[&by=day|agent|channel][&format=csv][&limit=&offset=]` — `SessionReport`
/// - `POST /api/sessions/{id}/end` — ends a session as administrator
/// - `POST /api/voice-codes` — a voice code for a call (`{interactionId, agentId}`)
/// - `GET /api/voice-codes/{code}?agent=ID` — the code, and the session it started
public struct ReportingAPI: Sendable {
    let store: any SessionStoring
    let handler: RegistryHandler
    let adminToken: String?

    public init(store: any SessionStoring, handler: RegistryHandler, adminToken: String?) {
        self.store = store
        self.handler = handler
        self.adminToken = adminToken
    }

    public func add(to router: Router<ServiceRequestContext>) {
        let api = router.group("api/sessions").add(middleware: AdminTokenMiddleware(token: adminToken))
        api.get { request, _ in
            let query = request.uri.queryParameters
            let filter: SessionFilter
            if let interaction = query["interaction"] {
                filter = .interaction(String(interaction))
            } else if let agent = query["agent"] {
                filter = .agent(String(agent))
            } else if let from = query["from"].flatMap({ CobrowseDate.parse(String($0)) }),
                      let to = query["to"].flatMap({ CobrowseDate.parse(String($0)) }) {
                filter = .created(from: from, to: to)
            } else {
                return jsonResponse(.badRequest, ["error": "give interaction=, agent=, or from= and to= (ISO 8601)"])
            }
            return jsonResponse(.ok, ["sessions": try await store.sessions(filter)])
        }
        api.get("live") { _, _ in
            let counts = try await store.liveCounts()
            return jsonResponse(.ok, ["idle": counts[.idle] ?? 0, "active": counts[.active] ?? 0])
        }
        api.get(":id") { _, context in
            guard let id = context.parameters.get("id").flatMap(SessionID.init) else {
                return jsonResponse(.badRequest, ["error": "a session id is nine digits"])
            }
            guard let record = try await store.session(id) else {
                return jsonResponse(.notFound, ["error": RegistryRefusal.unknownSession(id).message])
            }
            return jsonResponse(.ok, record.view)
        }
        api.get(":id/timeline") { _, context in
            guard let id = context.parameters.get("id").flatMap(SessionID.init) else {
                return jsonResponse(.badRequest, ["error": "a session id is nine digits"])
            }
            guard let record = try await store.session(id) else {
                return jsonResponse(.notFound, ["error": RegistryRefusal.unknownSession(id).message])
            }
            return jsonResponse(.ok, SessionTimeline(record.view, now: Date()))
        }
        api.post(":id/end") { _, context in
            guard let id = context.parameters.get("id").flatMap(SessionID.init) else {
                return jsonResponse(.badRequest, ["error": "a session id is nine digits"])
            }
            let reply = await handler.reply(to: try JSONEncoder.cobrowse.encode(RegistryRequest(.end(session: id, by: .administrator))))
            if let refusal = reply.refusal { return jsonResponse(refusal.httpStatus, refusal) }
            return jsonResponse(.ok, reply.session)
        }
        let interactions = router.group("api/interactions").add(middleware: AdminTokenMiddleware(token: adminToken))
        interactions.get(":id/timeline") { _, context in
            guard let interaction = context.parameters.get("id"), !interaction.isEmpty else {
                return jsonResponse(.badRequest, ["error": "name the interaction: /api/interactions/{id}/timeline"])
            }
            let now = Date()
            let timelines = try await store.sessions(.interaction(interaction)).map { SessionTimeline($0, now: now) }
            return jsonResponse(.ok, InteractionTimeline(interactionID: interaction, sessions: timelines))
        }
        let reports = router.group("api/reports").add(middleware: AdminTokenMiddleware(token: adminToken))
        reports.get("sessions") { request, _ in
            let query = request.uri.queryParameters
            guard let from = query["from"].flatMap({ CobrowseDate.parse(String($0)) }),
                  let to = query["to"].flatMap({ CobrowseDate.parse(String($0)) }), from < to else {
                return jsonResponse(.badRequest, ["error": "give from= and to= (ISO 8601, from before to)"])
            }
            guard to.timeIntervalSince(from) <= SessionReport.maxPeriod else {
                return jsonResponse(.badRequest, ["error": "a report covers at most 92 days: ask for several"])
            }
            guard let by = SessionReport.Grouping(rawValue: query["by"].map(String.init) ?? "none") else {
                return jsonResponse(.badRequest, ["error": "by= is none, day, agent or channel"])
            }
            let format = query["format"].map(String.init) ?? "json"
            guard format == "json" || format == "csv" else { return jsonResponse(.badRequest, ["error": "format= is json or csv"]) }
            guard let limit = Int(query["limit"].map(String.init) ?? "100"), (1...1000).contains(limit),
                  let offset = Int(query["offset"].map(String.init) ?? "0"), offset >= 0 else {
                return jsonResponse(.badRequest, ["error": "limit= is 1 to 1000 groups, offset= 0 or more"])
            }
            let report = try await Self.report(store, from: from, to: to, by: by, offset: offset, limit: limit)
            guard format == "csv" else { return jsonResponse(.ok, report) }
            let name = "cobrowse-sessions-\(CobrowseDate.format(from))-\(CobrowseDate.format(to)).csv".replacingOccurrences(of: ":", with: "")
            return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"\(name)\""],
                            body: .init(byteBuffer: ByteBuffer(string: report.csv)))
        }
        // The contact center's server asks for a voice code for a call it knows (docs/registry.md, "Voice codes").
        let codes = router.group("api/voice-codes").add(middleware: AdminTokenMiddleware(token: adminToken))
        codes.post { request, _ in
            let body = try await request.body.collect(upTo: 4096)
            guard let ask = try? JSONDecoder().decode(VoiceCodeRequest.self, from: Data(buffer: body)),
                  !ask.interactionId.isEmpty, !ask.agentId.isEmpty else {
                return jsonResponse(.badRequest, ["error": #"send {"interactionId": "<the call's interaction>", "agentId": "<the agent on it>"}"#])
            }
            do throws(RegistryRefusal) {
                let reply = try handler.issueVoiceCode(interactionID: ask.interactionId, agentID: ask.agentId)
                return jsonResponse(.created, reply.voiceCode)
            } catch {
                return jsonResponse(error.httpStatus, error)
            }
        }
        codes.get(":code") { request, context in
            guard let code = context.parameters.get("code"), let agent = request.uri.queryParameters["agent"] else {
                return jsonResponse(.badRequest, ["error": "say whose code: /api/voice-codes/{code}?agent=ID"])
            }
            guard let status = handler.voiceCodes.status(code, agentID: String(agent)) else {
                return jsonResponse(.notFound, RegistryRefusal(.codeUnknown, "no voice code \(code.prefix(6)) of agent \(agent.prefix(64))"))
            }
            return jsonResponse(.ok, status)
        }
    }

    /// Reads the period's sessions a page at a time (each an index range) into the report.
    public static func report(_ store: any SessionStoring, from: Date, to: Date, by: SessionReport.Grouping, offset: Int,
                       limit: Int) async throws -> SessionReport {
        var builder = SessionReport.Builder(from: from, to: to, by: by)
        var cursor: ReportCursor?
        while true {
            let rows = try await store.reportRows(createdFrom: from, to: to, after: cursor, limit: reportPage)
            for row in rows { builder.add(row) }
            guard rows.count == reportPage, let last = rows.last else { break }
            cursor = ReportCursor(createdAt: last.createdAt, id: last.id)
        }
        return builder.report(offset: offset, limit: limit)
    }

    static let reportPage = 5000

    /// An interaction's sessions, each as its timeline (none: the interaction had no session, or
    /// retention deleted them).
    struct InteractionTimeline: Encodable {
        let interactionID: String
        let sessions: [SessionTimeline]
    }

    struct VoiceCodeRequest: Decodable {
        let interactionId: String
        let agentId: String
    }
}
