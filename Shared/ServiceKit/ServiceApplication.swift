import AMQP
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// What makes one of the suite's services: its name, port, topology, variables and work.
public struct ServiceDefinition: Sendable {
    public var name: String
    public var defaultHTTPPort: Int
    public var topology: Topology
    /// Variables this service reads beyond `ServiceConfiguration.common` (documented in README).
    public var variables: [EnvironmentVariable]
    /// Runs once the broker is connected and the topology declared, until shutdown.
    public var work: @Sendable (AMQPConnection, ServiceConfiguration, Logger) async throws -> Void

    public init(name: String, defaultHTTPPort: Int, topology: Topology, variables: [EnvironmentVariable] = [],
                work: @escaping @Sendable (AMQPConnection, ServiceConfiguration, Logger) async throws -> Void) {
        self.name = name
        self.defaultHTTPPort = defaultHTTPPort
        self.topology = topology
        self.variables = variables
        self.work = work
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
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()
}

/// Builds a service's application: HTTP endpoints plus the broker service, run together in one
/// ServiceGroup with graceful shutdown.
public func buildApplication(_ definition: ServiceDefinition, configuration: ServiceConfiguration,
                             logger: Logger) -> some ApplicationProtocol {
    let readiness = Readiness(waitingFor: [BrokerService.brokerCondition, BrokerService.topologyCondition])
    let router = Router()
    OperationalEndpoints.add(to: router, service: definition.name, readiness: readiness, registry: ServiceMetrics.registry)
    let broker = BrokerService(configuration: configuration.amqp, topology: definition.topology, readiness: readiness,
                               logger: logger) { connection in
        try await definition.work(connection, configuration, logger)
    }
    return Application(router: router,
                       configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort),
                                            serverName: definition.name),
                       services: [broker],
                       logger: logger)
}

/// The whole of a service's `main`: read the environment, set up logging, run until SIGTERM/SIGINT.
public enum ServiceMain {
    public static func run(_ definition: ServiceDefinition) async {
        let configuration: ServiceConfiguration
        do {
            configuration = try ServiceConfiguration(serviceName: definition.name, defaultHTTPPort: definition.defaultHTTPPort)
        } catch {
            FileHandle.standardError.write(Data("\(definition.name): configuration error: \(error)\n".utf8))
            exit(2)
        }
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardOutput(label: label)
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
        } catch {
            logger.critical("stopped by error", metadata: ["error": "\(error)"])
            exit(1)
        }
    }
}

extension ServiceDefinition {
    /// Work for a service that only needs its topology so far: wait for shutdown.
    public static let untilShutdown: @Sendable (AMQPConnection, ServiceConfiguration, Logger) async throws -> Void = { _, _, _ in
        try await gracefulShutdown()
    }
}
