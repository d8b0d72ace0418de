import Synchronization

/// The conditions a service must meet before `/ready` says yes, e.g. "broker", "topology".
public final class Readiness: Sendable {
    private let pending: Mutex<Set<String>>

    public init(waitingFor conditions: Set<String>) {
        pending = Mutex(conditions)
    }

    public var isReady: Bool { pending.withLock { $0.isEmpty } }
    /// What is still missing, sorted, for `/ready` and logs.
    public var waitingFor: [String] { pending.withLock { $0.sorted() } }

    public func met(_ condition: String) {
        _ = pending.withLock { $0.remove(condition) }
    }

    public func lost(_ condition: String) {
        _ = pending.withLock { $0.insert(condition) }
    }
}
