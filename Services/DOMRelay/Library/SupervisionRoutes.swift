import AMQP
import CobrowseBroker
import CobrowseProtocol
import Foundation
import Hummingbird
import Logging
import ServiceKit

/// The supervisor's live view (docs/agent-console.md, "Supervisor's live view"): every live
/// session with its lead, observers, state, mode, age and health, from the registry, for a
/// supervisor's token.
///
/// - `GET /cobrowse/supervision` with `Authorization: Bearer <supervisor token>` → `Supervision`
struct SupervisionRoutes: Sendable {
    /// The broker connection, once there is one.
    let broker: @Sendable () async -> AMQPConnection?
    let logger: Logger

    func add(to router: Router<ServiceRequestContext>) {
        router.get("/cobrowse/supervision") { request, _ -> Response in
            guard let token = request.headers[.authorization].flatMap({ $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }),
                  !token.isEmpty else {
                return jsonResponse(.unauthorized, RegistryRefusal(.invalidToken, "send your supervisor token: Authorization: Bearer <token>"))
            }
            guard let reply = await RegistryOverHTTP.reply(to: .superviseLive(agentToken: token), over: await broker(), logger: logger,
                                                           failure: "supervisor's list not answered") else {
                return RegistryOverHTTP.unavailable
            }
            if let refusal = reply.refusal { return jsonResponse(refusal.httpStatus, refusal) }
            guard let supervision = reply.supervision else { return RegistryOverHTTP.unavailable }
            var response = jsonResponse(.ok, supervision)
            response.headers[.cacheControl] = "no-store"
            return response
        }
    }
}
