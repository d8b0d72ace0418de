import AMQP
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import Metrics
import NIOCore
import Prometheus
import ServiceLifecycle

/// What a service adds once its configuration is read: HTTP routes and its broker work.
public struct ServiceParts: Sendable {
    public var addRoutes: @Sendable (Router<ServiceRequestContext>) -> Void
    /// Runs once the broker is connected and the topology declared, until shutdown.
    public var work: @Sendable (AMQPConnection) async throws -> Void

    /// WebSocket endpoints (the relay's); nil: the service speaks plain HTTP only.
    public var addWebSocketRoutes: (@Sendable (Router<ServiceWebSocketRequestContext>) -> Void)?
    /// The largest WebSocket frame accepted; a bigger one closes the socket (1009).
    public var maxWebSocketFrame: Int
    /// What the routes and the work use and must outlive them (a database's connection pool):
    /// run from the start, shut down after the HTTP server and the broker connection.
    public var services: [any Service]
    /// Last words on the broker at graceful shutdown, before its connection closes (a filter's
    /// goodbye to the others); bounded by the broker's own timeouts.
    public var beforeClose: (@Sendable (AMQPConnection) async -> Void)?
    /// Declarations that depend on the configuration (the filter's `INGEST_SHARDS` shards),
    /// made with the definition's before the service says it is ready.
    public var topology: Topology

    public init(addRoutes: @escaping @Sendable (Router<ServiceRequestContext>) -> Void = { _ in },
                addWebSocketRoutes: (@Sendable (Router<ServiceWebSocketRequestContext>) -> Void)? = nil,
                maxWebSocketFrame: Int = 1 << 20, services: [any Service] = [],
                beforeClose: (@Sendable (AMQPConnection) async -> Void)? = nil, topology: Topology = Topology(),
                work: @escaping @Sendable (AMQPConnection) async throws -> Void) {
        self.addRoutes = addRoutes
        self.addWebSocketRoutes = addWebSocketRoutes
        self.maxWebSocketFrame = maxWebSocketFrame
        self.services = services
        self.beforeClose = beforeClose
        self.topology = topology
        self.work = work
    }

    /// A service that only needs its topology so far: it waits for shutdown.
    public static let idle = ServiceParts { _ in try await gracefulShutdown() }
}

/// What makes one of the suite's services: its name, port, topology, variables and parts.
public struct ServiceDefinition: Sendable {
    public var name: String
    public var defaultHTTPPort: Int
    public var topology: Topology
    /// Variables this service reads beyond `ServiceConfiguration.common` (documented in README).
    public var variables: [EnvironmentVariable]
    /// Builds the service's parts from its configuration (opens stores, loads keys); a
    /// `ConfigurationError` thrown here stops the process with status 2.
    public var start: @Sendable (ServiceConfiguration, Logger) async throws -> ServiceParts

    public init(name: String, defaultHTTPPort: Int, topology: Topology, variables: [EnvironmentVariable] = [],
                start: @escaping @Sendable (ServiceConfiguration, Logger) async throws -> ServiceParts) {
        self.name = name
        self.defaultHTTPPort = defaultHTTPPort
        self.topology = topology
        self.variables = variables
        self.start = start
    }

    /// Every variable the service reads, for documentation and checks.
    public var allVariables: [EnvironmentVariable] {
        ServiceConfiguration.common + [ServiceConfiguration.httpPortVariable(default: defaultHTTPPort)] + variables
    }
}

/// The process-wide Prometheus registry behind swift-metrics (bootstrapped once per process).
public enum ServiceMetrics {
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // The live path is measured in milliseconds: fine buckets below 50 ms.
        factory.defaultDurationHistogramBuckets = [0.5, 1, 2, 3, 5, 7.5, 10, 15, 25, 50, 100, 250, 500, 1000, 2500, 5000]
            .map { Duration.microseconds(Int64($0 * 1000)) }
        // Hummingbird's request metrics are named the OpenTelemetry way (`http.server.request.duration`,
        // label `http.route`): Prometheus names take `_` for the dots.
        factory.nameAndLabelSanitizer = { name, labels in (prometheusName(name), labels.map { (prometheusName($0.0), $0.1) }) }
        MetricsSystem.bootstrap(factory)
        return registry
    }()
}

