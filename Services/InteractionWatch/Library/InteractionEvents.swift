import AMQP
import CobrowseBroker
import CobrowseProtocol
import Foundation
import Logging
import Metrics
import ServiceKit

/// Consumes `interaction-watch.interactions` (durable: what the contact center publishes while
/// the watch is down waits for it) and ends the co-browse sessions of interactions that ended,
/// were transferred or conferenced. Nothing goes back to the contact center.
///
/// Each delivery is acked only once the registry has answered, so a watch killed mid-way gets
/// it again; ending is idempotent in the registry, so duplicates and redeliveries are harmless,
/// and an `ended` that overtakes its `started` still ends (and bars) the interaction.
struct InteractionEvents: Sendable {
    static let system = "interaction-watch"
    /// How long to wait before asking an unanswering registry again (the broker client's backoff).
    static let registryRetry = AMQPConfiguration.ReconnectPolicy(initialDelay: .milliseconds(250), maxDelay: .seconds(5))

    let connection: AMQPConnection
    let registry: RegistryClient
    let logger: Logger

    /// The header that says why the watch dead-lettered an event (the broker's own `x-death`
    /// says only `rejected`).
    static let errorHeader = "x-cobrowse-error"

    /// Sends an event that can never be handled to the dead letters with the reason in
    /// `x-cobrowse-error` (and its original routing key and headers), then acks it; if that
    /// publish fails, rejects it so the broker dead-letters it without the reason, never losing it.
    func deadLetter(_ delivery: AMQPDelivery, error: String) async {
        logger.error("unusable interaction event dead-lettered", metadata: [
            "routingKey": "\(delivery.routingKey)", "error": "\(error)",
        ])
        var properties = delivery.properties
        properties.headers[Self.errorHeader] = .string(String(error.prefix(1000)))
        properties.headers["x-cobrowse-original-exchange"] = .string(delivery.exchange)
        do {
            try await connection.publish(AMQPMessage(body: delivery.body, properties: properties),
                                         exchange: CobrowseTopology.deadLetterExchange, routingKey: delivery.routingKey)
            delivery.ack()
        } catch {
            delivery.reject(requeue: false)
        }
    }

    func run() async throws {
        // One at a time, in order: the queue has a single active consumer.
        for try await delivery in try await connection.consume(queue: CobrowseTopology.interactionsQueue, prefetch: 1) {
            await handle(delivery)
        }
    }

    func handle(_ delivery: AMQPDelivery) async {
        // Only what came through the interactions exchange: anyone with a broker login could put
        // a message straight on the queue through the default exchange.
        guard delivery.exchange == CobrowseTopology.interactionsExchange else {
            Self.count("wrong-exchange")
            await deadLetter(delivery, error: "not published on \(CobrowseTopology.interactionsExchange) (exchange '\(delivery.exchange)')")
            return
        }
        let event: InteractionEvent
        do {
            event = try InteractionEvent.decode(delivery.body)
        } catch {
            // Retrying cannot fix it: to the dead-letter queue, where an operator can read it.
            Self.count("malformed")
            await deadLetter(delivery, error: describeDecodingFailure(error))
            return
        }
        var metadata: Logger.Metadata = ["interaction": "\(event.interactionId)", "type": "\(event.type.rawValue)"]
        if let id = event.id { metadata["event"] = "\(id)" }
        guard let reason = event.endReason else {
            Self.count(event.type.rawValue)
            logger.info("interaction event", metadata: metadata)
            delivery.ack()
            return
        }
        var attempt = 0
        while !Task.isCancelled {
            do {
                let reply = try await registry.send(.endInteraction(interactionID: event.interactionId, reason: reason,
                                                                    occurredAt: event.at, system: Self.system))
                let ended = try reply.list()
                Self.count(event.type.rawValue)
                metadata["ended"] = "\(ended.map(\.id.digits))"
                logger.info("interaction event: its sessions ended", metadata: metadata)
                delivery.ack()
                return
            } catch AMQPError.closed {
                // Shutting down: the broker gives the unacked event to the next watch.
                return
            } catch let refusal as RegistryRefusal {
                Self.count("refused")
                logger.error("registry refused an interaction event", metadata: metadata.merging(["refusal": "\(refusal)"]) { $1 })
                delivery.reject(requeue: false)
                return
            } catch {
                // The registry is not answering: keep the event (unacked) and try again.
                attempt += 1
                let delay = Self.registryRetry.delay(attempt: attempt)
                logger.warning("registry unreachable; retrying the interaction event", metadata: metadata.merging([
                    "error": "\(error)", "retryIn": "\(delay)",
                ]) { $1 })
                try? await Task.sleep(for: delay)
            }
        }
        // Shutting down: leave it to the next watch.
        delivery.nack(requeue: true)
    }

    private static func count(_ outcome: String) {
        Counter(label: "cobrowse_watch_interaction_events_total", dimensions: [("outcome", outcome)]).increment()
    }
}
