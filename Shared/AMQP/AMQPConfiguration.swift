import Foundation

/// Where and how to reach a RabbitMQ broker, usually parsed from an `AMQP_URL`.
///
/// Accepted forms (the RabbitMQ URI spec): `amqp://user:pass@host:port/vhost` and
/// `amqps://…` with query parameters `cacertfile`, `certfile`, `keyfile`, `verify`
/// (`verify_peer` | `verify_none`), `heartbeat` (seconds), `connection_timeout` (ms),
/// `frame_max`, `channel_max`, `name` (connection name shown in the management UI).
/// A comma-separated list of such URLs names the nodes of one cluster: they must differ only
/// in host and port, and the connection moves to the next node when its own cannot be reached.
public struct AMQPConfiguration: Sendable, Equatable {
    /// One broker node's address.
    public struct Endpoint: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        public var description: String { "\(host):\(port)" }
    }

    /// TLS settings for `amqps://`. Peer and hostname verification are on unless turned off.
    public struct TLS: Sendable, Equatable {
        public var caCertificatePath: String?
        public var certificatePath: String?
        public var keyPath: String?
        public var verifyPeer: Bool = true
        public var verifyHostname: Bool = true

        public init(caCertificatePath: String? = nil, certificatePath: String? = nil, keyPath: String? = nil) {
            self.caCertificatePath = caCertificatePath
            self.certificatePath = certificatePath
            self.keyPath = keyPath
        }
    }

    /// How reconnection backs off: `initialDelay`, doubling up to `maxDelay`, with jitter. The cap
    /// is short (2 s) so a service is back within about 2 s of its broker, however long it was gone.
    public struct ReconnectPolicy: Sendable, Equatable {
        public var enabled: Bool = true
        public var initialDelay: Duration = .milliseconds(100)
        public var maxDelay: Duration = .seconds(2)

        public init(enabled: Bool = true, initialDelay: Duration = .milliseconds(100), maxDelay: Duration = .seconds(2)) {
            self.enabled = enabled
            self.initialDelay = initialDelay
            self.maxDelay = maxDelay
        }

        /// Delay before attempt `attempt` (0-based): capped exponential with ±20 % jitter.
        public func delay(attempt: Int) -> Duration {
            let base = initialDelay * (1 << min(attempt, 20))
            let capped = min(base, maxDelay)
            return capped * Double.random(in: 0.8...1.2)
        }
    }

    public var host: String = "localhost"
    public var port: Int = 5672
    public var virtualHost: String = "/"
    public var user: String = "guest"
    public var password: String = "guest"
    public var tls: TLS?
    /// Negotiated heartbeat; a peer silent for twice this long is considered gone.
    public var heartbeat: Duration = .seconds(30)
    /// Bound on TCP connect, TLS handshake and login.
    public var connectionTimeout: Duration = .seconds(5)
    /// Bound on every synchronous broker operation (declare, bind, consume, close).
    public var operationTimeout: Duration = .seconds(10)
    /// How long a publish or other operation waits while the connection is down or blocked.
    public var disconnectedWaitLimit: Duration = .seconds(10)
    public var frameMax: Int = 131_072
    public var channelMax: Int = 2047
    /// Shown in the RabbitMQ management UI, so operators can tell services apart.
    public var connectionName: String?
    public var reconnect = ReconnectPolicy()
    /// The cluster's other nodes, tried in turn after `host`/`port` (see `endpoints`).
    public var failoverEndpoints: [Endpoint] = []

    /// Every node to try, in order: `host`/`port` first, then `failoverEndpoints`.
    public var endpoints: [Endpoint] { [Endpoint(host: host, port: port)] + failoverEndpoints }

    /// This configuration aimed at one of its endpoints alone (for TLS, the name checked is that host).
    public func at(_ endpoint: Endpoint) -> AMQPConfiguration {
        var copy = self
        copy.host = endpoint.host
        copy.port = endpoint.port
        copy.failoverEndpoints = []
        return copy
    }

    public init(host: String = "localhost", port: Int? = nil, virtualHost: String = "/",
                user: String = "guest", password: String = "guest", tls: TLS? = nil) {
        self.host = host
        self.port = port ?? (tls == nil ? 5672 : 5671)
        self.virtualHost = virtualHost
        self.user = user
        self.password = password
        self.tls = tls
    }

    /// Parses an AMQP URI, or a comma-separated list of them (one per cluster node, differing
    /// only in host and port); throws `AMQPError.invalidURL` saying what is wrong.
    public init(url: String) throws {
        let urls = url.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard urls.count > 1 else {
            try self.init(single: url)
            return
        }
        guard !urls.contains(where: \.isEmpty) else {
            throw AMQPError.invalidURL(url: Self.redacted(url), reason: "an empty entry in the list of URLs")
        }
        try self.init(single: urls[0])
        let first = self
        for other in urls.dropFirst() {
            let node = try AMQPConfiguration(single: other)
            guard node.at(Endpoint(host: host, port: port)) == first else {
                throw AMQPError.invalidURL(url: Self.redacted(url), reason:
                    "the URLs of a list must differ only in host and port (scheme, user, password, virtual host and parameters alike)")
            }
            let endpoint = Endpoint(host: node.host, port: node.port)
            guard !endpoints.contains(endpoint) else {
                throw AMQPError.invalidURL(url: Self.redacted(url), reason: "\(endpoint) is listed twice")
            }
            failoverEndpoints.append(endpoint)
        }
    }

    private init(single url: String) throws {
        func invalid(_ reason: String) -> AMQPError { .invalidURL(url: Self.redacted(url), reason: reason) }
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else {
            throw invalid("not a URL")
        }
        switch scheme {
        case "amqp": tls = nil
        case "amqps": tls = TLS()
        default: throw invalid("scheme must be amqp or amqps, not \(scheme)")
        }
        guard let host = components.host, !host.isEmpty else { throw invalid("no host") }
        self.host = host
        if let port = components.port {
            guard (1...65535).contains(port) else { throw invalid("port \(port) out of range") }
            self.port = port
        } else {
            self.port = tls == nil ? 5672 : 5671
        }
        if let user = components.user { self.user = user }
        if let password = components.password { self.password = password }
        // The path is the vhost, percent-encoded: "/%2F" is "/", an empty path means "/".
        let path = components.percentEncodedPath
        if path.isEmpty || path == "/" {
            virtualHost = "/"
        } else {
            let encoded = String(path.dropFirst())
            guard !encoded.contains("/"), let decoded = encoded.removingPercentEncoding else {
                throw invalid("virtual host must be one path segment (encode '/' as %2F)")
            }
            virtualHost = decoded
        }
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            func int(_ range: ClosedRange<Int>) throws -> Int {
                guard let number = Int(value), range.contains(number) else {
                    throw invalid("\(item.name)=\(value) must be an integer in \(range)")
                }
                return number
            }
            func requireTLS() throws {
                guard tls != nil else { throw invalid("\(item.name) needs an amqps:// URL") }
            }
            switch item.name {
            case "heartbeat": heartbeat = .seconds(try int(0...3600))
            case "connection_timeout": connectionTimeout = .milliseconds(try int(1...600_000))
            case "frame_max": frameMax = try int(4096...1_048_576)
            case "channel_max": channelMax = try int(16...65535)
            case "name": connectionName = value
            case "cacertfile": try requireTLS(); tls?.caCertificatePath = value
            case "certfile": try requireTLS(); tls?.certificatePath = value
            case "keyfile": try requireTLS(); tls?.keyPath = value
            case "verify":
                try requireTLS()
                switch value {
                case "verify_peer": tls?.verifyPeer = true; tls?.verifyHostname = true
                case "verify_none": tls?.verifyPeer = false; tls?.verifyHostname = false
                default: throw invalid("verify must be verify_peer or verify_none")
                }
            default: throw invalid("unknown query parameter \(item.name)")
            }
        }
        if let tls, (tls.certificatePath == nil) != (tls.keyPath == nil) {
            throw invalid("certfile and keyfile go together")
        }
    }

    /// The URL (or each URL of a list) with its password replaced, safe to log.
    public static func redacted(_ url: String) -> String {
        if url.contains(",") {
            return url.split(separator: ",", omittingEmptySubsequences: false).map { redacted(String($0)) }.joined(separator: ",")
        }
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "****"
        return components.string ?? "<unparseable URL>"
    }

    /// `host:port` with the scheme (one per node, comma-separated), for logs and errors.
    public var endpointDescription: String {
        endpoints.map { "\(tls == nil ? "amqp" : "amqps")://\($0)" }.joined(separator: ",")
    }
}

