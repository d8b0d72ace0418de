/// Exchange types this suite uses, including the consistent-hash plugin's.
public enum ExchangeKind: String, Sendable, Hashable, Codable {
    case direct, topic, fanout, headers
    case consistentHash = "x-consistent-hash"
}

/// An exchange to declare; declaring it again with the same settings does nothing.
public struct ExchangeDeclaration: Sendable, Hashable {
    public var name: String
    public var kind: ExchangeKind
    public var durable: Bool
    public var autoDelete: Bool
    public var isInternal: Bool
    public var arguments: AMQPTable

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
    public var name: String
    public var durable: Bool
    public var exclusive: Bool
    public var autoDelete: Bool
    /// `x-single-active-consumer`, `x-message-ttl`, `x-max-length`, `x-overflow`, `x-dead-letter-exchange`, …
    public var arguments: AMQPTable

    public init(_ name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
                arguments: AMQPTable = [:]) {
        self.name = name
        self.durable = durable
        self.exclusive = exclusive
        self.autoDelete = autoDelete
        self.arguments = arguments
    }

    /// An exclusive queue named by the broker, gone when its connection goes.
    public static func serverNamedExclusive(arguments: AMQPTable = [:]) -> QueueDeclaration {
        QueueDeclaration("", durable: false, exclusive: true, autoDelete: true, arguments: arguments)
    }
}

/// A queue bound to an exchange with a routing key (for x-consistent-hash: the weight).
public struct QueueBinding: Sendable, Hashable {
    public var queue: String
    public var exchange: String
    public var routingKey: String
    public var arguments: AMQPTable

    public init(queue: String, exchange: String, routingKey: String, arguments: AMQPTable = [:]) {
        self.queue = queue
        self.exchange = exchange
        self.routingKey = routingKey
        self.arguments = arguments
    }
}

/// The broker's answer to a queue declaration.
public struct DeclaredQueue: Sendable, Equatable {
    public var name: String
    public var messageCount: Int
    public var consumerCount: Int
}

/// A set of declarations a service needs, declared in order: exchanges, queues, bindings.
public struct Topology: Sendable, Hashable {
    public var exchanges: [ExchangeDeclaration]
    public var queues: [QueueDeclaration]
    public var bindings: [QueueBinding]

    public init(exchanges: [ExchangeDeclaration] = [], queues: [QueueDeclaration] = [], bindings: [QueueBinding] = []) {
        self.exchanges = exchanges
        self.queues = queues
        self.bindings = bindings
    }

    /// Both topologies, without repeating a declaration.
    public func merging(_ other: Topology) -> Topology {
        func union<T: Hashable>(_ a: [T], _ b: [T]) -> [T] {
            var seen = Set(a)
            return a + b.filter { seen.insert($0).inserted }
        }
        return Topology(exchanges: union(exchanges, other.exchanges), queues: union(queues, other.queues),
                        bindings: union(bindings, other.bindings))
    }
}
