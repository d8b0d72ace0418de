import AMQP
import Logging
import ServiceLifecycle

/// Connects to the broker (retrying with backoff until it can), declares the service's
/// topology, keeps `/ready` in step with the connection, runs the service's work, and closes
/// the connection on graceful shutdown.
public struct BrokerService: Service, CustomStringConvertible {
    public static let brokerCondition = "broker"
    public static let topologyCondition = "topology"

    let configuration: AMQPConfiguration
    let topology: Topology
    let readiness: Readiness
    let logger: Logger
    let work: @Sendable (AMQPConnection) async throws -> Void
    let beforeClose: (@Sendable (AMQPConnection) async -> Void)?

    public init(configuration: AMQPConfiguration, topology: Topology, readiness: Readiness, logger: Logger,
                beforeClose: (@Sendable (AMQPConnection) async -> Void)? = nil,
                work: @escaping @Sendable (AMQPConnection) async throws -> Void) {
        self.configuration = configuration
        self.topology = topology
        self.readiness = readiness
        self.logger = logger
        self.beforeClose = beforeClose
        self.work = work
    }

    /// What swift-service-lifecycle logs for this service (at debug): where, never the password.
    public var description: String { "BrokerService(\(configuration.redactedURL))" }

    public func run() async throws {
        let connection: AMQPConnection
        do {
            connection = try await cancelWhenGracefulShutdown { try await connectAndDeclare() }
        } catch is CancellationError {
            return // shut down before the broker was ever reached
        }
        let events = connection.events()
        readiness.met(Self.brokerCondition)
        readiness.met(Self.topologyCondition)
        logger.info("ready", metadata: ["broker": "\(configuration.endpointDescription)"])

        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await follow(events) }
                group.addTask {
                    do {
                        try await work(connection)
                    } catch AMQPError.closed {
                        // the connection closed for shutdown
                    }
                }
                try await group.waitForAll()
            }
        } onGracefulShutdown: {
            logger.info("shutting down: closing the broker connection")
            readiness.lost(Self.brokerCondition)
            let beforeClose = beforeClose
            Task {
                await beforeClose?(connection)
                await connection.close()
            }
        }
        logger.info("stopped")
    }

    /// First connection and declarations; transient failures are retried with capped backoff.
    private func connectAndDeclare() async throws -> AMQPConnection {
        var attempt = 0
        while true {
            try Task.checkCancellation()
            do {
                let connection = try await AMQPConnection.connect(configuration, logger: logger)
                do {
                    try await connection.declare(topology)
                    return connection
                } catch {
                    await connection.close()
                    throw error
                }
            } catch let error as AMQPError {
                // Wrong credentials or a refused declaration will not fix themselves, but an
                // operator may fix the broker: keep trying, and say why on every attempt.
                let delay = configuration.reconnect.delay(attempt: attempt)
                logger.error("broker not usable yet; retrying", metadata: [
                    "error": "\(error)", "retryIn": "\(delay)", "attempt": "\(attempt + 1)",
                ])
                attempt += 1
                try await Task.sleep(for: delay)
            }
        }
    }

    private func follow(_ events: AsyncStream<AMQPConnectionEvent>) async {
        for await event in events {
            switch event {
            case let .disconnected(error):
                readiness.lost(Self.brokerCondition)
                logger.warning("not ready: broker connection lost", metadata: ["error": "\(error)"])
            case .reconnected:
                readiness.met(Self.brokerCondition)
                logger.info("ready again: broker connection and topology recovered")
            case let .recoveryFailed(what, error):
                logger.error("topology recovery failed", metadata: ["what": "\(what)", "error": "\(error)"])
            case let .blocked(reason):
                logger.warning("broker blocked publishing", metadata: ["reason": "\(reason)"])
            case .unblocked, .closed:
                break
            }
        }
    }
}
