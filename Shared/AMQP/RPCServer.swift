import Foundation
import Logging

extension AMQPConnection {
    /// Serves requests from `queue` one at a time, in order: each reply goes to the request's
    /// `reply_to` with its correlation id, then the request is acked. A request the handler
    /// throws on is rejected without requeue (to the queue's dead-letter exchange, if any), so a
    /// poison message can never loop. Returns when the consumer ends.
    /// - Parameters:
    ///   - queue: The queue requests arrive on.
    ///   - prefetch: The most requests the broker sends ahead of their acks.
    ///   - logger: Where handler failures and requests without `reply_to` are logged.
    ///   - handler: Makes the reply to a request; its correlation id is set here.
    /// - Throws: `AMQPError` when the consumer cannot start; `consumerCancelled` when the broker
    ///   cancels it (its queue was deleted); `closed` when the connection closes.
    public func serveRPC(queue: String, prefetch: UInt16 = 32, logger: Logger = Logger(label: "amqp.rpc"),
                         handler: @Sendable (AMQPDelivery) async throws -> AMQPMessage) async throws {
        let consumer = try await consume(queue: queue, prefetch: prefetch)
        try await withTaskCancellationHandler {
            for try await request in consumer {
                do {
                    var reply = try await handler(request)
                    if let replyTo = request.properties.replyTo {
                        reply.properties.correlationID = request.properties.correlationID
                        try await publishUnconfirmed(reply, exchange: "", routingKey: replyTo)
                    } else {
                        logger.warning("RPC request without reply_to; reply dropped", metadata: ["queue": "\(queue)"])
                    }
                    request.ack()
                } catch {
                    logger.error("RPC handler failed; request dead-lettered", metadata: ["queue": "\(queue)", "error": "\(error)"])
                    request.reject(requeue: false)
                }
            }
        } onCancel: {
            Task { await consumer.cancel() }
        }
    }
}
