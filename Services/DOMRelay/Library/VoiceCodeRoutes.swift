import AMQP
import CobrowseBroker
import CobrowseProtocol
import Foundation
import Hummingbird
import Logging
import ServiceKit

/// The agent console's side of voice codes (docs/agent-console.md, "Voice calls"): an agent on
/// a call asks for a code bound to the call's interaction, reads it out, and learns the session
/// it started. The registry keeps the codes; these routes carry the agent's token to it.
///
/// - `POST /cobrowse/voice-codes` — `{agentToken, interactionToken}` → 201 `{code, interactionID, expiresAt}`
/// - `GET /cobrowse/voice-codes/{code}` with `Authorization: Bearer <agent token>` → the code, with
///   `sessionID` once the customer typed it
struct VoiceCodeRoutes: Sendable {
    /// The broker connection, once there is one.
    let broker: @Sendable () async -> AMQPConnection?
    let logger: Logger

    struct Ask: Decodable {
        let agentToken: String
        let interactionToken: String
    }

    func add(to router: Router<ServiceRequestContext>) {
        router.post("/cobrowse/voice-codes") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 16 * 1024)
            guard let ask = try? JSONDecoder().decode(Ask.self, from: Data(buffer: body)) else {
                return jsonResponse(.badRequest, RegistryRefusal(.malformedRequest,
                    #"send {"agentToken": "<yours>", "interactionToken": "<the call's, channel voice>"}"#))
            }
            return await send(.issueVoiceCode(agentToken: ask.agentToken, interactionToken: ask.interactionToken), created: true)
        }
        router.get("/cobrowse/voice-codes/:code") { request, context -> Response in
            guard let code = context.parameters.get("code"),
                  let token = request.headers[.authorization].flatMap({ $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }) else {
                return jsonResponse(.unauthorized, RegistryRefusal(.invalidToken, "send your agent token: Authorization: Bearer <token>"))
            }
            return await send(.voiceCodeStatus(code: String(code.prefix(16)), agentToken: token), created: false)
        }
    }

    private func send(_ command: RegistryCommand, created: Bool) async -> Response {
        guard let reply = await RegistryOverHTTP.reply(to: command, over: await broker(), logger: logger,
                                                       failure: "voice code request not answered") else {
            return RegistryOverHTTP.unavailable
        }
        if let refusal = reply.refusal { return jsonResponse(refusal.httpStatus, refusal) }
        guard let code = reply.voiceCode else { return RegistryOverHTTP.unavailable }
        var response = jsonResponse(created ? .created : .ok, code)
        response.headers[.cacheControl] = "no-store"
        return response
    }
}
