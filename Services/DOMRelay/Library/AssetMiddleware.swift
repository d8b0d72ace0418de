import CobrowseProtocol
import CobrowseTokens
import Foundation
import Hummingbird
import Logging
import MaskingRules
import RelayWeb
import ServiceKit

/// The SDK at a versioned path, `/v1/cobrowse.js` (its parts under `/v1/sdk/`): sites pin the
/// major version of the API they were written against; today v1 is the unversioned SDK.
struct VersionedSDKPath<Context: RequestContext>: RouterMiddleware {
    static var prefix: String { "/v1" }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard path == Self.prefix + "/cobrowse.js" || path.hasPrefix(Self.prefix + "/sdk/") else { return try await next(request, context) }
        var head = request.head
        head.path = head.path.map { String($0.dropFirst(Self.prefix.count)) }
        return try await next(Request(head: head, body: request.body), context)
    }
}

/// The agent console runs only its own scripts, and what it rebuilds of the customer's page
/// (in a frame that inherits this policy) may load styles, images and fonts but run nothing,
/// submit nothing and open nothing. The frame's sandbox is the first line; this is the second.
struct ConsolePolicy<Context: RequestContext>: RouterMiddleware {
    /// The console's policy: only the relay's own pages and `CONSOLE_EMBEDDERS` may frame it.
    let agentPolicy: String

    init(embedders: [String] = []) {
        agentPolicy = Self.policy(embedders: embedders)
    }

    static func policy(embedders: [String]) -> String {
        // The embedders were checked to be plain origins; nothing else may reach the header.
        let ancestors = embedders.filter { $0.allSatisfy { $0.isLetter || $0.isNumber || ".:/-[]".contains($0) } }
        return [
            "default-src 'self'", "script-src 'self'", "object-src 'none'", "form-action 'none'",
            "style-src * 'unsafe-inline'", "img-src * data: blob:", "font-src * data:", "media-src *",
            "connect-src 'self'", "frame-src 'self'", "base-uri http: https:",
            (["frame-ancestors 'self'"] + ancestors).joined(separator: " "),
        ].joined(separator: "; ")
    }

    static var policy: String { policy(embedders: []) }

    /// The rules editor's page is the console's policy, but frames any page of the site (the
    /// page it edits), and its preview frame inherits the console's rules for what it rebuilds.
    static var editorPolicy: String {
        policy.replacingOccurrences(of: "frame-src 'self'", with: "frame-src 'self' http: https:")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        let path = request.uri.path
        if path.hasPrefix("/agent") { response.headers[.contentSecurityPolicy] = agentPolicy }
        if path.hasPrefix("/editor") { response.headers[.contentSecurityPolicy] = Self.editorPolicy }
        return response
    }
}

/// The SDK runs on the customer's site and reads from the relay with CORS: its parts
/// (`/sdk/*.js`, loaded as modules), its page's rules (`/cobrowse/rules`) and the answer to
/// an Exit without a socket (`/cobrowse/end`). Sites that may open co-browse sockets may read them.
struct SDKSharing<Context: RequestContext>: RouterMiddleware {
    let allowsOrigin: @Sendable (_ origin: String, _ host: String?) -> Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        let path = request.uri.path
        if path.hasPrefix("/sdk/") || path == "/cobrowse/rules" || path == SocketRoutes.customerEndPath, let origin = request.headers[.origin],
           allowsOrigin(origin, request.head.authority) {
            response.headers[.accessControlAllowOrigin] = origin
            response.headers[.vary] = "Origin"
        }
        return response
    }
}
