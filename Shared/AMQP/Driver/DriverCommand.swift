import Foundation
import Logging
import Metrics

/// A unit of work run on the connection thread while connected.
struct Operation {
    let name: String
    /// While disconnected the operation waits until this instant, then fails with `notConnected`.
    let deadline: ContinuousClock.Instant
    /// Runs on the connection thread; responsible for completing its caller.
    let perform: (ConnectionDriver) -> Void
    let fail: (AMQPError) -> Void
    /// Runs at once also while disconnected (it only changes what the driver records, such as
    /// forgetting a consumer, which must not come back with the next connection).
    var runsWithoutBroker = false
}

/// A message handed to the connection thread.
struct PublishRequest {
    let message: AMQPMessage
    let exchange: String
    let routingKey: String
    let mandatory: Bool
    /// nil: the fast path, nobody waits for a confirm.
    let waiter: ConfirmWaiter?
    let deadline: ContinuousClock.Instant
}

/// A request awaiting its reply over direct reply-to.
struct RPCRequest {
    let message: AMQPMessage
    let exchange: String
    let routingKey: String
    let correlationID: String
    let deadline: ContinuousClock.Instant
    let timeout: Duration
    let complete: (Result<AMQPMessage, AMQPError>) -> Void
}

/// Commands cross from callers to the connection thread exactly once through the mailbox lock;
/// their closures run only on that thread, so handing them over is safe.
enum Command: @unchecked Sendable {
    case publish(PublishRequest)
    case settle(Settlement)
    case operation(Operation)
    case rpc(RPCRequest)
    case close(CheckedContinuation<Void, Never>)

    /// Until when the command may wait for a connection; nil: it never expires.
    var deadline: ContinuousClock.Instant? {
        switch self {
        case let .publish(request): request.deadline
        case let .operation(operation): operation.deadline
        case let .rpc(request): request.deadline
        case .settle, .close: nil
        }
    }

    /// Completes the command's caller with `error` (a close completes: the connection is gone).
    func fail(_ error: AMQPError) {
        switch self {
        case let .publish(request):
            if let waiter = request.waiter {
                waiter.complete(.failure(error))
            } else {
                Self.droppedUnconfirmed(request, error)
            }
        case let .operation(operation): operation.fail(error)
        case let .rpc(request): request.complete(.failure(error))
        case .settle: break // the broker redelivers unsettled messages
        case let .close(continuation): continuation.resume()
        }
    }

    private static func droppedUnconfirmed(_ request: PublishRequest, _ error: AMQPError) {
        // The caller chose the unconfirmed path and has returned; say so loudly rather than silently.
        Logger(label: "amqp").error("unconfirmed message not sent", metadata: [
            "exchange": "\(request.exchange)", "routingKey": "\(request.routingKey)", "error": "\(error)",
        ])
        Counter(label: "amqp_publish_failures_total", dimensions: [("reason", "unsent")]).increment()
    }
}
