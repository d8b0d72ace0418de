import AMQP
import CobrowseBroker
import CobrowseProtocol
import Foundation
import Logging
import ServiceKit

/// Publishes the store's outbox to `cobrowse.lifecycle`, in order, with confirms, and removes
/// what the broker confirmed. At-least-once: after a crash an event may be published twice.
public struct OutboxPublisher: Sendable {
    let store: any SessionStoring
    let connection: AMQPConnection
    let logger: Logger
    /// How long before another process's unpublished events count as orphaned and are taken over.
    let orphanAge: Duration

    public init(store: any SessionStoring, connection: AMQPConnection, logger: Logger, orphanAge: Duration = .seconds(10)) {
        self.store = store
        self.connection = connection
        self.logger = logger
        self.orphanAge = orphanAge
    }

    /// Drains the outbox whenever `wakeups` yields, and at least every `interval`.
    public func run(wakeups: AsyncStream<Void>, interval: Duration = .seconds(1)) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            let (ticks, tick) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
            group.addTask {
                for await _ in wakeups { tick.yield() }
                tick.finish()
            }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: interval)
                    tick.yield()
                }
            }
            try await drain()
            for await _ in ticks {
                do {
                    try await drain()
                } catch AMQPError.closed {
                    break
                } catch {
                    logger.warning("lifecycle events not published yet; will retry", metadata: ["error": "\(error)"])
                }
            }
            group.cancelAll()
        }
    }

    /// Publishes everything currently in the outbox.
    public func drain() async throws {
        let connection = self.connection
        while try await store.drainOutbox(limit: 200, orphanAge: orphanAge, now: Date(), publish: { entry in
            let message = AMQPMessage(body: entry.body, properties: AMQPProperties(
                contentType: "application/json", persistent: true, type: "session-event"))
            try await connection.publish(message, exchange: CobrowseTopology.lifecycleExchange, routingKey: entry.routingKey)
        }) > 0 {}
    }
}

/// Lapses pending write requests once their time is up (the customer did not answer).
/// Runs in every registry process; the store's transactions make that safe.
public struct WriteRequestSweeper: Sendable {
    let store: any SessionStoring
    let rules: SessionRules
    let logger: Logger

    public init(store: any SessionStoring, rules: SessionRules, logger: Logger) {
        self.store = store
        self.rules = rules
        self.logger = logger
    }

    public func run(every interval: Duration = .milliseconds(500), expired: @Sendable () -> Void) async throws {
        while !Task.isCancelled {
            do {
                if try await store.expireWriteRequests(rules: rules, now: Date().wholeMilliseconds) > 0 { expired() }
            } catch {
                logger.error("write request sweep failed", metadata: ["error": "\(error)"])
            }
            try await Task.sleep(for: interval)
        }
    }
}
