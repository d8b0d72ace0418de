/// One consumer, remembered so it can be re-established after a reconnect.
final class ConsumerRecord {
    let tag: String
    var queue: String
    let prefetch: UInt16
    let autoAck: Bool
    let exclusive: Bool
    let arguments: AMQPTable
    let continuation: AsyncThrowingStream<AMQPDelivery, any Error>.Continuation
    var channel: UInt16 = 0

    init(tag: String, queue: String, prefetch: UInt16, autoAck: Bool, exclusive: Bool, arguments: AMQPTable,
         continuation: AsyncThrowingStream<AMQPDelivery, any Error>.Continuation) {
        self.tag = tag
        self.queue = queue
        self.prefetch = prefetch
        self.autoAck = autoAck
        self.exclusive = exclusive
        self.arguments = arguments
        self.continuation = continuation
    }
}
