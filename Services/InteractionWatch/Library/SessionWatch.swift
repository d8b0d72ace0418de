import AMQP
import CobrowseBroker
import CobrowseProtocol
import Foundation
import Logging
import Metrics
import ServiceKit

/// Keeps every live session's timeouts and ends the sessions whose time is up, through the
/// registry (which tells both parties). It follows the registry's lifecycle events and the
/// relays' activity reports on a queue of its own, and rebuilds its picture from the
/// registry at start, after a reconnect and every `reconcileInterval`, so no live session is
/// ever without its timeouts. The registry refuses to end a session twice.
actor SessionWatch {
    static let system = InteractionEvents.system

    private var timers: SessionTimers
    private let registry: RegistryClient
    private let logger: Logger
    private let tick: Duration
    private let reconcileInterval: Duration
    /// The connection closed for shutdown.
    private var stopping = false
    /// When the watch last heard anything (a delivery, or the broker coming back).
    private var lastHeard = Date()
    /// Since when the watch cannot hear (its broker connection is down): nothing is due meanwhile.
    private var deafSince: Date?
    private static let tracked = Gauge(label: "cobrowse_watch_sessions")

    init(limits: TimeoutLimits, registry: RegistryClient, logger: Logger,
         tick: Duration = .milliseconds(500), reconcileInterval: Duration = .seconds(30)) {
        timers = SessionTimers(limits: limits)
        self.registry = registry
        self.logger = logger
        self.tick = tick
        self.reconcileInterval = reconcileInterval
    }

    /// Follows events and reports, reconciles and ends sessions until cancelled.
    func run(on connection: AMQPConnection) async throws {
        // The queue first, then the registry's list: nothing can fall in between.
        let queue = try await connection.declare(QueueDeclaration.serverNamedExclusive(arguments: ["x-max-length": 100_000]))
        try await connection.bind(QueueBinding(queue: queue.name, exchange: CobrowseTopology.lifecycleExchange, routingKey: "#"))
        try await connection.bind(QueueBinding(queue: queue.name, exchange: CobrowseTopology.activityExchange, routingKey: "#"))
        let consumer = try await connection.consume(queue: queue.name, prefetch: 500, autoAck: true)
        await reconcileUntilDone()
        let events = connection.events()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await delivery in consumer { await self.receive(delivery) }
            }
            group.addTask {
                // While the connection is down nobody can be heard: no one is charged for that
                // time. After a reconnect, events may have been missed: ask the registry again.
                for await event in events {
                    switch event {
                    case .disconnected: await self.becameDeaf()
                    case .reconnected:
                        await self.heardAgain()
                        await self.reconcileUntilDone()
                    default: break
                    }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: self.reconcileInterval)
                    _ = await self.reconcile()
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: self.tick)
                    await self.endDueSessions()
                }
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    private func becameDeaf() {
        // From the last thing heard: a broker that died silently is noticed only later.
        if deafSince == nil { deafSince = lastHeard }
        logger.warning("broker connection lost: timeouts are paused until it is back")
    }

    private func heardAgain() {
        guard let since = deafSince else { return }
        let now = Date()
        deafSince = nil
        lastHeard = now
        timers.excuse(unheard: now.timeIntervalSince(since))
        logger.info("broker connection back: the outage is charged to no one",
                    metadata: ["unheardSeconds": "\(String(format: "%.1f", now.timeIntervalSince(since)))"])
    }

    private func receive(_ delivery: AMQPDelivery) {
        let now = Date()
        lastHeard = now
        switch delivery.exchange {
        case CobrowseTopology.lifecycleExchange:
            guard let event = try? JSONDecoder.cobrowse.decode(SessionEvent.self, from: delivery.body) else { return }
            timers.apply(event, now: now)
        case CobrowseTopology.activityExchange:
            guard let report = try? JSONDecoder.cobrowse.decode(ActivityReport.self, from: delivery.body) else {
                logger.warning("unreadable activity report", metadata: ["routingKey": "\(delivery.routingKey)"])
                return
            }
            timers.apply(report, receivedAt: now)
        default:
            return
        }
        Self.tracked.record(timers.count)
    }

    /// Learns the registry's live sessions; false if the registry did not answer.
    private func reconcile() async -> Bool {
        do {
            let live = try await registry.send(.listLive).list()
            timers.reconcile(with: live, now: Date())
            Self.tracked.record(timers.count)
            return true
        } catch AMQPError.closed {
            stopping = true // shutting down: asking again cannot help
            return false
        } catch {
            logger.warning("cannot list live sessions from the registry; timeouts wait", metadata: ["error": "\(error)"])
            return false
        }
    }

    private func reconcileUntilDone() async {
        var attempt = 0
        while !Task.isCancelled, !stopping, !(await reconcile()) {
            attempt += 1
            try? await Task.sleep(for: InteractionEvents.registryRetry.delay(attempt: attempt))
        }
        logger.info("following live sessions", metadata: ["sessions": "\(timers.count)"])
    }

    private func endDueSessions() async {
        guard deafSince == nil else { return }
        let due = timers.due(now: Date())
        guard !due.isEmpty else { return }
        await withTaskGroup(of: Void.self) { group in
            for (id, reason) in due {
                group.addTask { await self.end(id, reason) }
            }
        }
    }

    private func end(_ id: SessionID, _ reason: EndReason) async {
        let metadata: Logger.Metadata = ["session": "\(id)", "reason": "\(reason.rawValue)"]
        do {
            let reply = try await registry.send(.end(session: id, by: .system(name: Self.system, reason: reason)))
            switch reply.refusal?.code {
            case nil:
                Counter(label: "cobrowse_watch_sessions_ended_total", dimensions: [("reason", reason.rawValue)]).increment()
                logger.info("session ended", metadata: metadata)
                timers.forget(id)
            case .sessionEnded?, .unknownSession?:
                // Ended meanwhile by someone else: nothing to do, and never a second end.
                timers.forget(id)
            case let code?:
                logger.error("registry refused to end a session", metadata: metadata.merging(["refusal": "\(code.rawValue)"]) { $1 })
                timers.forget(id)
            }
        } catch {
            logger.warning("registry unreachable; the end is retried", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            timers.endFailed(id)
        }
    }
}
