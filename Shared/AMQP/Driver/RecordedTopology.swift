/// What was declared, so a new connection can declare it again. Server-named queues get a new
/// name on every connection: callers keep using the first name and it is translated here.
struct RecordedTopology {
    var exchanges: [ExchangeDeclaration] = []
    /// Keyed by the name the caller knows (for server-named queues, the first name given).
    var queues: [(String, QueueDeclaration)] = []
    var bindings: Set<QueueBinding> = []
    /// Caller-known name → current broker name, for server-named queues.
    var queueNames: [String: String] = [:]

    func resolvedQueue(_ name: String) -> String { queueNames[name] ?? name }

    /// The caller-known name of a queue given by its current broker name.
    func canonicalQueue(_ name: String) -> String {
        queueNames.first(where: { $0.value == name })?.key ?? name
    }

    func resolved(_ binding: QueueBinding) -> QueueBinding {
        var copy = binding
        copy.queue = resolvedQueue(binding.queue)
        return copy
    }

    func canonical(_ binding: QueueBinding) -> QueueBinding {
        var copy = binding
        copy.queue = canonicalQueue(binding.queue)
        return copy
    }

    mutating func add(_ exchange: ExchangeDeclaration) {
        exchanges.removeAll { $0.name == exchange.name }
        exchanges.append(exchange)
    }

    mutating func add(_ queue: QueueDeclaration, declaredAs name: String) {
        let key = queue.name.isEmpty ? name : canonicalQueue(queue.name)
        queues.removeAll { $0.0 == key }
        queues.append((key, queue))
        if queue.name.isEmpty { queueNames[key] = name }
    }

    mutating func removeQueue(_ name: String) {
        let key = canonicalQueue(name)
        queues.removeAll { $0.0 == key }
        bindings = bindings.filter { $0.queue != key }
        queueNames[key] = nil
    }

    mutating func removeExchange(_ name: String) {
        exchanges.removeAll { $0.name == name }
        bindings = bindings.filter { $0.exchange != name }
    }
}
