import AMQP
import CobrowseBroker
import CobrowseProtocol
import Foundation
import ServiceKit
import TestSupport
import Testing

extension FilterFixture {
    /// A sharer's frame as its relay publishes it, marked as received `age` ago.
    func send(_ frame: StreamFrame, session: SessionID, receivedAgo age: Duration) async throws {
        let milliseconds = age.components.seconds * 1000 + age.components.attoseconds / 1_000_000_000_000_000
        let stamp = Date().millisecondsSince1970 - milliseconds
        try await sendBatch([IngestBatch.Record(session: session, receivedAt: stamp, body: try JSONEncoder().encode(frame))])
    }
}

/// Frames that waited too long on their shard, through a real broker and filter process. The
/// limits are far above what a loaded machine adds, so only the frames stamped late are late.
@Suite struct SheddingIntegrationTests {
    static let limits = ["SHED_CURSORS_AFTER": "5", "SHED_FRAMES_AFTER": "20"]

    @Test func aLateCursorIsSkippedInSequenceAndALateChangeResyncsTheSession() async throws {
        let fixture = try await FilterFixture("filter-shed")
        defer { Task { await fixture.stop() } }
        let filter = try await fixture.startFilter(Self.limits)
        let session = SessionID.random()
        let view = try await fixture.listen(CobrowseTopology.viewExchange, session: session)
        let sharer = try await fixture.listen(CobrowseTopology.sharerExchange, session: session)

        try await fixture.send(StreamFrame(seq: 1, .snapshot(loginPage())), session: session, receivedAgo: .zero)
        try await fixture.send(StreamFrame(seq: 2, .cursor(.init(x: 1, y: 1))), session: session, receivedAgo: .seconds(10))
        try await fixture.send(StreamFrame(seq: 3, .cursor(.init(x: 3, y: 3))), session: session, receivedAgo: .zero)
        let change = StreamEvent.Mutations(texts: [.init(id: 8, text: "stale text")])
        try await fixture.send(StreamFrame(seq: 4, .mutations(change)), session: session, receivedAgo: .seconds(120))
        try await fixture.send(StreamFrame(seq: 5, .cursor(.init(x: 5, y: 5))), session: session, receivedAgo: .zero)

        let resync = try JSONDecoder().decode(ResyncRequest.self, from: try #require(try await sharer.take(1).first).body)
        #expect(resync.reason.contains("fell behind"), "\(resync.reason)")
        try await fixture.send(StreamFrame(seq: 1, .snapshot(loginPage(text: "fresh"))), session: session, receivedAgo: .zero)

        // The late cursor is gone without a hole in the viewers' sequence; the late change and
        // everything after it wait for the fresh snapshot.
        let received = try await view.frames(3)
        #expect(received.map(\.frame.event.type) == ["snapshot", "cursor", "snapshot"])
        #expect(received.map(\.frame.seq) == [1, 2, 3])
        #expect(received[1].frame.event == .cursor(.init(x: 3, y: 3)))
        #expect(!received.contains { $0.raw.contains("stale text") })
        let metrics = await filter.get("/metrics")?.body ?? ""
        #expect(metrics.contains(#"reason="late""#) && metrics.contains(#"reason="late-cursor""#), "\(metrics)")
        #expect(metrics.contains("cobrowse_filter_ingest_wait_seconds"), "\(metrics)")
    }

    @Test func aBackedUpShardCatchesUpBySheddingAndTheSessionStreamsAgain() async throws {
        let fixture = try await FilterFixture("filter-backlog")
        defer { Task { await fixture.stop() } }
        // A first filter declares the shards and exchanges, then stops.
        _ = await (try await fixture.startFilter(Self.limits)).terminate()
        let session = SessionID.random()
        let view = try await fixture.listen(CobrowseTopology.viewExchange, session: session)
        let sharer = try await fixture.listen(CobrowseTopology.sharerExchange, session: session)
        // A backlog that built up while no filter kept up: a snapshot, then 5,000 changes that
        // have all waited far too long by the time a filter reads them.
        try await fixture.send(StreamFrame(seq: 1, .snapshot(loginPage())), session: session, receivedAgo: .seconds(60))
        for seq in 2...5_001 {
            let change = StreamEvent.Mutations(texts: [.init(id: 8, text: "stale \(seq)")])
            try await fixture.send(StreamFrame(seq: seq, .mutations(change)), session: session, receivedAgo: .seconds(60))
        }
        try await fixture.startFilter(Self.limits)

        let resync = try JSONDecoder().decode(ResyncRequest.self, from: try #require(try await sharer.take(1, within: .seconds(60)).first).body)
        #expect(resync.reason.contains("fell behind"), "\(resync.reason)")
        try await fixture.send(StreamFrame(seq: 1, .snapshot(loginPage(text: "now"))), session: session, receivedAgo: .zero)
        try await fixture.send(StreamFrame(seq: 2, .mutations(.init(texts: [.init(id: 8, text: "live")]))), session: session, receivedAgo: .zero)
        // The old snapshot (never shed), then the fresh one and its change: none of the stale ones.
        let received = try await view.frames(3)
        #expect(received.map(\.frame.event.type) == ["snapshot", "snapshot", "mutations"])
        #expect(received[2].raw.contains("live") && !received.contains { $0.raw.contains("stale") })
    }
}
