import AMQP
import CobrowseBroker
import CobrowseProtocol
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import Metrics
import ServiceKit
import Synchronization

/// Which pages may open sockets or end sessions over HTTP (ALLOWED_ORIGINS, else the relay's own
/// origin), and the customer's beacon end (`POST /cobrowse/end`).
extension SocketRoutes {
    /// Browsers always send `Origin` on a WebSocket upgrade: it must be listed, or (with no list)
    /// be this relay's own origin. Programs that send none are let through; they prove
    /// themselves with tokens like everyone else.
    func checkOrigin(_ request: Request) throws -> RouterShouldUpgrade {
        // A declined upgrade is answered 400 by the WebSocket layer; a plain GET of the same
        // path reaches the HTTP routes below, which say why (403 or 426).
        refusedOrigin(request) == nil ? .upgrade([:]) : .dontUpgrade
    }

    /// The first presented Origin that may not connect (a browser sends exactly one).
    func refusedOrigin(_ request: Request) -> String? {
        request.headers[values: .origin].first { !allows(origin: $0, host: request.head.authority) }
    }

    /// What `/ws/…` answers when it is not upgraded: 403 for a refused origin, 426 otherwise.
    func addRefusals(to router: Router<ServiceRequestContext>) {
        for path in ["/ws/share", "/ws/view"] {
            router.get(RouterPath(path)) { request, _ -> Response in
                if let origin = refusedOrigin(request) {
                    throw HTTPError(.forbidden, message: "origin \(origin) is not allowed to open co-browse sockets")
                }
                throw HTTPError(.upgradeRequired, message: "this is a WebSocket endpoint")
            }
        }
    }

    /// `POST /cobrowse/end` `{"sessionId", "customerKey"}`: the customer's Exit when the SDK
    /// has no socket (reconnecting after a relay went away), so the registry records that the
    /// customer ended the session rather than, a grace later, that they were gone. The SDK
    /// sends it as a beacon (text/plain, no preflight); the customer key is the proof.
    func addCustomerEnd(to router: Router<ServiceRequestContext>) {
        router.post(RouterPath(Self.customerEndPath)) { request, context -> Response in
            if let origin = refusedOrigin(request) {
                return jsonResponse(.forbidden, RegistryRefusal(.notAllowed, "origin \(origin) may not end co-browse sessions"))
            }
            let body = try await request.body.collect(upTo: 4096)
            guard let end = try? JSONDecoder().decode(CustomerEnd.self, from: body), let id = SessionID(end.sessionId) else {
                return jsonResponse(.badRequest, RegistryRefusal(.malformedRequest, #"send {"sessionId": "<nine digits>", "customerKey": "<the key from started>"}"#))
            }
            let client = client(of: request, remote: context.remoteIPAddress)
            if let throttled = throttled([Self.addressKey(client)], .end, client: client) {
                var response = jsonResponse(throttled.refusal.httpStatus, throttled.refusal)
                response.headers[.retryAfter] = "\(throttled.retryAfter)"
                return response
            }
            guard let reply = await RegistryOverHTTP.reply(
                to: .end(session: id, by: .customer(key: end.customerKey)), over: await connectedBroker(), logger: logger,
                failure: "customer end not delivered to the registry", metadata: ["session": "\(id)"]) else {
                return RegistryOverHTTP.unavailable
            }
            if let refusal = reply.refusal {
                let answer = answer(refusal, .end, client: client)
                return jsonResponse(answer.httpStatus, answer)
            }
            logger.info("customer ended the session without a socket", metadata: ["session": "\(id)"])
            return Response(status: .noContent)
        }
    }

    static let customerEndPath = "/cobrowse/end"

    struct CustomerEnd: Decodable {
        let sessionId: String
        let customerKey: String
    }

    /// An origin on the list (or any, with `*`); with no list, the relay's own origin: the same
    /// host and port as the `Host` the browser connected to (a `Host` without a port means the
    /// default port of the origin's scheme), a scheme of http or https — https only when the
    /// relay itself serves TLS (behind a TLS-terminating load balancer it sees plain HTTP).
    func allows(origin: String, host: String?) -> Bool {
        if allowedOrigins.contains(origin) || allowedOrigins.contains("*") { return true }
        guard allowedOrigins.isEmpty, let host, let url = URL(string: origin), let scheme = url.scheme?.lowercased(),
              let originHost = url.host?.lowercased(), url.path.isEmpty, url.query == nil else { return false }
        let defaultPort: Int
        switch scheme {
        case "https": defaultPort = 443
        case "http" where !servesTLS: defaultPort = 80
        default: return false
        }
        let (hostName, hostPort) = Self.split(authority: host)
        return hostName == originHost && (hostPort ?? defaultPort) == (url.port ?? defaultPort)
    }

    /// `host[:port]` (an IPv6 literal in brackets), lower-cased; nil port when none is given.
    static func split(authority: String) -> (host: String, port: Int?) {
        let text = authority.lowercased()
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let name = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            return (name, rest.hasPrefix(":") ? Int(rest.dropFirst()) : nil)
        }
        guard let colon = text.lastIndex(of: ":") else { return (text, nil) }
        return (String(text[..<colon]), Int(text[text.index(after: colon)...]))
    }
}
