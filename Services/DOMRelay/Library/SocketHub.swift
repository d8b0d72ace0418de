import AMQP
import CobrowseBroker
import CobrowseProtocol
import Foundation
import Metrics
import ServiceKit
import Synchronization

/// What a socket's writer task sends: text frames, then possibly a close.
enum Outbound: Sendable {
    case text(String)
    case close(reason: String)
}

/// The relay's sockets by session, and the bindings of this relay's own queue that follow
/// them: a session's view stream is bound while a viewer is here, its sharer stream while the
/// sharer is here, its lifecycle while either is. Any relay can serve any side.
actor SocketHub {
    enum Side: Sendable { case sharer, viewer }

    struct Socket: Sendable {
        let side: Side
        let outbound: AsyncStream<Outbound>.Continuation
        /// A viewer that leads the session (the agent), not an observer.
        var lead = false
    }

    private var connection: AMQPConnection?
    private var queue: String?
    private var sockets: [SessionID: [UUID: Socket]] = [:]
    /// When the customer or the agent last did something here, per session with sockets.
    private var lastActivity: [SessionID: ContinuousClock.Instant] = [:]
    /// Customer and lead sockets closed since the last activity report, per session. A report
    /// counts who was connected at any time since the previous one, so the watch's grace starts
    /// after a party left, never up to a report interval before.
    private var departed: [SessionID: (sharers: Int, leads: Int)] = [:]
    /// The departures counted by the last report made, until it is sent.
    private var departuresInReport: [SessionID: (sharers: Int, leads: Int)] = [:]
    private static let sharerSockets = Gauge(label: "cobrowse_relay_sockets", dimensions: [("side", "sharer")])
    private static let viewerSockets = Gauge(label: "cobrowse_relay_sockets", dimensions: [("side", "viewer")])

    /// The broker side is ready: sockets can be served from now on.
    func attach(connection: AMQPConnection, queue: String) {
        self.connection = connection
        self.queue = queue
        connected.store(true, ordering: .relaxed)
    }

    /// The connection to publish on, or nil while the relay has none.
    var broker: AMQPConnection? { connection }

    /// The connection, waiting up to `limit` for one (the relay answers HTTP before its broker
    /// work attached the connection, and while it reconnects); nil if none came.
    func connectedBroker(within limit: Duration = .seconds(5)) async -> AMQPConnection? {
        let deadline = ContinuousClock.now + limit
        repeat {
            if let connection { return connection }
            try? await Task.sleep(for: .milliseconds(50))
        } while ContinuousClock.now < deadline && !Task.isCancelled
        return nil
    }

    /// Whether the broker connection is up now (false while it reconnects): a sharer's frames
    /// are dropped meanwhile instead of holding its socket. Read for every frame, so it is an
    /// atomic outside the actor rather than a hop into it.
    nonisolated var brokerConnected: Bool { connected.load(ordering: .relaxed) }
    private nonisolated let connected = Atomic(false)

    func brokerConnection(up: Bool) {
        connected.store(up, ordering: .relaxed)
    }

    /// The sessions this relay holds sockets for, and whether any of them is a viewer.
    var sessionsHere: [(SessionID, hasViewers: Bool)] {
        sockets.map { ($0.key, $0.value.values.contains { $0.side == .viewer }) }
    }

    /// Tells every socket of an ended session why, and closes them (after the relay missed the
    /// lifecycle event while it reconnected).
    func deliverEnded(_ view: SessionView) {
        for socket in sockets[view.id]?.values ?? [:].values {
            for message in Self.ended(view) { socket.outbound.yield(message) }
        }
    }

    /// Adds the socket, queues `greeting` (the opening reply) first of all it is sent, and binds
    /// its session's stream and lifecycle here. The socket's writer starts only once this
    /// returns, so the client learns it joined only when nothing published for the session can
    /// miss it; the socket is in the map from the start, so another socket of the session leaving
    /// meanwhile does not unbind what this one needs.
    func register(_ id: UUID, _ socket: Socket, session: SessionID, greeting: String? = nil) async throws {
        guard let connection, let queue else { throw AMQPError.notConnected(waited: .zero, lastError: "relay not attached") }
        let before = sockets[session] ?? [:]
        sockets[session, default: [:]][id] = socket
        if let greeting { socket.outbound.yield(.text(greeting)) }
        updateGauges()
        let (stream, lifecycle) = Self.bindings(for: socket.side, session: session, queue: queue)
        if !before.values.contains(where: { $0.side == socket.side }) { try await connection.bind(stream) }
        if before.isEmpty { try await connection.bind(lifecycle) }
    }

    func unregister(_ id: UUID, session: SessionID) async {
        guard let socket = sockets[session]?.removeValue(forKey: id) else { return }
        if socket.side == .sharer { departed[session, default: (0, 0)].sharers += 1 }
        if socket.lead { departed[session, default: (0, 0)].leads += 1 }
        let remaining = sockets[session] ?? [:]
        if remaining.isEmpty {
            sockets[session] = nil
            lastActivity[session] = nil
        }
        updateGauges()
        guard let connection, let queue else { return }
        let (stream, lifecycle) = Self.bindings(for: socket.side, session: session, queue: queue)
        if !remaining.values.contains(where: { $0.side == socket.side }) { try? await connection.unbind(stream) }
        if remaining.isEmpty { try? await connection.unbind(lifecycle) }
    }

    /// Someone did something in `session` (not the page changing by itself).
    func touch(_ session: SessionID) {
        lastActivity[session] = .now
    }

    /// Who was connected to each session here since the last report (still connected, or
    /// left meanwhile) and how long it has been idle.
    /// Departures stay until `reported(_:)` says a report carrying them was sent, so a report
    /// lost while the broker is away does not lose them.
    /// A report is made even with no session: the watch tells a relay that has nothing to say
    /// from one it cannot hear (`RELAY_SILENCE_LIMIT`).
    func activityReport(relay: String) -> ActivityReport {
        let sessions = Set(sockets.keys).union(departed.keys)
        departuresInReport = departed
        let now = ContinuousClock.now
        return ActivityReport(relay: relay, sessions: sessions.sorted { $0.digits < $1.digits }.map { id in
            let here = sockets[id] ?? [:]
            let viewers = here.values.filter { $0.side == .viewer }
            let left = departed[id] ?? (0, 0)
            return ActivityReport.Session(
                id: id, sharers: here.values.count { $0.side == .sharer } + left.sharers,
                leads: viewers.count(where: \.lead) + left.leads, observers: viewers.count { !$0.lead },
                idleMilliseconds: lastActivity[id].map { Int((now - $0).timeInterval * 1000) })
        })
    }

    /// A report was sent: the departures it counted are forgotten.
    func reported() {
        for (session, told) in departuresInReport {
            guard var left = departed[session] else { continue }
            left.sharers -= min(left.sharers, told.sharers)
            left.leads -= min(left.leads, told.leads)
            departed[session] = left.sharers == 0 && left.leads == 0 ? nil : left
        }
        departuresInReport = [:]
    }

    /// A message from this relay's queue, to the sockets it concerns. `receivedAt`: when the
    /// sharer's relay got the frame (milliseconds since 1970), for the live-path latency.
    func deliver(exchange: String, routingKey: String, body: Data, receivedAt: Int64? = nil) {
        let parts = routingKey.split(separator: ".")
        guard parts.count >= 2, parts[0] == "s", let session = SessionID(String(parts[1])), let targets = sockets[session] else { return }
        let text = String(decoding: body, as: UTF8.self)
        switch exchange {
        case CobrowseTopology.viewExchange:
            let viewers = Self.send(text, to: .viewer, of: targets)
            RelayMetrics.sent(.viewer, frames: viewers, bytes: body.count)
            if let receivedAt, viewers > 0 { RelayMetrics.livePath(since: receivedAt) }
        case CobrowseTopology.sharerExchange:
            RelayMetrics.sent(.sharer, frames: Self.send(text, to: .sharer, of: targets), bytes: body.count)
        case CobrowseTopology.lifecycleExchange:
            guard let event = try? JSONDecoder.cobrowse.decode(SessionEvent.self, from: body) else { return }
            let messages = event.kind == .ended ? Self.ended(event.session) : [.text(RelayMessage.notice(event.kind, event.session))]
            for socket in targets.values {
                for message in messages { socket.outbound.yield(message) }
            }
        default:
            break
        }
    }

    /// Queues `text` for the session's sockets on `side`; returns how many.
    private static func send(_ text: String, to side: Side, of targets: [UUID: Socket]) -> Int {
        var count = 0
        for socket in targets.values where socket.side == side {
            socket.outbound.yield(.text(text))
            count += 1
        }
        return count
    }

    /// What a socket of an ended session is sent: the notice, `ended` with the reason, the close.
    static func ended(_ session: SessionView) -> [Outbound] {
        let reason = session.endReason?.rawValue ?? "ended"
        return [.text(RelayMessage.notice(.ended, session)), .text(RelayMessage.ended(reason: reason)),
                .close(reason: "session ended: \(reason)")]
    }

    private func updateGauges() {
        let all = sockets.values.flatMap(\.values)
        Self.sharerSockets.record(all.filter { $0.side == .sharer }.count)
        Self.viewerSockets.record(all.filter { $0.side == .viewer }.count)
    }

    /// The binding of a side's stream, and of the session's lifecycle events.
    static func bindings(for side: Side, session: SessionID, queue: String) -> (stream: QueueBinding, lifecycle: QueueBinding) {
        let exchange = side == .viewer ? CobrowseTopology.viewExchange : CobrowseTopology.sharerExchange
        return (QueueBinding(queue: queue, exchange: exchange, routingKey: session.routingKey),
                QueueBinding(queue: queue, exchange: CobrowseTopology.lifecycleExchange, routingKey: "\(session.routingKey).*"))
    }
}

