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
        /// The node's host name or IP address.
        public var host: String
        /// The node's TCP port.
        public var port: Int

        /// Names a node.
        /// - Parameters:
        ///   - host: Host name or IP address.
        ///   - port: TCP port.
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// `host:port`.
        public var description: String { "\(host):\(port)" }
    }

    /// TLS settings for `amqps://`. Peer and hostname verification are on unless turned off.
    public struct TLS: Sendable, Equatable {
        /// PEM file of the certificate authorities to trust (`cacertfile`); nil trusts the system's.
        public var caCertificatePath: String?
        /// PEM file of the client certificate (`certfile`), for brokers that authenticate clients by certificate.
        public var certificatePath: String?
        /// PEM file of the client certificate's private key (`keyfile`); set with `certificatePath`.
        public var keyPath: String?
        /// Whether the broker's certificate must chain to a trusted authority (`verify=verify_none` turns it off).
        public var verifyPeer: Bool = true
        /// Whether the broker's certificate must name the host connected to.
        public var verifyHostname: Bool = true

        /// TLS settings with peer and hostname verification on.
        /// - Parameters:
        ///   - caCertificatePath: PEM file of the authorities to trust, or nil for the system's.
        ///   - certificatePath: PEM file of a client certificate, if the broker asks for one.
        ///   - keyPath: PEM file of that certificate's private key.
        public init(caCertificatePath: String? = nil, certificatePath: String? = nil, keyPath: String? = nil) {
            self.caCertificatePath = caCertificatePath
            self.certificatePath = certificatePath
            self.keyPath = keyPath
        }
    }

    /// How reconnection backs off: `initialDelay`, doubling up to `maxDelay`, with jitter. The cap
    /// is short (2 s) so a service is back within about 2 s of its broker, however long it was gone.
    public struct ReconnectPolicy: Sendable, Equatable {
        /// Whether a lost connection is re-established; if not, it closes and fails what waits.
        public var enabled: Bool = true
        /// The delay before the first attempt.
        public var initialDelay: Duration = .milliseconds(100)
        /// The longest delay between attempts.
        public var maxDelay: Duration = .seconds(2)

        /// A backoff policy.
        /// - Parameters:
        ///   - enabled: Whether to reconnect at all.
        ///   - initialDelay: The delay before the first attempt.
        ///   - maxDelay: The cap on the doubling delay.
        public init(enabled: Bool = true, initialDelay: Duration = .milliseconds(100), maxDelay: Duration = .seconds(2)) {
            self.enabled = enabled
            self.initialDelay = initialDelay
            self.maxDelay = maxDelay
        }

        /// Delay before attempt `attempt` (0-based): capped exponential with ±20 % jitter.
        /// - Parameter attempt: How many attempts failed before this one.
        /// - Returns: `initialDelay` doubled `attempt` times, at most `maxDelay`, times a random 0.8–1.2.
        public func delay(attempt: Int) -> Duration {
            let base = initialDelay * (1 << min(attempt, 20))
            let capped = min(base, maxDelay)
            return capped * Double.random(in: 0.8...1.2)
        }
    }

    /// The first node's host (`localhost` by default).
    public var host: String = "localhost"
    /// The first node's port (5672, or 5671 with TLS).
    public var port: Int = 5672
    /// The RabbitMQ virtual host (`/` by default).
    public var virtualHost: String = "/"
    /// The user name to log in with.
    public var user: String = "guest"
    /// The password to log in with; never printed (see `redactedURL`).
    public var password: String = "guest"
    /// TLS settings, or nil for plain TCP (`amqp://`).
    public var tls: TLS?
    /// Negotiated heartbeat; a peer silent for twice this long is considered gone.
    public var heartbeat: Duration = .seconds(30)
    /// Bound on TCP connect, TLS handshake and login.
    public var connectionTimeout: Duration = .seconds(5)
    /// Bound on every synchronous broker operation (declare, bind, consume, close).
    public var operationTimeout: Duration = .seconds(10)
    /// How long a publish or other operation waits while the connection is down or blocked.
    public var disconnectedWaitLimit: Duration = .seconds(10)
    /// The largest frame size in bytes to offer the broker (`frame_max`).
    public var frameMax: Int = 131_072
    /// The most channels to offer the broker (`channel_max`).
    public var channelMax: Int = 2047
    /// Shown in the RabbitMQ management UI, so operators can tell services apart.
    public var connectionName: String?
    /// How a lost connection is re-established.
    public var reconnect = ReconnectPolicy()
    /// The cluster's other nodes, tried in turn after `host`/`port` (see `endpoints`).
    public var failoverEndpoints: [Endpoint] = []

    /// Every node to try, in order: `host`/`port` first, then `failoverEndpoints`.
    public var endpoints: [Endpoint] { [Endpoint(host: host, port: port)] + failoverEndpoints }

    /// This configuration aimed at one of its endpoints alone (for TLS, the name checked is that host).
    /// - Parameter endpoint: The node to aim at.
    /// - Returns: A copy with `host` and `port` set to the node's, and no failover endpoints.
    public func at(_ endpoint: Endpoint) -> AMQPConfiguration {
        var copy = self
        copy.host = endpoint.host
        copy.port = endpoint.port
        copy.failoverEndpoints = []
        return copy
    }

    /// A configuration with the rest of the settings at their defaults.
    /// - Parameters:
    ///   - host: The broker's host.
    ///   - port: The broker's port; nil means 5672, or 5671 with TLS.
    ///   - virtualHost: The virtual host.
    ///   - user: The user name.
    ///   - password: The password.
    ///   - tls: TLS settings, or nil for plain TCP.
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
    /// only in host and port).
    /// - Parameter url: An `amqp://` or `amqps://` URL, or a list of them (the forms are above).
    /// - Throws: `AMQPError.invalidURL`, saying what is wrong (with the password redacted), for an
    ///   unknown scheme or query parameter, a value out of range, a virtual host of more than one
    ///   path segment, TLS settings without `amqps`, or list entries that differ in more than the node.
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
    /// - Parameter url: A URL or comma-separated list of URLs, as given in `AMQP_URL`.
    /// - Returns: The same text with each password as `****`; unchanged when there is none.
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

    /// `AMQPConfiguration(amqp://user:****@host:port/vhost)`.
    public var description: String { "AMQPConfiguration(\(redactedURL))" }

    /// The redacted URL with the TLS settings, heartbeat and connection name, for debugging.
    public var debugDescription: String {
        "AMQPConfiguration(\(redactedURL), tls: \(tls.map { "\($0)" } ?? "nil"), heartbeat: \(heartbeat), "
            + "connectionName: \(connectionName.map { "\"\($0)\"" } ?? "nil"))"
    }

    /// Every setting, with the password as `****`, so `dump` and reflection never show it.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "host": host, "port": port, "virtualHost": virtualHost, "user": user, "password": "****", "tls": tls as Any,
            "heartbeat": heartbeat, "connectionTimeout": connectionTimeout, "operationTimeout": operationTimeout,
            "disconnectedWaitLimit": disconnectedWaitLimit, "frameMax": frameMax, "channelMax": channelMax,
            "connectionName": connectionName as Any, "reconnect": reconnect, "failoverEndpoints": failoverEndpoints,
        ], displayStyle: .struct)
    }
}