/// `name` with every character Prometheus does not allow in a metric or label name as `_`.
func prometheusName(_ name: String) -> String {
    String(name.unicodeScalars.enumerated().map { index, scalar -> Character in
        let allowed = scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || scalar == "_" || scalar == ":")
        return allowed && !(index == 0 && CharacterSet.decimalDigits.contains(scalar)) ? Character(scalar) : "_"
    })
}

/// Builds a service's application: its parts, the operational endpoints and the broker
/// service, run together in one ServiceGroup with graceful shutdown.
public func buildApplication(_ definition: ServiceDefinition, configuration: ServiceConfiguration,
                             logger: Logger) async throws -> some ApplicationProtocol {
    let parts = try await definition.start(configuration, logger)
    let readiness = Readiness(waitingFor: [BrokerService.brokerCondition, BrokerService.topologyCondition])
    let router = Router(context: ServiceRequestContext.self)
    // Every HTTP request counted and timed per route (`hb_requests`, `http_server_request_duration`).
    router.add(middleware: MetricsMiddleware())
    OperationalEndpoints.add(to: router, service: definition.name, readiness: readiness, registry: ServiceMetrics.registry)
    parts.addRoutes(router)
    let broker = BrokerService(configuration: configuration.amqp, topology: definition.topology.merging(parts.topology), readiness: readiness,
                               logger: logger, beforeClose: parts.beforeClose, work: parts.work)
    // Every connection passes the guard first (a deadline for its first request, a cap per
    // address), then HTTP with an idle timeout between requests, then WebSocket if upgraded.
    let limits = configuration.connectionLimits, counts = ConnectionCounts(), closures = ClosureLog(logger: logger)
    let http1 = HTTP1Channel.Configuration(idleTimeout: TimeAmount(configuration.httpIdleTimeout))
    var server = HTTPServerBuilder { responder in
        GuardedChannel(base: HTTP1Channel(responder: responder, configuration: http1), limits: limits, counts: counts, log: closures)
    }
    if let addWebSocketRoutes = parts.addWebSocketRoutes {
        let webSockets = Router(context: ServiceWebSocketRequestContext.self)
        addWebSocketRoutes(webSockets)
        let webSocketResponder = webSockets.buildResponder()
        // Invalid UTF-8 in a text message closes the socket (1007).
        let upgrade = HTTP1WebSocketUpgradeChannel.Configuration(
            http1: http1, ws: .init(maxFrameSize: parts.maxWebSocketFrame, validateUTF8: true))
        server = HTTPServerBuilder { responder in
            GuardedChannel(base: HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: webSocketResponder,
                                                              configuration: upgrade),
                           limits: limits, counts: counts, log: closures, answersUnparsableFirstRequest: true)
        }
    }
    if let tls = configuration.tls { server = try .tls(server, tlsConfiguration: tls) }
    return Application(router: router,
                       server: server,
                       configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort),
                                            serverName: definition.name),
                       // A service group shuts its services down in reverse order: the parts' last.
                       services: parts.services + [broker],
                       onServerRunning: { channel in
                           // The bound port, for HTTP_PORT=0 (tests let the kernel pick one).
                           logger.info("listening", metadata: ["http-port": "\(channel.localAddress?.port ?? -1)"])
                       },
                       logger: logger)
}

/// The whole of a service's `main`: read the environment, set up logging, run until SIGTERM/SIGINT.
public enum ServiceMain {
    public static func run(_ definition: ServiceDefinition) async {
        let configuration: ServiceConfiguration
        do {
            let environment = try ServiceEnvironment().resolvingFiles(for: definition.allVariables)
            configuration = try ServiceConfiguration(serviceName: definition.name, defaultHTTPPort: definition.defaultHTTPPort,
                                                     environment: environment)
        } catch {
            FileHandle.standardError.write(Data("\(definition.name): configuration error: \(error)\n".utf8))
            exit(2)
        }
        let level = configuration.logLevel
        let json = configuration.logFormat == .json
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardOutput(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: definition.name)
        logger[metadataKey: "instance"] = "\(configuration.instanceID)"
        _ = ServiceMetrics.registry
        logger.info("starting", metadata: [
            "http": "\(configuration.httpHost):\(configuration.httpPort)",
            "broker": "\(configuration.amqp.endpointDescription)",
        ])
        do {
            try await buildApplication(definition, configuration: configuration, logger: logger).runService()
        } catch let error as ConfigurationError {
            logger.critical("configuration error: \(error)")
            exit(2)
        } catch {
            logger.critical("stopped by error", metadata: ["error": "\(error)"])
            exit(1)
        }
    }
}