/// Printing a configuration never shows the password: `"\(configuration)"`, `debugPrint`,
/// `dump` and any value that holds one (a service's description in swift-service-lifecycle's
/// debug log, say) show `****` instead.
extension AMQPConfiguration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// `amqp://user:****@host:port/vhost` (the virtual host percent-encoded as in a URL), one per node.
    public var redactedURL: String {
        let vhost = virtualHost.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? ""
        let name = user.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed) ?? ""
        return endpoints.map { "\(tls == nil ? "amqp" : "amqps")://\(name):****@\($0)/\(vhost)" }.joined(separator: ",")
    }

    public var description: String { "AMQPConfiguration(\(redactedURL))" }

    public var debugDescription: String {
        "AMQPConfiguration(\(redactedURL), tls: \(tls.map { "\($0)" } ?? "nil"), heartbeat: \(heartbeat), "
            + "connectionName: \(connectionName.map { "\"\($0)\"" } ?? "nil"))"
    }

    public var customMirror: Mirror {
        Mirror(self, children: [
            "host": host, "port": port, "virtualHost": virtualHost, "user": user, "password": "****", "tls": tls as Any,
            "heartbeat": heartbeat, "connectionTimeout": connectionTimeout, "operationTimeout": operationTimeout,
            "disconnectedWaitLimit": disconnectedWaitLimit, "frameMax": frameMax, "channelMax": channelMax,
            "connectionName": connectionName as Any, "reconnect": reconnect, "failoverEndpoints": failoverEndpoints,
        ], displayStyle: .struct)
    }
}
