import AMQP
import CobrowseBroker
import CobrowseProtocol
import Foundation
@testable import InteractionWatch
import ServiceKit
import TestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The stack of SuiteFixture with a watch whose relays report activity several times a second
/// (or every `reportInterval` seconds).
func watchedStack(_ name: String, watch environment: [String: String] = [:], reportInterval: String = "0.25") async throws -> SuiteFixture {
    let suite = try await SuiteFixture(name, relayEnvironment: ["ACTIVITY_REPORT_INTERVAL": reportInterval])
    try await suite.startWatch(environment)
    return suite
}

/// Publishes an interaction event as a contact center would: persistent, confirmed.
func publish(_ event: InteractionEvent, to url: String) async throws {
    let connection = try await AMQPConnection.connect(url: url)
    defer { Task { await connection.close() } }
    try await connection.publish(
        AMQPMessage(body: try JSONEncoder.cobrowse.encode(event), properties: AMQPProperties(contentType: "application/json", persistent: true)),
        exchange: CobrowseTopology.interactionsExchange, routingKey: event.routingKey, mandatory: true)
}

/// A customer sharing and an agent joined: both sockets and the session id.
func sharedSession(_ suite: SuiteFixture, interaction: String = "ix-\(UUID().uuidString.prefix(8))",
                   channel: InteractionChannel = .chat) async throws -> (sharer: SocketPeer, agent: SocketPeer, id: String) {
    let (sharer, started) = try await suite.share(interaction: interaction, channel: channel)
    let id = try #require(started["sessionId"] as? String)
    let agent = try await suite.join(id)
    return (sharer, agent, id)
}

/// Both parties are told the session ended, and why; returns the reason they were given.
/// If not, the test output has the watch's and the registry's logs.
func expectBothTold(_ suite: SuiteFixture, _ sharer: SocketPeer, _ agent: SocketPeer, _ reason: EndReason,
                    within limit: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation) async {
    for (who, socket) in [("customer", sharer), ("agent", agent)] {
        let ended = await socket.next(type: "ended", within: limit)
        #expect(ended?["reason"] as? String == reason.rawValue, "the \(who) was not told '\(reason.rawValue)'", sourceLocation: sourceLocation)
        if ended == nil {
            for process in suite.processes where ["interaction-watch", "session-registry"].contains(process.name) {
                FileHandle.standardError.write(Data("error: log of \(process.name):\n\(process.log.suffix(6000))\n".utf8))
            }
        }
    }
}

/// The registry's view of a session, over its RPC queue.
func registryView(_ id: String, on url: String) async throws -> SessionView {
    let connection = try await AMQPConnection.connect(url: url)
    defer { Task { await connection.close() } }
    return try await RegistryClient(connection: connection).send(.get(session: SessionID(id)!)).get()
}

/// Contact-center events, over the broker and over the signed webhook.
@Suite struct InteractionEventTests {
    @Test func anInteractionThatEndsEndsItsSessionAndNoNewSessionCanStartInIt() async throws {
        let suite = try await watchedStack("watch-ended")
        defer { Task { await suite.stop() } }
        let (sharer, agent, id) = try await sharedSession(suite, interaction: "ix-ended")
        try await publish(InteractionEvent(type: .ended, interactionId: "ix-ended", channel: .chat, at: Date()), to: suite.url)
        await expectBothTold(suite, sharer, agent, .interactionEnded)
        let view = try await registryView(id, on: suite.url)
        #expect(view.endedBy == .system("interaction-watch"))

        let again = suite.socket(0, "/ws/share")
        again.send(["t": "start", "interactionToken": try await suite.tokens.interaction("ix-ended")])
        let refusal = await again.next(type: "error")
        #expect(refusal?["code"] as? String == "interaction-ended")
    }

    @Test func transferredAndConferencedEndWithTheirOwnReasons() async throws {
        let suite = try await watchedStack("watch-transfer")
        defer { Task { await suite.stop() } }
        for (type, reason) in [(InteractionEvent.Kind.transferred, EndReason.interactionTransferred), (.conferenced, .interactionConferenced)] {
            let interaction = "ix-\(type.rawValue)"
            let (sharer, agent, _) = try await sharedSession(suite, interaction: interaction, channel: .voice)
            try await publish(InteractionEvent(type: type, interactionId: interaction, channel: .voice, agentId: "bob", at: Date()), to: suite.url)
            await expectBothTold(suite, sharer, agent, reason)
        }
    }

    @Test func aLateTransferDoesNotEndASessionStartedAfterItWithTheNewAgent() async throws {
        let suite = try await watchedStack("watch-late-transfer")
        defer { Task { await suite.stop() } }
        let transferredAt = Date().addingTimeInterval(-60)
        let (sharer, _, id) = try await sharedSession(suite, interaction: "ix-late")
        try await publish(InteractionEvent(type: .transferred, interactionId: "ix-late", channel: .chat, at: transferredAt), to: suite.url)
        // The watch acts on events in order: once a later end has been acted on, so has the transfer.
        try await publish(InteractionEvent(type: .ended, interactionId: "ix-other", channel: .chat, at: Date()), to: suite.url)
        #expect(await eventually { await queueDepth(suite) == 0 })
        #expect(try await registryView(id, on: suite.url).state == .active)
        sharer.close()
    }

