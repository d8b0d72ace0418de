import AMQP
import CobrowseBroker
import CobrowseProtocol
import Foundation
import Logging
import MaskingRules
import Metrics
import ServiceKit
import Synchronization

/// Consumes the ingest shards the filter group gives this filter and publishes each session's
/// masked stream to `cobrowse.view`. Each shard is processed by one task in delivery order, and
/// a session always hashes to one shard, so per-session order holds and no session state is
/// shared between tasks. A shard that moves to another filter takes its sessions with it: the
/// new filter has no snapshot of them and asks each sharer for one.
public struct FilterWorker: Sendable {
    let connection: AMQPConnection
    let logger: Logger
    let rules: MaskingRulesSource
    /// How many ingest shards there are (`INGEST_SHARDS`, the same in every relay and filter).
    let shardCount: Int
    /// Names this filter in its group (`FilterGroup.memberName`).
    let member: String
    /// A session without frames for this long is forgotten (its viewers will ask for a resync).
    let idleEviction: Duration
    /// When a frame that waited too long on its shard is shed rather than masked.
    let shedding: SheddingPolicy

    static let forwarded = Counter(label: "cobrowse_filter_frames_total", dimensions: [("result", "forwarded")])
    static let resyncs = Counter(label: "cobrowse_filter_resync_requests_total")
    static let maskedElements = Counter(label: "cobrowse_filter_masked_elements_total")
    /// Masking record increments the registry did not take (refused, or no answer).
    static let maskingReportsLost = Counter(label: "cobrowse_filter_masking_reports_lost_total")
    /// Health reports (`reportHealth`) the registry did not take.
    static let healthReportsLost = Counter(label: "cobrowse_filter_health_reports_lost_total")
    /// PII the filter's detectors masked (what the SDK missed), by detector.
    static func detectorHits(_ detector: String) -> Counter {
        Counter(label: "cobrowse_filter_detector_hits_total", dimensions: [("detector", detector)])
    }
    /// PII the SDKs' detectors masked (as they reported in `detected` frames), by detector.
    static func sdkDetectorHits(_ detector: String) -> Counter {
        Counter(label: "cobrowse_filter_sdk_detector_hits_total", dimensions: [("detector", detector)])
    }
    /// How long sharers' frames waited between their relay and this filter (the shards' lag).
    static let ingestWait = Metrics.Timer(label: "cobrowse_filter_ingest_wait_seconds")
    static func dropped(_ reason: String) -> Counter {
        Counter(label: "cobrowse_filter_frames_total", dimensions: [("result", "dropped"), ("reason", reason)])
    }

    public init(connection: AMQPConnection, logger: Logger, rules: MaskingRulesSource,
                shardCount: Int = CobrowseTopology.ingestShardCount,
                member: String,
                idleEviction: Duration = .seconds(1800), shedding: SheddingPolicy = SheddingPolicy()) {
        self.connection = connection
        self.logger = logger
        self.rules = rules
        self.shardCount = shardCount
        self.member = member
        self.idleEviction = idleEviction
        self.shedding = shedding
    }

    /// Each session's mode, from the registry's lifecycle events. A session not heard of is in
    /// pointer mode (where every session starts): a filter that missed a change fails closed.
    /// After a gap in the events (the connection dropped, and the filter's queue with it) every
    /// mode is forgotten, then read again from the registry: a cached mode is never more
    /// permissive than the registry's.
    final class SessionModes: Sendable {
        private struct State {
            var modes: [SessionID: SessionMode] = [:]
            /// Events recorded since the registry was asked (nil: no answer awaited), by session.
            var eventsDuringLoad: Set<SessionID>?
        }

        private let state = Mutex(State())

        func mode(of session: SessionID) -> SessionMode { state.withLock { $0.modes[session] } ?? .pointer }

        func record(_ event: SessionEvent) {
            state.withLock {
                $0.modes[event.session.id] = event.session.state == .ended ? nil : event.session.mode
                $0.eventsDuringLoad?.insert(event.session.id)
            }
        }

        /// Every mode back to pointer, until the registry says otherwise.
        func forgetAll() {
            state.withLock { $0.modes = [:] }
        }

