import Hummingbird

/// Lets a request through only with `Authorization: Bearer <token>` (compared in constant
/// time). Without a token the API is off (403), unless `openInDevMode`: a dev-mode relay lets
/// anyone who reaches it in, as it already signs tokens for anyone.
public struct AdminTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String?
    let openInDevMode: Bool

    /// - Parameters:
    ///   - token: the `ADMIN_TOKEN`; nil or empty turns the API off.
    ///   - openInDevMode: with no token, let every request in (dev mode only).
    public init(token: String?, openInDevMode: Bool = false) {
        self.token = token
        self.openInDevMode = openInDevMode
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token, !token.isEmpty else {
            if openInDevMode { return try await next(request, context) }
            return jsonResponse(.forbidden, ["error": "the admin API is off: set ADMIN_TOKEN"])
        }
        let presented = request.headers[.authorization].map { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : "" } ?? ""
        guard Self.equal(Array(presented.utf8), Array(token.utf8)) else {
            return jsonResponse(.unauthorized, ["error": "missing or wrong admin token"])
        }
        return try await next(request, context)
    }

    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