    @Test func anEndedEventBeforeItsStartedAndDuplicatesEndTheSessionOnce() async throws {
        let suite = try await watchedStack("watch-order")
        defer { Task { await suite.stop() } }
        let ended = try await ExchangeTap(suite.url, key: "s.*.ended")
        let (sharer, agent, _) = try await sharedSession(suite, interaction: "ix-order")
        let now = Date()
        for event in [InteractionEvent(id: "e2", type: .ended, interactionId: "ix-order", channel: .chat, at: now),
                      InteractionEvent(id: "e2", type: .ended, interactionId: "ix-order", channel: .chat, at: now),
                      InteractionEvent(id: "e1", type: .started, interactionId: "ix-order", channel: .chat, at: now.addingTimeInterval(-5))] {
            try await publish(event, to: suite.url)
        }
        await expectBothTold(suite, sharer, agent, .interactionEnded)
        #expect(await eventually { await queueDepth(suite) == 0 })
        #expect(try await ended.count(settling: .seconds(1)) == 1, "the session ended more than once")
    }

    @Test func eventsPublishedWhileTheWatchIsStoppedAreActedOnWhenItComesBack() async throws {
        let suite = try await watchedStack("watch-down")
        defer { Task { await suite.stop() } }
        let (sharer, agent, _) = try await sharedSession(suite, interaction: "ix-down")
        #expect(await suite.watch?.terminate() == 0)
        try await publish(InteractionEvent(type: .ended, interactionId: "ix-down", channel: .chat, at: Date()), to: suite.url)
        #expect(await queueDepth(suite) == 1, "the durable queue keeps the event while no watch runs")
        #expect(await sharer.nothing(ofType: "ended", within: .seconds(2)), "ended without a watch")
        try await suite.startWatch()
        await expectBothTold(suite, sharer, agent, .interactionEnded)
    }

    @Test func aWatchRetryingAnEventTheRegistryCannotTakeStillStopsAtOnceAndKeepsTheEvent() async throws {
        let suite = try await watchedStack("watch-registry-down")
        defer { Task { await suite.stop() } }
        let registry = try #require(suite.processes.first { $0.name == "session-registry" })
        #expect(await registry.terminate() == 0)
        try await publish(InteractionEvent(type: .ended, interactionId: "ix-waiting", channel: .chat, at: Date()), to: suite.url)
        // A watch that starts now can neither learn the live sessions nor hand the event on.
        let watch = try await suite.startWatch()
        #expect(await eventually { watch.log.contains("registry unreachable; retrying the interaction event") })
        #expect(await eventually { watch.log.contains("cannot list live sessions from the registry") })
        #expect(await watch.terminate(within: .seconds(15)) == 0, "the watch hung on SIGTERM: \(watch.log.suffix(2000))")
        #expect(await queueDepth(suite) == 1, "the event was lost")
    }