        /// Called just before asking the registry for its live sessions.
        func beginLoad() {
            state.withLock { $0.eventsDuringLoad = [] }
        }

        /// The registry's answer; an event that arrived meanwhile is newer, and wins.
        func load(_ live: [SessionView]) {
            state.withLock { state in
                let newer = state.eventsDuringLoad ?? []
                for view in live where !newer.contains(view.id) { state.modes[view.id] = view.mode }
                state.eventsDuringLoad = nil
            }
        }
    }

    static func actions(_ result: String, _ reason: String? = nil) -> Counter {
        Counter(label: "cobrowse_filter_agent_actions_total", dimensions: [("result", result)] + (reason.map { [("reason", $0)] } ?? []))
    }

    public func run() async throws {
        try await IngestShards.check(shardCount, on: connection, logger: logger)
        let modes = SessionModes()
        let (assignments, assign) = AsyncStream<[Int]>.makeStream(bufferingPolicy: .bufferingNewest(1))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await followModes(into: modes) }
            group.addTask {
                let filters = FilterGroup(connection: connection, member: member, shardCount: shardCount, logger: logger)
                // Its queue's consumer cancelled, say: hear the others again; the shards stay as they are.
                try await keepRunning("lost the other filters' heartbeats; listening again") {
                    try await filters.run { assign.yield($0) }
                }
            }
            group.addTask { await serveShards(assignments, modes: modes) }
            group.addTask {
                try await keepRunning("the rules editor's preview queue lost its consumer; declaring it again") {
                    try await RulesPreviewServer(rulesInForce: rules).serve(on: connection, logger: logger)
                }
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// Keeps one task per assigned shard: stops those given away (after settling what they
    /// handled), starts those taken on. A shard's task ends only when it is given away or the
    /// filter stops (`serve` retries everything else).
    private func serveShards(_ assignments: AsyncStream<[Int]>, modes: SessionModes) async {
        var running: [Int: Task<Void, Never>] = [:]
        defer { for task in running.values { task.cancel() } }
        for await shards in assignments {
            let wanted = Set(shards)
            for (shard, task) in running where !wanted.contains(shard) {
                task.cancel()
                await task.value
                running[shard] = nil
            }
            for shard in shards where running[shard] == nil {
                running[shard] = Task { await serve(shard, modes: modes) }
            }
        }
    }

    /// Consumes one shard until cancelled or the connection closes for good. The broker cancels
    /// the consumer when the queue goes (its node died: a transient queue is deleted with it):
    /// declare it again and go on, also when that first fails (the connection is moving to
    /// another node meanwhile). Whatever else goes wrong is logged and retried the same way: a
    /// shard this filter owns must never be left without its consumer.
    /// Sends the registry each session's masking record increments (`recordMasking`) and the
    /// shard's health window (`reportHealth`, in requests of `SessionHealth.perRequest`), without
    /// waiting: a report the registry does not get is not sent again (its counts are lost, not
    /// doubled), and the shard's frames never wait for the registry.
    private func reportMasking(_ records: [(session: SessionID, record: MaskingRecord)], health: [SessionHealth]) {
        guard !records.isEmpty || !health.isEmpty else { return }
        let client = RegistryClient(connection: connection)
        let logger = self.logger
        Task {
            for start in stride(from: 0, to: health.count, by: SessionHealth.perRequest) {
                do {
                    _ = try await client.send(.reportHealth(sessions: Array(health[start..<min(health.count, start + SessionHealth.perRequest)]))).list()
                } catch {
                    Self.healthReportsLost.increment()
                    logger.debug("health report not taken", metadata: ["error": "\(error)"])
                }
            }
            for (session, record) in records {
                do {
                    _ = try await client.send(.recordMasking(session: session, record: record)).get()
                } catch {
                    Self.maskingReportsLost.increment()
                    logger.debug("masking record not taken", metadata: ["session": "\(session)", "error": "\(error)"])
                }
            }
        }
    }

    private func serve(_ shard: Int, modes: SessionModes) async {
        try? await keepRunning("ingest shard lost its consumer; declaring it again", ["shard": "\(shard)"]) {
            try await connection.declare(CobrowseTopology.ingestShardTopology(shard))
            try await consume(shard, modes: modes)
        }
    }

    /// Runs `body` again and again (with the reconnect backoff between runs, and `problem`
    /// logged when it failed) until the task is cancelled, or the connection closes for good,
    /// which it rethrows.
    private func keepRunning(_ problem: Logger.Message, _ metadata: Logger.Metadata = [:],
                             _ body: () async throws -> Void) async throws {
        var attempt = 0
        while !Task.isCancelled {
            do {
                try await body()
            } catch AMQPError.closed {
                throw AMQPError.closed // the filter is stopping
            } catch {
                if Task.isCancelled { return }
                logger.warning(problem, metadata: metadata.merging(["error": "\(error)"]) { $1 })
            }
            attempt += 1
            try? await Task.sleep(for: connection.configuration.reconnect.delay(attempt: attempt))
        }
    }

    /// What one shard's loop handles, in arrival order.
    private enum Work: Sendable {
        case delivery(AMQPDelivery)
        /// Time passed (`SessionStream.retryCheckInterval`): re-ask for snapshots that have not come.
        case tick
    }

    /// Mode changes and ends of every session, on this filter's own queue; the registry's live
    /// sessions at start and after every reconnect (events may have been missed meanwhile).
    private func followModes(into modes: SessionModes) async throws {
        let events = connection.events()
        let queue = try await connection.declare(QueueDeclaration.serverNamedExclusive())
        for kind in [SessionEvent.Kind.modeChanged, .ended] {
            try await connection.bind(QueueBinding(queue: queue.name, exchange: CobrowseTopology.lifecycleExchange,
                                                   routingKey: "s.*.\(kind.rawValue)"))
        }
        let consumer = try await connection.consume(queue: queue.name, prefetch: 256)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await delivery in consumer {
                    if let event = try? JSONDecoder.cobrowse.decode(SessionEvent.self, from: delivery.body) { modes.record(event) }
                    delivery.ack()
                }
            }
            group.addTask {
                await loadModes(into: modes)
                for await event in events {
                    switch event {
                    case .disconnected:
                        modes.forgetAll()
                        logger.warning("broker connection lost: every session is in pointer mode until the registry is asked again")
                    case .reconnected:
                        modes.forgetAll()
                        await loadModes(into: modes)
                    default:
                        break
                    }
                }
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// Reads every live session's mode from the registry, retrying until it answers.
    private func loadModes(into modes: SessionModes) async {
        var attempt = 0
        while !Task.isCancelled {
            modes.beginLoad()
            do {
                let live = try await RegistryClient(connection: connection).send(.listLive).list()
                modes.load(live)
                logger.info("session modes read from the registry", metadata: ["live": "\(live.count)",
                                                                              "write": "\(live.count { $0.mode == .write })"])
                return
            } catch AMQPError.closed {
                return // shutting down
            } catch {
                logger.warning("cannot read session modes from the registry; pointer mode meanwhile", metadata: ["error": "\(error)"])
                attempt += 1
                try? await Task.sleep(for: connection.configuration.reconnect.delay(attempt: attempt))
            }
        }
    }

    private func consume(_ shard: Int, modes: SessionModes) async throws {
        var processor = ShardProcessor(rules: rules, shedding: shedding, idleEviction: idleEviction, logger: logger)
        let encoder = JSONEncoder()
        let malformed = Self.dropped("malformed"), wrongExchange = Self.dropped("wrong-exchange"), wrongShard = Self.dropped("wrong-shard")
        // Acknowledged `multiple` every so many deliveries (and on each tick), not one by one: the
        // broker's cost per message is most of the live path's. A filter that dies redelivers at
        // most this many batches more, to a standby that has no snapshot and resyncs anyway.
        let acks = BatchedAcknowledger(every: Self.ackEvery)
        // Each shard has one active consumer: while two filters both think a shard theirs, the
        // broker feeds one of them.
        let consumer = try await connection.consume(queue: CobrowseTopology.ingestShardQueue(shard), prefetch: 256)
        let (work, feed) = AsyncThrowingStream<Work, any Error>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    for try await delivery in consumer { feed.yield(.delivery(delivery)) }
                    feed.finish()
                } catch {
                    feed.finish(throwing: error)
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: SessionStream.retryCheckInterval)
                    feed.yield(.tick)
                }
            }
            defer { group.cancelAll() }
            var lastReport = ContinuousClock.now
            for try await item in work {
                guard case let .delivery(delivery) = item else {
                    acks.flush()
                    // The registry hears masking records and health every 2 s, not every tick.
                    let now = ContinuousClock.now
                    if now - lastReport >= Self.maskingReportInterval {
                        reportMasking(processor.takeMaskingRecords(), health: processor.takeHealth(length: now - lastReport, now: now))
                        lastReport = now
                    }
                    for result in processor.tick(now: .now) { try await publish(result, encoder: encoder) }
                    continue
                }
                // Every outcome is final: a bad record is dropped, never requeued.
                defer { acks.processed(delivery) }
                // Only what came through the ingest exchange (where relays publish): a message put
                // on a shard straight through the default exchange is no one's batch.
                guard delivery.exchange == CobrowseTopology.ingestExchange else {
                    wrongExchange.increment()
                    continue
                }
                var reader = IngestBatch.Reader(delivery.body)
                while true {
                    let record: IngestBatch.Record
                    do {
                        guard let next = try reader.next() else { break }
                        record = next
                    } catch {
                        // Only a broken relay writes this: what came before it was handled.
                        malformed.increment()
                        logger.warning("dropped the rest of an ingest batch", metadata: ["shard": "\(shard)", "error": "\(error)"])
                        break
                    }
                    // A session lives on one shard: a record on another (a relay counting shards
                    // differently) would split its stream between two tasks.
                    guard CobrowseTopology.ingestShard(of: record.session, count: shardCount) == shard else {
                        wrongShard.increment()
                        continue
                    }
                    let result = processor.handle(record, mode: modes.mode(of:))
                    try await publish(result, encoder: encoder)
                }
            }
        }
        // Given away: settle what was handled; the rest goes back to the queue, for the next filter.
        acks.flush()
        await consumer.cancel()
    }

    /// Deliveries settled by one `multiple` acknowledgement (at most; a tick settles the rest).
    static let ackEvery = 64
    /// How often each shard sends the registry its sessions' masking record increments.
    static let maskingReportInterval: Duration = .seconds(2)

    /// Publishes what one record produced: masked frames to the session's viewers (marked with
    /// when the sharer's relay got the frame), everything else to its sharer.
    private func publish(_ result: ShardProcessor.Result, encoder: JSONEncoder) async throws {
        let session = result.session
        let headers: AMQPTable = result.receivedAt.map { [CobrowseTopology.receivedAtHeader: .int($0)] } ?? [:]
        for output in result.outputs {
            switch output {
            case let .view(masked):
                try await connection.publishUnconfirmed(
                    AMQPMessage(body: try FrameCoding.encode(masked), properties: AMQPProperties(contentType: "application/json", headers: headers)),
                    exchange: CobrowseTopology.viewExchange, routingKey: session.routingKey)
                Self.forwarded.increment()
            case let .action(action):
                Self.actions("forwarded").increment()
                try await connection.publishUnconfirmed(
                    AMQPMessage(body: try encoder.encode(ApprovedAction(action: action)),
                                properties: AMQPProperties(contentType: "application/json")),
                    exchange: CobrowseTopology.sharerExchange, routingKey: session.routingKey)
            case let .presence(lead):
                try await connection.publishUnconfirmed(
                    AMQPMessage(body: try encoder.encode(LeadPresence(lead: lead)), properties: AMQPProperties(contentType: "application/json")),
                    exchange: CobrowseTopology.sharerExchange, routingKey: session.routingKey)
            case let .resync(reason):
                Self.resyncs.increment()
                logger.info("asking the sharer for a snapshot", metadata: ["session": "\(session)", "reason": "\(reason)"])
                try await connection.publishUnconfirmed(
                    AMQPMessage(body: try encoder.encode(ResyncRequest(reason: reason)),
                                properties: AMQPProperties(contentType: "application/json")),
                    exchange: CobrowseTopology.sharerExchange, routingKey: session.routingKey)
            }
        }
    }
}
