import Synchronization

/// Acknowledges one consumer's deliveries in batches: one `multiple` ack every `every`
/// deliveries, and whatever is left on `flush()` (call it from a timer, so a quiet queue is not
/// left with unacknowledged messages). Only for consumers that settle every delivery as
/// processed, in order: a multiple ack settles everything before it on the channel.
public final class BatchedAcknowledger: Sendable {
    private struct Pending {
        var last: AMQPDelivery?
        var count = 0
    }

    private let every: Int
    private let pending = Mutex(Pending())

    /// An acknowledger for one consumer.
    /// - Parameter every: How many deliveries make a batch; at least 1.
    public init(every: Int) {
        precondition(every > 0, "a batch holds at least one delivery")
        self.every = every
    }

    /// `delivery` is processed; acknowledged now if it completes a batch.
    /// - Parameter delivery: The delivery just processed; deliveries must come in the order they
    ///   were received.
    public func processed(_ delivery: AMQPDelivery) {
        let full: AMQPDelivery? = pending.withLock { state in
            state.last = delivery
            state.count += 1
            guard state.count >= every else { return nil }
            defer { state = Pending() }
            return state.last
        }
        full?.ack(multiple: true)
    }

    /// Acknowledges every processed delivery not acknowledged yet.
    public func flush() {
        pending.withLock { state in
            defer { state = Pending() }
            return state.last
        }?.ack(multiple: true)
    }
}
