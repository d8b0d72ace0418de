import AMQP

/// A RabbitMQ policy on the suite's queues: settings the broker applies to every queue whose
/// name matches `pattern`, changeable while the queue lives (`definitions.json` holds them).
public struct BrokerPolicy: Sendable, Hashable {
    public var name: String
    /// A regular expression over queue names.
    public var pattern: String
    /// `message-ttl`, `max-length`, `overflow`, `dead-letter-exchange`, …
    public var definition: AMQPTable
    public var priority: Int
    public var applyTo: String

    public init(name: String, pattern: String, definition: AMQPTable, priority: Int = 0, applyTo: String = "queues") {
        self.name = name
        self.pattern = pattern
        self.definition = definition
        self.priority = priority
        self.applyTo = applyTo
    }
}
