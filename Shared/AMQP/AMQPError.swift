/// Every failure of the AMQP client, with the broker's reply code and text where it gave one.
public enum AMQPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The `AMQP_URL` could not be used.
    case invalidURL(url: String, reason: String)
    /// TCP connect, name resolution or the AMQP handshake failed.
    case connectionFailed(endpoint: String, reason: String)
    /// TLS handshake, certificate or hostname verification failed.
    case tlsFailed(endpoint: String, reason: String)
    /// The broker refused the credentials (403) or access to the virtual host (530).
    case accessRefused(user: String, virtualHost: String, code: Int, text: String)
    /// The broker closed the connection (e.g. 320 CONNECTION_FORCED on shutdown).
    case connectionClosedByBroker(code: Int, text: String)
    /// The broker closed a channel because of an operation (e.g. 404 NOT_FOUND, 406 PRECONDITION_FAILED).
    case channelClosedByBroker(code: Int, text: String)
    /// The connection dropped while the operation was in flight: its outcome is unknown.
    case connectionLost(reason: String)
    /// The connection was down (or blocked by the broker) for longer than the caller may wait.
    case notConnected(waited: Duration, lastError: String?)
    /// The broker refused a published message (publisher confirm nack, e.g. a full queue with `reject-publish`).
    case nacked(exchange: String, routingKey: String)
    /// A mandatory message could not be routed to any queue (basic.return).
    case returned(code: Int, text: String, exchange: String, routingKey: String)
    /// The operation did not complete in time.
    case timedOut(operation: String, after: Duration)
    /// A consumer was cancelled by the broker (its queue was deleted, or a takeover).
    case consumerCancelled(queue: String)
    /// The connection was closed by this process.
    case closed
    /// rabbitmq-c reported something unexpected.
    case library(operation: String, reason: String)

    /// A one-line English account of the failure, with the broker's code and text, for logs.
    public var description: String {
        switch self {
        case let .invalidURL(url, reason): "invalid AMQP URL \(url): \(reason)"
        case let .connectionFailed(endpoint, reason): "cannot connect to \(endpoint): \(reason)"
        case let .tlsFailed(endpoint, reason): "TLS with \(endpoint) failed: \(reason)"
        case let .accessRefused(user, vhost, code, text):
            "broker refused access for user '\(user)' to virtual host '\(vhost)' (\(code) \(text))"
        case let .connectionClosedByBroker(code, text): "broker closed the connection (\(code) \(text))"
        case let .channelClosedByBroker(code, text): "broker closed the channel (\(code) \(text))"
        case let .connectionLost(reason): "connection lost while the operation was in flight: \(reason)"
        case let .notConnected(waited, lastError):
            "not connected to the broker after waiting \(waited)" + (lastError.map { ": \($0)" } ?? "")
        case let .nacked(exchange, key): "broker nacked the message to exchange '\(exchange)' key '\(key)'"
        case let .returned(code, text, exchange, key):
            "message to exchange '\(exchange)' key '\(key)' was returned unroutable (\(code) \(text))"
        case let .timedOut(operation, after): "\(operation) timed out after \(after)"
        case let .consumerCancelled(queue): "the broker cancelled the consumer of queue '\(queue)'"
        case .closed: "the connection is closed"
        case let .library(operation, reason): "\(operation) failed: \(reason)"
        }
    }

    /// Whether retrying the same operation later may succeed.
    public var isTransient: Bool {
        switch self {
        case .connectionFailed, .connectionClosedByBroker, .connectionLost, .notConnected, .timedOut: true
        default: false
        }
    }
}