/// The relay's own messages to browsers (stream frames pass through as the filter wrote them).
enum RelayMessage {
    static func encode(_ fields: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func error(_ code: String, _ message: String) -> String {
        encode(["t": "error", "code": code, "message": message])
    }

    static func ended(reason: String) -> String {
        encode(["t": "ended", "reason": reason])
    }

    /// A lifecycle event of the socket's session, as the browser is told of it.
    static func notice(_ kind: SessionEvent.Kind, _ session: SessionView) -> String {
        encode(["t": "session", "event": kind.rawValue, "session": object(session)])
    }

    static func session(_ t: String, _ view: SessionView, extra: [String: Any] = [:]) -> String {
        encode(extra.merging(["t": t, "sessionId": view.id.digits, "session": object(view)]) { $1 })
    }

    /// A session view as a JSON object, in the suite's wire format.
    private static func object(_ view: SessionView) -> Any {
        (try? JSONEncoder.cobrowse.encode(view)).flatMap { try? JSONSerialization.jsonObject(with: $0) } ?? [:]
    }
}

/// The relay's numbers for operators (see docs/operations.md). The per-frame ones are made
/// once: looking a metric up by label on every frame costs a lock and a hash.
enum RelayMetrics {
    private struct Pair {
        let frames: Counter
        let bytes: Counter

