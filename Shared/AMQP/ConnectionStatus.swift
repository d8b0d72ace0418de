import Synchronization

/// Where a connection stands.
public enum AMQPConnectionState: Sendable, Equatable {
    /// Connected, with topology and consumers in place.
    case connected
    /// Lost; the client is reconnecting by itself.
    case reconnecting
    /// Closed for good: by `close()`, or lost with reconnection disabled (`lastError` says why).
    case closed
}

/// What happened to a connection, for callers that react (readiness, re-binding, alerts).
public enum AMQPConnectionEvent: Sendable, Equatable {
    /// The connection dropped; the client reconnects by itself. Carries the error that ended it.
    case disconnected(AMQPError)
    /// Back, with topology and consumers recovered.
    case reconnected(attempts: Int)
    /// A recorded declaration could not be re-declared after a reconnect.
    case recoveryFailed(what: String, error: AMQPError)
    /// The broker stopped accepting publishes (memory or disk alarm); they wait meanwhile.
    case blocked(reason: String)
    /// The broker accepts publishes again after `blocked`.
    case unblocked
    /// The connection closed for good (see `AMQPConnectionState.closed`); the stream ends after it.
    case closed
}

/// Connection state shared between the connection thread and callers, with event fan-out.
final class ConnectionStatus: Sendable {
    private struct State {
        var state: AMQPConnectionState = .reconnecting
        var lastError: AMQPError?
        var subscribers: [Int: AsyncStream<AMQPConnectionEvent>.Continuation] = [:]
        var nextID = 0
    }

    private let shared = Mutex(State())

    var state: AMQPConnectionState { shared.withLock { $0.state } }
    var lastError: AMQPError? { shared.withLock { $0.lastError } }

    func set(_ state: AMQPConnectionState, error: AMQPError?) {
        let previous = shared.withLock { s -> AMQPConnectionState in
            defer {
                s.state = state
                s.lastError = error
            }
            return s.state
        }
        if previous == .connected, state == .reconnecting, let error { emit(.disconnected(error)) }
        if state == .closed, previous != .closed {
            emit(.closed)
            // Finished outside the lock: finishing runs onTermination, which takes the lock.
            let subscribers = shared.withLock { s in
                defer { s.subscribers = [:] }
                return Array(s.subscribers.values)
            }
            for subscriber in subscribers { subscriber.finish() }
        }
    }

    func emit(_ event: AMQPConnectionEvent) {
        let subscribers = shared.withLock { Array($0.subscribers.values) }
        for subscriber in subscribers { subscriber.yield(event) }
    }

    func events() -> AsyncStream<AMQPConnectionEvent> {
        let (stream, continuation) = AsyncStream<AMQPConnectionEvent>.makeStream(bufferingPolicy: .bufferingNewest(256))
        let id = shared.withLock { s -> Int? in
            guard s.state != .closed else { return nil }
            defer { s.nextID += 1 }
            s.subscribers[s.nextID] = continuation
            return s.nextID
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.shared.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Waits until connected or closed, at most `limit`; true if connected.
    func waitUntilConnected(limit: Duration) async -> Bool {
        if state == .connected { return true }
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            switch state {
            case .connected: return true
            case .closed: return false
            case .reconnecting: try? await Task.sleep(for: .milliseconds(20))
            }
        }
        return state == .connected
    }
}