    @Test func aMalformedEventIsDeadLetteredAndTheWatchKeepsGoing() async throws {
        let suite = try await watchedStack("watch-malformed")
        defer { Task { await suite.stop() } }
        let connection = try await AMQPConnection.connect(url: suite.url)
        defer { Task { await connection.close() } }
        try await connection.publish(AMQPMessage(body: Data(#"{"version":1,"type":"ended","channel":"chat"}"#.utf8)),
                                     exchange: CobrowseTopology.interactionsExchange, routingKey: "interaction.chat.ended")
        let (sharer, agent, _) = try await sharedSession(suite, interaction: "ix-after-bad")
        try await publish(InteractionEvent(type: .ended, interactionId: "ix-after-bad", channel: .chat, at: Date()), to: suite.url)
        await expectBothTold(suite, sharer, agent, .interactionEnded)
        let dead = try await connection.inspectQueue(CobrowseTopology.deadLetterQueue)
        #expect(dead.messageCount == 1)
        #expect(await eventually { suite.watch?.log.contains("missing field 'interactionId'") == true })
        // An event put straight on the watch's queue (the default exchange) is no one's either.
        try await connection.publish(AMQPMessage(body: try JSONEncoder.cobrowse.encode(
            InteractionEvent(type: .ended, interactionId: "ix-forged", channel: .chat, at: Date()))),
                                     exchange: "", routingKey: CobrowseTopology.interactionsQueue)
        // The dead letters say why, not only the broker's "rejected".
        var reasons: [String] = []
        for try await letter in try await connection.consume(queue: CobrowseTopology.deadLetterQueue, prefetch: 10) {
            if case let .string(reason)? = letter.properties.headers[InteractionEvents.errorHeader] { reasons.append(reason) }
            letter.ack()
            if reasons.count == 2 { break }
        }
        #expect(reasons.first?.contains("interactionId") == true, "\(reasons)")
        #expect(reasons.last?.contains("not published on \(CobrowseTopology.interactionsExchange)") == true, "\(reasons)")
    }

    @Test func aSignedWebhookEventEndsTheSession() async throws {
        let suite = try await watchedStack("watch-webhook", watch: ["WEBHOOK_SECRET": Webhook.secret])
        defer { Task { await suite.stop() } }
        let (sharer, agent, _) = try await sharedSession(suite, interaction: "ix-hook")
        let body = try JSONEncoder.cobrowse.encode(InteractionEvent(type: .ended, interactionId: "ix-hook", channel: .messaging, at: Date()))
        let (status, answer) = try await Webhook.post(body, to: try #require(suite.watch))
        #expect(status == 202, "\(answer)")
        await expectBothTold(suite, sharer, agent, .interactionEnded)
    }

    @Test(arguments: ["forged", "stale", "unsigned", "resigned body"])
    func aForgedOrReplayedWebhookIsRefusedAndLogged(_ forgery: String) async throws {
        let suite = try await watchedStack("watch-forged", watch: ["WEBHOOK_SECRET": Webhook.secret])
        defer { Task { await suite.stop() } }
        let (sharer, _, id) = try await sharedSession(suite, interaction: "ix-forged")
        let watch = try #require(suite.watch)
        let body = try JSONEncoder.cobrowse.encode(InteractionEvent(type: .ended, interactionId: "ix-forged", channel: .chat, at: Date()))
        let now = Int(Date().timeIntervalSince1970)
        let (status, answer): (Int, String)
        switch forgery {
        case "forged":
            (status, answer) = try await Webhook.post(body, to: watch, secret: String(repeating: "x", count: 40))
        case "stale":
            (status, answer) = try await Webhook.post(body, to: watch, timestamp: now - 3600)
        case "unsigned":
            (status, answer) = try await Webhook.post(body, to: watch, sign: false)
        default: // a body changed after signing
            let other = try JSONEncoder.cobrowse.encode(InteractionEvent(type: .ended, interactionId: "ix-other", channel: .chat, at: Date()))
            (status, answer) = try await Webhook.post(body, to: watch, signature: InteractionWebhook.signature(other, timestamp: now, secret: Webhook.secret))
        }
        #expect(status == 401, "\(answer)")
        #expect(await eventually { watch.log.contains("webhook request refused") })
        #expect(await queueDepth(suite) == 0)
        #expect(try await registryView(id, on: suite.url).state == .active)
        sharer.close()
    }

    @Test func aWebhookWithoutASecretIsOffAndABadEventIsRefusedWithTheReason() async throws {
        let off = try await watchedStack("watch-webhook-off")
        defer { Task { await off.stop() } }
        let (status, answer) = try await Webhook.post(Data("{}".utf8), to: try #require(off.watch))
        #expect(status == 404 && answer.contains("WEBHOOK_SECRET"), "\(answer)")

        try await off.startWatch(["WEBHOOK_SECRET": Webhook.secret])
        let (badStatus, badAnswer) = try await Webhook.post(Data(#"{"version":1,"type":"ended"}"#.utf8), to: try #require(off.watch))
        #expect(badStatus == 400 && badAnswer.contains("missing field"), "\(badAnswer)")
    }
}

/// Messages waiting in the watch's durable interactions queue.
func queueDepth(_ suite: SuiteFixture) async -> Int? {
    guard let connection = try? await AMQPConnection.connect(url: suite.url) else { return nil }
    defer { Task { await connection.close() } }
    return try? await connection.inspectQueue(CobrowseTopology.interactionsQueue).messageCount
}

/// Messages of one exchange with one routing-key pattern (lifecycle events by default), from a
/// queue of the test's own.
struct ExchangeTap {
    let connection: AMQPConnection
    let consumer: AMQPConsumer

    init(_ url: String, exchange: String = CobrowseTopology.lifecycleExchange, key: String) async throws {
        connection = try await AMQPConnection.connect(url: url)
        consumer = try await connection.listen(to: exchange, key: key, autoAck: true)
    }

    /// The next message's body; fails if none comes within `limit`.
    func next(within limit: Duration = .seconds(20)) async throws -> Data {
        try await consumer.take(1, within: limit, ack: false)[0].body
    }

    /// How many arrived, once none has arrived for `quiet`.
    func count(settling quiet: Duration) async throws -> Int {
        var seen = 0
        while (try? await consumer.take(1, within: seen == 0 ? .seconds(20) : quiet)) != nil { seen += 1 }
        await connection.close()
        return seen
    }
}

/// Posting to the watch's webhook as a contact center would (or would not).
enum Webhook {
    static let secret = "webhook-test-secret-of-at-least-32-bytes"

    static func post(_ body: Data, to watch: ServiceProcess, timestamp: Int = Int(Date().timeIntervalSince1970),
                     secret: String = secret, sign: Bool = true, signature: String? = nil) async throws -> (Int, String) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(watch.httpPort)\(InteractionWebhook.path)")!)
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("\(timestamp)", forHTTPHeaderField: "X-Cobrowse-Timestamp")
        if sign {
            let value = signature ?? InteractionWebhook.signature(body, timestamp: timestamp, secret: secret)
            request.setValue(value, forHTTPHeaderField: "X-Cobrowse-Signature")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }
}