        init(_ direction: String, _ side: String) {
            frames = Counter(label: "cobrowse_relay_frames_total", dimensions: [("direction", direction), ("side", side)])
            bytes = Counter(label: "cobrowse_relay_bytes_total", dimensions: [("direction", direction), ("side", side)])
        }
    }

    private static let fromSharer = Pair("in", "sharer"), fromViewer = Pair("in", "viewer")
    private static let toSharer = Pair("out", "sharer"), toViewer = Pair("out", "viewer")
    private static let livePathTimer = Metrics.Timer(label: "cobrowse_live_path_seconds")

    /// A WebSocket message from a browser.
    static func received(_ from: SocketHub.Side, bytes: Int) {
        let pair = from == .sharer ? fromSharer : fromViewer
        pair.frames.increment()
        pair.bytes.increment(by: bytes)
    }

    /// One message from the broker written to `frames` sockets.
    static func sent(_ to: SocketHub.Side, frames: Int, bytes: Int) {
        guard frames > 0 else { return }
        let pair = to == .sharer ? toSharer : toViewer
        pair.frames.increment(by: frames)
        pair.bytes.increment(by: frames * bytes)
    }

    /// A browser's message the relay did not pass on, by side and why (`not-supported`,
    /// `not-allowed`, `broker-down`, `over-budget`, `relay-busy`).
    static func refused(_ from: SocketHub.Side, _ reason: String, count: Int = 1) {
        Counter(label: "cobrowse_relay_refused_frames_total", dimensions: [("side", from == .sharer ? "sharer" : "viewer"),
                                                                           ("reason", reason)]).increment(by: count)
    }

    /// A socket the relay closed for what it did (`over-budget`, `no-opening-message`).
    static func closed(_ reason: String) {
        Counter(label: "cobrowse_relay_closed_sockets_total", dimensions: [("reason", reason)]).increment()
    }

    /// A resume, customer end or join refused because the id and credential do not go together, by kind.
    static func wrongAttempt(_ kind: String) {
        Counter(label: "cobrowse_relay_wrong_attempts_total", dimensions: [("kind", kind)]).increment()
    }

    /// One refused unasked because its client (or agent) made too many wrong attempts lately.
    static func throttled(_ kind: String) {
        Counter(label: "cobrowse_relay_throttled_total", dimensions: [("kind", kind)]).increment()
    }

    static func resyncRequested(_ reason: String) {
        Counter(label: "cobrowse_relay_resync_requests_total", dimensions: [("reason", reason)]).increment()
    }

    /// The live path, from the sharer's relay receiving a frame to the viewer's relay sending
    /// its masked form (relay → ingest → filter → view → relay); relays share a clock source (NTP).
    static func livePath(since receivedAt: Int64) {
        livePathTimer.recordMilliseconds(max(0, Date().millisecondsSince1970 - receivedAt))
    }
}
