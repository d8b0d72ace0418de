import AMQP
import CobrowseBroker
import Logging
import ServiceKit

/// `interaction-watch`: follows contact-center interactions and the sessions' activity, and
/// ends co-browse sessions exactly when they should end (see docs/interactions.md).
public enum InteractionWatchService {
    public static let definition = ServiceDefinition(
        name: "interaction-watch",
        defaultHTTPPort: 8083,
        topology: CobrowseTopology.interactionWatch,
        variables: WatchConfiguration.variables,
        start: start
    )

    static func start(_ configuration: ServiceConfiguration, logger: Logger) async throws -> ServiceParts {
        let watch = try WatchConfiguration(configuration.environment)
        let broker = BrokerSlot()
        let webhook = InteractionWebhook(secret: watch.webhookSecret, broker: broker, logger: logger)
        if watch.webhookSecret == nil { logger.info("webhook off (no WEBHOOK_SECRET)") }
        return ServiceParts(
            addRoutes: { router in webhook.add(to: router) },
            work: { connection in
                broker.attach(connection)
                defer { broker.attach(nil) }
                let registry = RegistryClient(connection: connection)
                let sessions = SessionWatch(limits: watch.limits, registry: registry, logger: logger)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await sessions.run(on: connection) }
                    group.addTask { try await InteractionEvents(connection: connection, registry: registry, logger: logger).run() }
                    defer { group.cancelAll() }
                    try await group.next()
                }
            })
    }
}
