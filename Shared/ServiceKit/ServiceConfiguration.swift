import AMQP
import Foundation
import Logging
import HummingbirdTLS

/// What every service reads from its environment.
public struct ServiceConfiguration: Sendable {
    public static let amqpURL = EnvironmentVariable(
        "AMQP_URL", default: "amqp://guest:guest@localhost:5672/%2F",
        "Broker URL (`amqp://` or `amqps://`, RabbitMQ URI query parameters such as `cacertfile`, `heartbeat`); for a cluster, one URL per node, comma-separated, differing only in host and port: the service moves to the next node when its own goes.")
    public static let httpHost = EnvironmentVariable("HTTP_HOST", default: "0.0.0.0", "Address the HTTP server binds.")
    public static let logLevel = EnvironmentVariable(
        "LOG_LEVEL", default: "info", "`trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical`.")
    public static let logFormat = EnvironmentVariable(
        "LOG_FORMAT", default: "text", "`text` (one readable line per entry) or `json` (one JSON object per line, for log collectors).")
    public static let instanceID = EnvironmentVariable(
        "INSTANCE_ID", default: "<hostname>", "Names this instance in logs, metrics and the broker's connection list.")

    public static let httpFirstRequestTimeout = EnvironmentVariable(
        "HTTP_FIRST_REQUEST_TIMEOUT", default: "10",
        "Seconds a new TCP connection has to get its first answer (send a whole request, or open a WebSocket) before it is closed.")
    public static let httpIdleTimeout = EnvironmentVariable(
        "HTTP_IDLE_TIMEOUT", default: "60", "Seconds a keep-alive HTTP connection may stay idle between requests before it is closed (WebSockets excepted).")
    public static let maxConnectionsPerAddress = EnvironmentVariable(
        "MAX_CONNECTIONS_PER_ADDRESS", default: "200",
        "TCP connections one client address may hold open at once (`0`: no cap); more are closed at once. Behind a load balancer every client has its address: raise it there, or cap at the balancer.")

    /// The variables every service reads; `HTTP_PORT` is per service (see `httpPortVariable`).
    public static let common: [EnvironmentVariable] = [amqpURL, httpHost, logLevel, logFormat, instanceID,
                                                       httpFirstRequestTimeout, httpIdleTimeout, maxConnectionsPerAddress,
                                                       ServerTLS.certificate, ServerTLS.key]

    public static func httpPortVariable(default port: Int) -> EnvironmentVariable {
        EnvironmentVariable("HTTP_PORT", default: "\(port)", "Port of `/health`, `/ready`, `/metrics` (and the service's own API).")
    }

    public var serviceName: String
    public var amqp: AMQPConfiguration
    public var httpHost: String
    public var httpPort: Int
    public var logLevel: Logger.Level
    public var logFormat: LogFormat
    public var instanceID: String
    public var environment: ServiceEnvironment
    public var connectionLimits: ConnectionLimits
    public var httpIdleTimeout: Duration
    /// HTTPS on `httpPort` (`ServerTLS`); nil: plain HTTP.
    public var tls: TLSConfiguration?

    public init(serviceName: String, defaultHTTPPort: Int, environment: ServiceEnvironment = ServiceEnvironment()) throws {
        self.serviceName = serviceName
        self.environment = environment
        let url = environment.string(Self.amqpURL)
        do {
            amqp = try AMQPConfiguration(url: url)
        } catch let error as AMQPError {
            guard case let .invalidURL(_, reason) = error else { throw error }
            throw ConfigurationError(variable: Self.amqpURL.name, value: AMQPConfiguration.redacted(url), expected: "an AMQP URL (\(reason))")
        }
        httpHost = environment.string(Self.httpHost)
        httpPort = try environment.int(Self.httpPortVariable(default: defaultHTTPPort), in: 0...65535)
        connectionLimits = ConnectionLimits(firstRequestTimeout: try environment.seconds(Self.httpFirstRequestTimeout, in: 0.1...3600),
                                            maxConnectionsPerAddress: try environment.int(Self.maxConnectionsPerAddress, in: 0...1_000_000))
        httpIdleTimeout = try environment.seconds(Self.httpIdleTimeout, in: 0.1...86400)
        tls = try ServerTLS.configuration(environment)
        let level = try environment.oneOf(Self.logLevel, Logger.Level.allCases.map(\.rawValue))
        logLevel = Logger.Level(rawValue: level) ?? .info
        logFormat = LogFormat(rawValue: try environment.oneOf(Self.logFormat, LogFormat.allCases.map(\.rawValue))) ?? .text
        let instance = environment.string(Self.instanceID)
        instanceID = instance == Self.instanceID.defaultValue ? ProcessInfo.processInfo.hostName : instance
        amqp.connectionName = amqp.connectionName ?? "\(serviceName) \(instanceID)"
    }
}

/// How a service writes its log.
public enum LogFormat: String, Sendable, CaseIterable {
    case text, json
}
