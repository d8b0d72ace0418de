import CobrowseProtocol
import CobrowseTokens
import Foundation
import Hummingbird
import Logging
import MaskingRules
import RelayWeb
import ServiceKit

/// What the relay serves over plain HTTP: the sharer SDK (`/cobrowse.js`), the masking rules of
/// a page (`/cobrowse/rules?url=`) and the agent console (`/agent/`, under a strict CSP)
/// always; in dev mode also the demo shop (`/demo/`) and two token endpoints that stand in for
/// a contact center. Without dev mode those paths do not exist (404).
struct AssetRoutes: Sendable {
    let rules: MaskingRulesSource
    let logger: Logger
    /// Which page origins may read the rules (the same as may open sockets).
    let allowsOrigin: @Sendable (_ origin: String, _ host: String?) -> Bool
    /// Present only in dev mode: signs tokens as the contact center would.
    let devTokens: ContactCenterTokens?
    /// Where the browser code is read from (`WEB_ROOT`; nil: the relay's bundled copy).
    let webRoot: String?
    /// Origins that may frame the console and hand it a token (`CONSOLE_EMBEDDERS`).
    var consoleEmbedders: [String] = []

    func add(to router: Router<ServiceRequestContext>) {
        // `no-cache`: browsers revalidate, so a new SDK reaches every customer's next page.
        let revalidate = CacheControl([(MediaType(type: .any), [.noCache])])
        router.add(middleware: VersionedSDKPath())
        router.add(middleware: ConsolePolicy(embedders: consoleEmbedders))
        router.add(middleware: SDKSharing(allowsOrigin: allowsOrigin))
        router.get("/cobrowse/rules") { request, _ -> Response in
            guard let url = request.uri.queryParameters["url"].map(String.init), URL(string: url)?.host != nil else {
                throw HTTPError(.badRequest, message: "say which page: /cobrowse/rules?url=<the page's absolute URL>")
            }
            // A changed file is picked up here too, not only by the watcher: the filter may ask
            // the SDK for a snapshot (which fetches rules) the moment it sees the change.
            rules.reload(logger: logger)
            var response = jsonResponse(.ok, rules.rules.page(for: url))
            response.headers[.cacheControl] = "no-store"
            return response
        }
        // The built-in tables the SDK and the console share with the filter, made from the Swift
        // source of truth (`BuiltInTables`), so the sides can never disagree.
        for path in [Self.builtInRulesPath, VersionedSDKPath<ServiceRequestContext>.prefix + Self.builtInRulesPath] {
            router.get(RouterPath(path)) { _, _ -> Response in
                var response = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: Self.builtInRulesModule)))
                response.headers[.contentType] = "text/javascript; charset=utf-8"
                response.headers[.cacheControl] = "no-cache"
                return response
            }
        }
        // What the console needs to know before it accepts a token by postMessage: who may send one.
        router.get("/agent/embedding.json") { _, _ -> Response in
            var response = jsonResponse(.ok, ["embedders": consoleEmbedders])
            response.headers[.cacheControl] = "no-store"
            return response
        }
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
            // `name`: the display name the customer's bar shows (absent: the bar says "an agent").
            let name = request.uri.queryParameters["name"].map(String.init)
            return Self.token(try await devTokens.agent(agent, role: role, name: name))
        }
    }

    static let builtInRulesPath = "/sdk/built-in-rules.js"

    /// An ES module of every table the SDK and the console share with the filter (`BuiltInTables`).
    static var builtInRulesModule: String { BuiltInTables.javaScriptModule }

    private static func token(_ token: String) -> Response {
        var response = jsonResponse(.ok, ["token": token])
        response.headers[.cacheControl] = "no-store"
        return response
    }
}
