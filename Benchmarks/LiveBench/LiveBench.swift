import AMQP
import ArgumentParser
import AsyncHTTPClient
import BenchmarkReport
import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import Synchronization

/// Measures the live path (sharer socket → relay → broker → masking filter → broker → relay →
/// viewer socket) against one plain broker hop, in one run: latency per frame at a steady rate,
/// the largest rate it keeps up with, and the time a page snapshot takes to arrive.
@main
struct LiveBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "live-bench",
        abstract: "Latency and throughput of the co-browse live path vs. one plain AMQP hop.")

    @Option(help: "The sharer's relay (http://host:port), in dev mode.") var sharerRelay: String
    @Option(help: "The viewer's relay (http://host:port); may be the same.") var viewerRelay: String
    @Option(help: "Broker URL for the baseline hop.") var url: String
    @Option(help: "Frames per latency measurement.") var count = 2_000
    @Option(help: "Frames per second in the latency measurement.") var rate = 200
    @Option(help: "Frames in the throughput measurement (sent as fast as the socket takes them).") var burst = 20_000
    @Option(help: "Elements in the snapshot page.") var pageElements = 2_000
    @Option(help: "Rewrite this Markdown file's live-bench section with the results.") var markdown: String?

    func run() async throws {
        var session = try await LiveSession.open(sharerRelay: sharerRelay, viewerRelay: viewerRelay)
        defer { session.close() }

        var snapshotTimes: [Double] = []
        for round in 0..<5 { snapshotTimes.append(try await session.snapshotLatency(elements: pageElements, round: round)) }
        let live = try await session.cursorLatencies(count: count, rate: rate)
        let throughput = try await session.throughput(count: burst)
        let baseline = try await BrokerHop.latencies(url: url, count: count, rate: rate)

        let table = render(live: live, baseline: baseline, throughput: throughput, snapshots: snapshotTimes)
        print(table)
        if let markdown { try MarkdownSection.write(table, section: "live-bench", into: markdown) }
    }

    private func render(live: [Double], baseline: [Double], throughput: LiveSession.Throughput, snapshots: [Double]) -> String {
        func ms(_ value: Double) -> String { String(format: "%.2f", value * 1000) }
        let l = Percentiles(live), b = Percentiles(baseline), s = Percentiles(snapshots)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        return """
        Measured \(ISO8601DateFormatter().string(from: Date())) on \(cores) cores: \(count) cursor frames at \(rate)/s per latency \
        measurement, sharer and viewer on \(sharerRelay == viewerRelay ? "one relay" : "two relays"), one masking filter, all \
        on this machine.

        | measurement | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) |
        |---|---:|---:|---:|---:|
        | live path: sharer send → viewer receive | \(ms(l.p50)) | \(ms(l.p95)) | \(ms(l.p99)) | \(ms(l.max)) |
        | one broker hop: publish → consume (baseline) | \(ms(b.p50)) | \(ms(b.p95)) | \(ms(b.p99)) | \(ms(b.max)) |
        | snapshot of \(pageElements) elements, sent → shown to the viewer (5 rounds) | \(ms(s.p50)) | — | — | \(ms(s.max)) |

        Live path p50 / broker hop p50: \(String(format: "%.1f", l.p50 / max(b.p50, 1e-9)))× (the path has two broker hops, \
        two WebSocket hops and the filter's masking). Throughput: \(Int(throughput.perSecond)) frames/s end to end \
        (\(burst) cursor frames sent back to back, \(throughput.delivered) delivered: the filter skips a cursor that \
        waited on its shard longer than `SHED_CURSORS_AFTER`, as the next one supersedes it).
        """
    }
}

struct Percentiles {
    let p50, p95, p99, max: Double

    init(_ values: [Double]) {
        let sorted = values.sorted()
        func at(_ q: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
        p50 = at(0.5)
        p95 = at(0.95)
        p99 = at(0.99)
        max = sorted.last ?? 0
    }
}

/// A WebSocket to a relay: send text, receive every text with the instant it arrived.
final class BenchSocket: Sendable {
    private let (outgoing, outbox) = AsyncStream<String>.makeStream()
    let received: AsyncStream<(text: String, at: ContinuousClock.Instant)>
    private let task: Task<Void, any Error>
    private let inbox: AsyncStream<(text: String, at: ContinuousClock.Instant)>.Continuation

