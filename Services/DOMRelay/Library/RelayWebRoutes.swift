import CobrowseProtocol
import CobrowseTokens
import Foundation
import Hummingbird
import RelayWeb
import ServiceKit

/// What the relay serves over plain HTTP: the sharer SDK (`/cobrowse.js`) and the agent console
/// (`/agent/`) always; in dev mode also the demo shop (`/demo/`) and two token endpoints that
/// stand in for a contact center. Without dev mode those paths do not exist (404).
struct RelayWebRoutes: Sendable {
    /// Present only in dev mode: signs tokens as the contact center would.
    let devTokens: ContactCenterTokens?
    /// Where the browser code is read from (`WEB_ROOT`; nil: the relay's bundled copy).
    let webRoot: String?

    func add(to router: Router<BasicRequestContext>) {
        // `no-cache`: browsers revalidate, so a new SDK reaches every customer's next page.
        let revalidate = CacheControl([(MediaType(type: .any), [.noCache])])
        let folders = WebAssets.folders(root: webRoot)
        router.add(middleware: FileMiddleware(folders.public, cacheControl: revalidate, searchForIndexHtml: true))
        guard let devTokens else { return }
        router.add(middleware: FileMiddleware(folders.demo, urlBasePath: "/demo", cacheControl: revalidate,
                                              searchForIndexHtml: true))
        router.get("/dev/interaction-token") { request, _ -> Response in
            let channel = try request.uri.queryParameters["channel"].map { value in
                guard let channel = InteractionChannel(rawValue: String(value)) else {
                    throw HTTPError(.badRequest, message: "channel must be chat, messaging or voice")
                }
                return channel
            } ?? .chat
            let id = request.uri.queryParameters["interaction"].map(String.init) ?? "demo-\(UUID().uuidString.prefix(8).lowercased())"
            return Self.token(try await devTokens.interaction(id, channel: channel))
        }
        router.get("/dev/agent-token") { request, _ -> Response in
            guard let agent = request.uri.queryParameters["agent"].map(String.init), !agent.isEmpty else {
                throw HTTPError(.badRequest, message: "say which agent: /dev/agent-token?agent=NAME")
            }
            let role = try request.uri.queryParameters["role"].map { value in
                guard let role = AgentRole(rawValue: String(value)) else {
                    throw HTTPError(.badRequest, message: "role must be agent or supervisor")
                }
                return role
            } ?? .agent
            return Self.token(try await devTokens.agent(agent, role: role))
        }
    }

    private static func token(_ token: String) -> Response {
        var response = jsonResponse(.ok, ["token": token])
        response.headers[.cacheControl] = "no-store"
        return response
    }
}
