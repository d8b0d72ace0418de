/// Exchange types this suite uses, including the consistent-hash plugin's.
public enum ExchangeKind: String, Sendable, Hashable, Codable {
    /// The standard AMQP exchange types.
    case direct, topic, fanout, headers
    /// RabbitMQ's consistent-hash exchange (a plugin): spreads routing keys over queues by the
    /// weights in their bindings' routing keys.
    case consistentHash = "x-consistent-hash"
}

/// An exchange to declare; declaring it again with the same settings does nothing.
public struct ExchangeDeclaration: Sendable, Hashable {
    /// The exchange's name.
    public var name: String
    /// How the exchange routes.
    public var kind: ExchangeKind
    /// Whether the exchange survives a broker restart.
    public var durable: Bool
    /// Whether the broker deletes the exchange once its last binding is removed.
    public var autoDelete: Bool
    /// Whether only other exchanges may publish to it (not clients).
    public var isInternal: Bool
    /// Extra declaration arguments (`alternate-exchange`, …).
    public var arguments: AMQPTable

    /// Describes an exchange; nothing is declared until it is passed to `declare`.
    /// - Parameters:
    ///   - name: The exchange's name.
    ///   - kind: How it routes.
    ///   - durable: Whether it survives a broker restart.
    ///   - autoDelete: Whether the broker deletes it once its last binding is removed.
    ///   - isInternal: Whether only other exchanges may publish to it.
    ///   - arguments: Extra declaration arguments.
    public init(_ name: String, kind: ExchangeKind, durable: Bool = true, autoDelete: Bool = false,
                isInternal: Bool = false, arguments: AMQPTable = [:]) {
        self.name = name
        self.kind = kind
        self.durable = durable
        self.autoDelete = autoDelete
        self.isInternal = isInternal
        self.arguments = arguments
    }
}

/// A queue to declare. An empty name asks the broker to name it (used with `exclusive`).
public struct QueueDeclaration: Sendable, Hashable {
    /// The queue's name; empty asks the broker to choose one (see `DeclaredQueue.name`).
    public var name: String
    /// Whether the queue survives a broker restart.
    public var durable: Bool
    /// Whether only this connection may use the queue; the broker deletes it when the connection goes.
    public var exclusive: Bool
    /// Whether the broker deletes the queue once its last consumer is cancelled.
    public var autoDelete: Bool
    /// `x-single-active-consumer`, `x-message-ttl`, `x-max-length`, `x-overflow`, `x-dead-letter-exchange`, …
    public var arguments: AMQPTable

    /// Describes a queue; nothing is declared until it is passed to `declare`.
    /// - Parameters:
    ///   - name: The queue's name, or empty for a name chosen by the broker.
    ///   - durable: Whether it survives a broker restart.
    ///   - exclusive: Whether only this connection may use it (deleted when the connection goes).
    ///   - autoDelete: Whether the broker deletes it once its last consumer is cancelled.
    ///   - arguments: `x-` arguments such as `x-message-ttl` or `x-single-active-consumer`.
    public init(_ name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
                arguments: AMQPTable = [:]) {
        self.name = name
        self.durable = durable
        self.exclusive = exclusive
        self.autoDelete = autoDelete
        self.arguments = arguments
    }

    /// An exclusive queue named by the broker, gone when its connection goes.
    /// - Parameter arguments: `x-` arguments for the queue.
    public static func serverNamedExclusive(arguments: AMQPTable = [:]) -> QueueDeclaration {
        QueueDeclaration("", durable: false, exclusive: true, autoDelete: true, arguments: arguments)
    }
}

/// A queue bound to an exchange with a routing key (for x-consistent-hash: the weight).
public struct QueueBinding: Sendable, Hashable {
    /// The bound queue's name.
    public var queue: String
    /// The exchange the queue is bound to.
    public var exchange: String
    /// The routing key (binding key) to match; for x-consistent-hash, the queue's weight.
    public var routingKey: String
    /// Binding arguments (for headers exchanges: the headers to match).
    public var arguments: AMQPTable

    /// Describes a binding; nothing is bound until it is passed to `bind`.
    /// - Parameters:
    ///   - queue: The queue's name.
    ///   - exchange: The exchange's name.
    ///   - routingKey: The binding key (for x-consistent-hash, the weight).
    ///   - arguments: Binding arguments.
    public init(queue: String, exchange: String, routingKey: String, arguments: AMQPTable = [:]) {
        self.queue = queue
        self.exchange = exchange
        self.routingKey = routingKey
        self.arguments = arguments
    }
}

/// The broker's answer to a queue declaration.
public struct DeclaredQueue: Sendable, Equatable {
    /// The queue's name: the one asked for, or the broker's choice when that was empty.
    public var name: String
    /// Messages ready in the queue when it was declared (not counting unacknowledged ones).
    public var messageCount: Int
    /// Consumers on the queue when it was declared.
    public var consumerCount: Int
}

/// A set of declarations a service needs, declared in order: exchanges, queues, bindings.
public struct Topology: Sendable, Hashable {
    /// Exchanges, declared first.
    public var exchanges: [ExchangeDeclaration]
    /// Queues, declared after the exchanges.
    public var queues: [QueueDeclaration]
    /// Bindings, declared last.
    public var bindings: [QueueBinding]

    /// Collects declarations.
    /// - Parameters:
    ///   - exchanges: Exchanges to declare.
    ///   - queues: Queues to declare.
    ///   - bindings: Bindings between them.
    public init(exchanges: [ExchangeDeclaration] = [], queues: [QueueDeclaration] = [], bindings: [QueueBinding] = []) {
        self.exchanges = exchanges
        self.queues = queues
        self.bindings = bindings
    }

    /// Both topologies, without repeating a declaration.
    /// - Parameter other: The topology to add; its declarations come after this one's.
    /// - Returns: A topology with this one's declarations, then those of `other` not already in it.
    public func merging(_ other: Topology) -> Topology {
        func union<T: Hashable>(_ a: [T], _ b: [T]) -> [T] {
            var seen = Set(a)
            return a + b.filter { seen.insert($0).inserted }
        }
        return Topology(exchanges: union(exchanges, other.exchanges), queues: union(queues, other.queues),
                        bindings: union(bindings, other.bindings))
    }
}