    init(_ url: String) {
        let (received, inbox) = AsyncStream<(text: String, at: ContinuousClock.Instant)>.makeStream()
        self.received = received
        self.inbox = inbox
        let outgoing = self.outgoing
        var headers = HTTPFields()
        headers[.origin] = url.replacingOccurrences(of: "ws://", with: "http://").components(separatedBy: "/ws/").first
        task = Task {
            defer { inbox.finish() }
            _ = try await WebSocketClient.connect(
                url: url, configuration: .init(maxFrameSize: 64 << 20, additionalHeaders: headers), logger: Logger(label: "live-bench")
            ) { inbound, outbound, _ in
                let writer = Task { for await text in outgoing { try await outbound.write(.text(text)) } }
                defer { writer.cancel() }
                for try await message in inbound.messages(maxSize: 64 << 20) {
                    if case let .text(text) = message { inbox.yield((text, .now)) }
                }
            }
        }
    }

    func send(_ text: String) { outbox.yield(text) }

    /// Puts `text` among what was received, as if it had arrived now (a reader's own timer).
    func mark(_ text: String) { inbox.yield((text, .now)) }

    func send(_ object: [String: Any]) {
        send(String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self))
    }

    func close() {
        outbox.finish()
        task.cancel()
    }
}

/// One co-browse session: a sharer socket and a viewer socket, joined and past the first snapshot.
struct LiveSession {
    let sharer: BenchSocket
    let viewer: BenchSocket
    var viewerMessages: AsyncStream<(text: String, at: ContinuousClock.Instant)>.AsyncIterator
    var sharerMessages: AsyncStream<(text: String, at: ContinuousClock.Instant)>.AsyncIterator

    static func open(sharerRelay: String, viewerRelay: String) async throws -> LiveSession {
        let interaction = try await token("\(sharerRelay)/dev/interaction-token")
        let agent = try await token("\(viewerRelay)/dev/agent-token?agent=bench-\(UUID().uuidString.prefix(8))")
        let sharer = BenchSocket(sharerRelay.replacingOccurrences(of: "http://", with: "ws://") + "/ws/share")
        let viewer = BenchSocket(viewerRelay.replacingOccurrences(of: "http://", with: "ws://") + "/ws/view")
        var session = LiveSession(sharer: sharer, viewer: viewer, viewerMessages: viewer.received.makeAsyncIterator(),
                                  sharerMessages: sharer.received.makeAsyncIterator())
        sharer.send(["t": "start", "interactionToken": interaction])
        guard let started = try await session.nextSharer(type: "started"), let id = started["sessionId"] as? String else {
            throw ValidationError("the relay did not start a session (is it in dev mode, is the stack up?)")
        }
        viewer.send(["t": "join", "agentToken": agent, "sessionId": id])
        guard try await session.nextViewer(type: "joined") != nil else { throw ValidationError("the viewer could not join") }
        return session
    }

    static func token(_ url: String) async throws -> String {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        let data = Data(try await response.body.collect(upTo: 1 << 20).readableBytesView)
        guard let token = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["token"] as? String else {
            throw ValidationError("no token from \(url)")
        }
        return token
    }

    mutating func nextViewer(type: String) async throws -> [String: Any]? {
        while let (text, _) = await viewerMessages.next() {
            if let object = Self.object(text), object["t"] as? String == type { return object }
        }
        return nil
    }

    mutating func nextSharer(type: String) async throws -> [String: Any]? {
        while let (text, _) = await sharerMessages.next() {
            if let object = Self.object(text), object["t"] as? String == type { return object }
        }
        return nil
    }

    static func object(_ text: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }

    private var seq = 0

    /// A page of `elements` paragraphs, some with a password field (so the filter masks).
    static func page(elements: Int) -> [String: Any] {
        var children: [[String: Any]] = []
        for index in 0..<elements {
            let id = 10 + index * 2
            if index.isMultiple(of: 50) {
                children.append(["id": id, "type": "element", "tag": "input", "attrs": ["type": "password", "value": "secret"], "value": "secret"])
            } else {
                children.append(["id": id, "type": "element", "tag": "p", "attrs": ["class": "row"],
                                 "children": [["id": id + 1, "type": "text", "text": "Line \(index) of the benchmark page"]]])
            }
        }
        return ["id": 1, "type": "element", "tag": "html", "children": [["id": 2, "type": "element", "tag": "body", "children": children]]]
    }

    /// Sends a snapshot and waits for the viewer to get it; seconds.
    mutating func snapshotLatency(elements: Int, round: Int) async throws -> Double {
        seq = 1
        let frame: [String: Any] = [
            "t": "snapshot", "seq": 1, "url": "https://bench.example/\(round)", "viewport": ["w": 1280, "h": 800],
            "scroll": ["x": 0, "y": 0], "root": Self.page(elements: elements),
        ]
        let text = String(decoding: try JSONSerialization.data(withJSONObject: frame), as: UTF8.self)
        let sent = ContinuousClock.now
        sharer.send(text)
        while let (text, at) = await viewerMessages.next() {
            if text.contains("\"t\":\"snapshot\""), text.contains("bench.example\\/\(round)") || text.contains("bench.example/\(round)") {
                return (at - sent).seconds
            }
        }
        throw ValidationError("the viewer's socket closed")
    }

    /// Cursor frames at `rate`/s; each frame's latency, in seconds.
    mutating func cursorLatencies(count: Int, rate: Int) async throws -> [Double] {
        let firstSeq = seq + 1
        let sharer = self.sharer
        let (sender, sentAt) = paced(count: count, rate: rate) { index in
            sharer.send(#"{"t":"cursor","seq":\#(firstSeq + index),"x":\#(index),"y":0}"#)
        }
        seq += count
        var latencies: [Double] = []
        while latencies.count < count, let (text, at) = await viewerMessages.next() {
            guard text.contains("\"t\":\"cursor\""), let object = Self.object(text), let x = object["x"] as? Double else { continue }
            if let sent = sentAt.of(Int(x)) { latencies.append((at - sent).seconds) }
        }
        try await sender.value
        return latencies
    }

    /// What arrived of a burst: frames per second from the first send to the last arrival.
    struct Throughput {
        let perSecond: Double
        let delivered: Int
    }

    /// Cursor frames sent back to back. The filter skips cursors that waited too long (a later
    /// one supersedes them), so not all arrive: the burst is over when the last one has, or when
    /// nothing has come for `quietFor`.
    mutating func throughput(count: Int, quietFor: Duration = .seconds(3)) async throws -> Throughput {
        let start = ContinuousClock.now
        for index in 0..<count { sharer.send(#"{"t":"cursor","seq":\#(seq + 1 + index),"x":\#(index),"y":1}"#) }
        seq += count
        let lastArrival = Mutex(start)
        let viewer = self.viewer
        let watchdog = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(250))
                if ContinuousClock.now - lastArrival.withLock({ $0 }) > quietFor {
                    viewer.mark(Self.quiet)
                    return
                }
            }
        }
        defer { watchdog.cancel() }
        var received = 0, last = start
        while let (text, at) = await viewerMessages.next(), text != Self.quiet {
            guard text.contains("\"t\":\"cursor\""), let object = Self.object(text), let x = object["x"] as? Double else { continue }
            received += 1
            last = at
            lastArrival.withLock { $0 = at }
            if Int(x) == count - 1 { break }
        }
        guard received > 0 else { throw ValidationError("none of \(count) frames arrived") }
        return Throughput(perSecond: Double(received) / (last - start).seconds, delivered: received)
    }

    /// What the watchdog puts among the viewer's messages when the stream has gone quiet.
    static let quiet = "<quiet>"

    func close() {
        sharer.close()
        viewer.close()
    }
}

/// The baseline: one publish → consume on a plain queue of the same broker.
enum BrokerHop {
    static func latencies(url: String, count: Int, rate: Int) async throws -> [Double] {
        let connection = try await AMQPConnection.connect(url: url)
        let queue = try await connection.declare(QueueDeclaration.serverNamedExclusive())
        let consumer = try await connection.consume(queue: queue.name, prefetch: 1000)
        let (sender, sentAt) = paced(count: count, rate: rate) { index in
            try await connection.publishUnconfirmed(AMQPMessage(#"{"t":"cursor","x":\#(index)}"#), exchange: "", routingKey: queue.name)
        }
        var latencies: [Double] = []
        for try await delivery in consumer {
            let at = ContinuousClock.now
            delivery.ack()
            if let object = LiveSession.object(String(decoding: delivery.body, as: UTF8.self)), let x = object["x"] as? Int,
               let sent = sentAt.of(x) {
                latencies.append((at - sent).seconds)
            }
            if latencies.count == count { break }
        }
        try await sender.value
        await connection.close()
        return latencies
    }
}

/// When each paced message went out, by index.
final class SendTimes: Sendable {
    private let times = Mutex<[Int: ContinuousClock.Instant]>([:])
    func record(_ index: Int) { times.withLock { $0[index] = .now } }
    func of(_ index: Int) -> ContinuousClock.Instant? { times.withLock { $0[index] } }
}

/// Sends `count` messages at `rate` per second (on a schedule, so a slow send does not
/// shift the ones after it); the task, and when each message went out.
func paced(count: Int, rate: Int, send: @escaping @Sendable (Int) async throws -> Void) -> (task: Task<Void, any Error>, sentAt: SendTimes) {
    let sentAt = SendTimes()
    let task = Task {
        let interval = Duration.seconds(1) / rate
        var next = ContinuousClock.now
        for index in 0..<count {
            try await Task.sleep(until: next, clock: .continuous)
            sentAt.record(index)
            try await send(index)
            next += interval
        }
    }
    return (task, sentAt)
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
