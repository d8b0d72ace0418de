import CobrowseProtocol
import Foundation
import MaskingRules
@testable import MaskingFilter
import Testing

extension SessionStreamTests {
    // MARK: Fail closed and resync

    @Test(arguments: nonSnapshotEvents)
    func beforeAnySnapshotAFrameOnlyAsksForResync(event: StreamEvent) {
        var stream = SessionStream()
        let outputs = stream.process(StreamFrame(seq: 1, event), now: .now)
        #expect(outputs.count == 1)
        #expect(Self.views(outputs).isEmpty)
        #expect(Self.resyncs(outputs).count == 1)
        #expect(!stream.hasSnapshot)
    }

    @Test func beforeAnySnapshotEveryFrameIsWithheld() {
        var h = Harness()
        for event in Self.nonSnapshotEvents {
            h.advance(.seconds(3))
            let outputs = h.send(event)
            #expect(Self.resyncs(outputs).count == 1, "\(event.type)")
        }
        #expect(Self.views(h.outputs).isEmpty)
    }

    @Test func resyncRequestsForOneSessionAreThrottledToOneEveryTwoSeconds() {
        var h = Harness()
        let viewport = StreamEvent.viewport(Viewport(w: 1, h: 1))
        #expect(Self.resyncs(h.send(viewport)).count == 1)
        h.advance(.milliseconds(1))
        #expect(h.send(viewport).isEmpty)
        h.advance(.milliseconds(1998)) // 1.999 s after the first
        #expect(h.send(viewport).isEmpty)
        h.advance(.milliseconds(1)) // 2 s after the first
        #expect(Self.resyncs(h.send(viewport)).count == 1)
        h.advance(.seconds(1))
        #expect(h.send(viewport).isEmpty)
        h.advance(.seconds(1))
        #expect(Self.resyncs(h.send(viewport)).count == 1)
    }

    @Test func aFloodOfViewerSnapshotRequestsAsksTheSharerAtMostOnceAnInterval() {
        var h = Harness()
        h.sendSnapshot()
        var asked = 0
        // 2,000 requests over 5 s (an observer flooding `resync`, or joins): 3 snapshots, not 2,000.
        for _ in 0..<2000 {
            asked += Self.resyncs(h.stream.snapshotWanted("a viewer saw a gap", now: h.now)).count
            asked += Self.resyncs(h.stream.retryResync(now: h.now)).count
            h.advance(.microseconds(2500))
        }
        #expect(asked == 3)
    }

    @Test func aViewerRequestHeldBackByTheBudgetGoesOutWhenItAllowsUnlessASnapshotCameFirst() {
        var h = Harness()
        h.sendSnapshot()
        #expect(Self.resyncs(h.stream.snapshotWanted("a viewer joined", now: h.now)) == ["a viewer joined"])
        h.advance(.milliseconds(500))
        #expect(h.stream.snapshotWanted("a viewer joined", now: h.now).isEmpty, "within the interval")
        #expect(h.stream.retryResync(now: h.now).isEmpty)
        h.advance(.milliseconds(1500))
        #expect(Self.resyncs(h.stream.retryResync(now: h.now)) == ["a viewer joined"], "the held request, once allowed")
        #expect(h.stream.retryResync(now: h.now + .seconds(5)).isEmpty, "and only once")
        // A snapshot that arrives after a held request satisfies it.
        h.advance(.milliseconds(100))
        #expect(h.stream.snapshotWanted("a viewer joined", now: h.now).isEmpty)
        h.sendSnapshot()
        #expect(h.stream.retryResync(now: h.now + .seconds(5)).isEmpty)
    }

    @Test func aReconnectedRelaysRequestGoesOutAtOnceWhenTheSnapshotWasPassedOnBeforeItsReconnect() {
        var h = Harness()
        #expect(Self.resyncs(h.send(.viewport(Viewport(w: 1, h: 1)))) == ["no snapshot yet"])
        h.sendSnapshot()
        #expect(Self.resyncs(h.stream.snapshotWanted("a viewer joined", now: h.now)).isEmpty, "within the budget: held")
        h.sendSnapshot()
        h.advance(.milliseconds(300))
        // The relay got its queue back after that snapshot was passed on: it may have gone to
        // the queue the relay no longer had.
        let later = Date().millisecondsSince1970 + 1000
        #expect(Self.resyncs(h.stream.snapshotWanted("the relay reconnected", relayReconnectedAt: later, now: h.now))
            == ["the relay reconnected"])
        // The budget counts from it: an ordinary request right after is held, as ever.
        h.advance(.milliseconds(300))
        #expect(h.stream.snapshotWanted("a viewer saw a gap", now: h.now).isEmpty)
        h.advance(.milliseconds(1700))
        #expect(Self.resyncs(h.stream.retryResync(now: h.now)) == ["a viewer saw a gap"])
    }

    @Test func aReconnectedRelaysRequestWaitsForTheSnapshotAnUnansweredRequestWillBring() {
        var h = Harness()
        h.sendSnapshot()
        #expect(Self.resyncs(h.stream.snapshotWanted("a viewer joined", now: h.now)) == ["a viewer joined"])
        h.advance(.milliseconds(100))
        // The relay got its queue back after the filter asked, before the answer came: the
        // snapshot on its way will be passed on now or later, so it reaches the relay (the
        // fault suite's node kill: the filter's own request, then the relay's, 0.1 s apart).
        let later = Date().millisecondsSince1970 + 1000
        #expect(h.stream.snapshotWanted("the relay reconnected", relayReconnectedAt: later, now: h.now).isEmpty)
        h.sendSnapshot()
        #expect(h.stream.retryResync(now: h.now + .seconds(5)).isEmpty, "the snapshot answered both")
        // Had the answer never come, the held request would have gone out once the budget allowed.
        var lost = Harness()
        lost.sendSnapshot()
        _ = lost.stream.snapshotWanted("a viewer joined", now: lost.now)
        _ = lost.stream.snapshotWanted("the relay reconnected", relayReconnectedAt: later, now: lost.now)
        lost.advance(.seconds(2))
        #expect(Self.resyncs(lost.stream.retryResync(now: lost.now)) == ["the relay reconnected"])
    }

    @Test func aReconnectedRelaysRequestIsAnsweredByASnapshotPassedOnAfterItsReconnect() {
        var h = Harness()
        let reconnected = Date().millisecondsSince1970 - 1000
        h.sendSnapshot()
        #expect(h.stream.snapshotWanted("the relay reconnected", relayReconnectedAt: reconnected, now: h.now).isEmpty)
        #expect(h.stream.retryResync(now: h.now + .seconds(5)).isEmpty)
    }

    @Test func aReconnectedRelaysRequestWaitsForTheBudgetWhenTheLastRequestCameAfterItsReconnect() {
        var h = Harness()
        h.sendSnapshot()
        let reconnected = Date().millisecondsSince1970 - 1000
        // The filter asked after the relay had its queue again: that snapshot reaches the relay.
        #expect(Self.resyncs(h.stream.snapshotWanted("a viewer joined", now: h.now)) == ["a viewer joined"])
        h.advance(.milliseconds(20))
        #expect(h.stream.snapshotWanted("the relay reconnected", relayReconnectedAt: reconnected, now: h.now).isEmpty)
        // And the snapshot that comes answers both.
        h.sendSnapshot()
        #expect(h.stream.retryResync(now: h.now + .seconds(5)).isEmpty)
    }

    @Test func aViewerRequestMadeBeforeTheCurrentSnapshotReachedTheSharersRelayIsAlreadyAnswered() {
        var h = Harness()
        // The filter asked by itself ("no snapshot yet"); the snapshot came through the sharer's
        // relay at 10,000 ms; the viewers' relay had asked at 9,990 ms, and its request arrives last.
        #expect(Self.resyncs(h.send(.viewport(Viewport(w: 1, h: 1)))) == ["no snapshot yet"])
        h.advance(.milliseconds(300))
        h.nextSeq = 1
        _ = h.stream.process(StreamFrame(seq: 1, Self.snapshot(Self.page())), receivedAt: 10_000, now: h.now)
        #expect(h.stream.snapshotWanted("the relay reconnected", madeAt: 9_990, now: h.now).isEmpty)
        h.advance(.seconds(5))
        #expect(h.stream.retryResync(now: h.now).isEmpty, "nothing held back either")
        // A request made after that snapshot (a viewer joined since) is not answered by it.
        #expect(Self.resyncs(h.stream.snapshotWanted("a viewer joined", madeAt: 10_001, now: h.now)) == ["a viewer joined"])
        // Nor is one that says nothing of its time, or one against a snapshot of unknown time.
        h.advance(.seconds(5))
        #expect(Self.resyncs(h.stream.snapshotWanted("a viewer joined", now: h.now)) == ["a viewer joined"])
        h.sendSnapshot()
        h.advance(.seconds(5))
        #expect(Self.resyncs(h.stream.snapshotWanted("a viewer joined", madeAt: 1, now: h.now)) == ["a viewer joined"])
    }

    @Test func aResyncThatGoesUnansweredIsAskedAgainWhileTheStreamIsQuiet() {
        var h = Harness()
        #expect(Self.resyncs(h.send(.viewport(Viewport(w: 1, h: 1)))).count == 1)
        #expect(h.stream.retryResync(now: h.now).isEmpty, "not before the interval")
        h.advance(.seconds(2))
        #expect(Self.resyncs(h.stream.retryResync(now: h.now)) == ["still waiting for a snapshot"])
        h.advance(.seconds(1))
        #expect(h.stream.retryResync(now: h.now).isEmpty, "still throttled")
    }

    @Test func noResyncIsRetriedOnceASnapshotArrivedOrNoneWasAsked() {
        var quiet = Harness()
        quiet.advance(.seconds(10))
        #expect(quiet.stream.retryResync(now: quiet.now).isEmpty, "a stream that never asked does not start asking")
        var h = Harness()
        _ = h.send(.viewport(Viewport(w: 1, h: 1)))
        h.sendSnapshot()
        h.advance(.seconds(5))
        #expect(h.stream.retryResync(now: h.now).isEmpty)
    }

    @Test func retryingStopsAfterAMinuteWithoutASnapshot() {
        var h = Harness()
        _ = h.send(.viewport(Viewport(w: 1, h: 1)))
        h.advance(.seconds(59))
        #expect(!h.stream.retryResync(now: h.now).isEmpty)
        h.advance(.seconds(2))
        #expect(h.stream.retryResync(now: h.now).isEmpty, "the sharer is gone: stop asking")
    }

    @Test func aSequenceGapAsksForResyncNamingExpectedAndReceivedSeq() throws {
        var h = Harness()
        h.sendSnapshot()
        _ = try Self.onlyView(h.send(.viewport(Viewport(w: 1, h: 1)), seq: 2))
        let outputs = h.send(.viewport(Viewport(w: 2, h: 2)), seq: 4)
        #expect(Self.views(outputs).isEmpty)
        let reasons = Self.resyncs(outputs)
        try #require(reasons.count == 1)
        #expect(reasons[0].contains("expected 3"), "\(reasons[0])")
        #expect(reasons[0].contains("got 4"), "\(reasons[0])")
        #expect(!h.stream.hasSnapshot)
    }

    @Test func afterAGapNothingIsForwardedUntilANewSnapshot() throws {
        var h = Harness()
        h.sendSnapshot()
        h.send(.viewport(Viewport(w: 1, h: 1)), seq: 2)
        h.send(.viewport(Viewport(w: 2, h: 2)), seq: 4)
        // Neither the late frame nor the ones after the gap get through, and the resync is throttled.
        #expect(h.send(.viewport(Viewport(w: 3, h: 3)), seq: 3).isEmpty)
        #expect(h.send(.input(.init(id: 9, value: "bob")), seq: 5).isEmpty)
        h.advance(.seconds(3))
        let later = h.send(.viewport(Viewport(w: 4, h: 4)), seq: 6)
        #expect(Self.views(later).isEmpty)
        #expect(Self.resyncs(later).count == 1)

        let snapshot = try Self.onlyView(h.sendSnapshot())
        #expect(snapshot.seq == 3)
        let next = try Self.onlyView(h.send(.input(.init(id: 9, value: "bob"))))
        #expect(next.seq == 4)
        #expect(next.event == .input(.init(id: 9, value: "bob")))
    }

    // MARK: Pauses

    @Test func aPauseInSequenceIsForwarded() throws {
        var h = Harness()
        h.sendSnapshot()
        let paused = try Self.onlyView(h.send(.paused(.init(url: nil))))
        #expect(paused.event == .paused(.init(url: nil)))
        #expect(paused.seq == 2)
    }

    @Test func aPauseThatArrivesAfterTheNextPagesSnapshotIsDroppedWithoutAResync() throws {
        var h = Harness()
        h.sendSnapshot()
        h.send(.viewport(Viewport(w: 1, h: 1)))
        h.send(.viewport(Viewport(w: 2, h: 2)))
        // The next page's socket sent its snapshot before the old socket's relay said `paused` (seq 4).
        h.sendSnapshot()
        #expect(h.send(.paused(.init(url: nil)), seq: 4).isEmpty)
        #expect(h.stream.hasSnapshot, "the stream goes on")
        #expect(try Self.onlyView(h.send(.viewport(Viewport(w: 3, h: 3)))).seq == 5)
    }

    @Test func aPauseForAnEarlierConnectionIsDroppedEvenWhenItsSeqFits() throws {
        var h = Harness()
        var first = SessionStreamTests.snapshot()
        if case var .snapshot(snapshot) = first { snapshot.stream = "old-socket"; first = .snapshot(snapshot) }
        h.send(first, seq: 1)
        // The old page sent only its snapshot; the next page's snapshot came before the relay's pause.
        var second = SessionStreamTests.snapshot()
        if case var .snapshot(snapshot) = second { snapshot.stream = "new-socket"; second = .snapshot(snapshot) }
        h.send(second, seq: 1)
        #expect(h.send(.paused(.init(url: nil, stream: "old-socket")), seq: 2).isEmpty)
        let pause = try Self.onlyView(h.send(.paused(.init(url: nil, stream: "new-socket")), seq: 2))
        #expect(pause.event == .paused(.init(url: nil, stream: "new-socket")))
    }

    @Test func aPauseBeforeAnySnapshotIsDroppedWithoutAResync() {
        var stream = SessionStream()
        #expect(stream.process(StreamFrame(seq: 7, .paused(.init(url: nil))), now: .now).isEmpty)
    }

    // MARK: View sequence

    @Test func viewSeqIsGapFreeAcrossDropsAndSnapshots() throws {
        var h = Harness()
        h.sendSnapshot()                                                   // v1
        h.send(.input(.init(id: 5, value: "x")))                           // dropped
        h.send(.input(.init(id: 9, value: "x")))                           // v2
        h.send(.mutations(Mutations(texts: [.init(id: 6, text: "x")])))    // dropped
        h.send(.scroll(.init(id: 999, x: 0, y: 0)))                        // dropped
        h.sendSnapshot()                                                   // v3
        h.send(.viewport(Viewport(w: 1, h: 1)))                                // v4
        h.send(.viewport(Viewport(w: 1, h: 1)), seq: 9)                        // gap: resync
        h.advance(.seconds(5))
        h.sendSnapshot()                                                   // v5
        h.send(.cursor(.init(x: 1, y: 1)))                                 // v6
        #expect(Self.views(h.outputs).map(\.seq) == [1, 2, 3, 4, 5, 6])
    }

    @Test func aThousandTextMutationsAreForwardedInOrderWithViewSeqsTwoToOneThousandOne() throws {
        var h = Harness()
        h.sendSnapshot()
        for i in 1...1000 {
            h.send(.mutations(Mutations(texts: [.init(id: 8, text: "t\(i)")])))
        }
        let frames = Array(Self.views(h.outputs).dropFirst())
        #expect(Self.resyncs(h.outputs).isEmpty)
        try #require(frames.count == 1000)
        #expect(frames.map(\.seq) == Array(2...1001))
        let texts = frames.map { frame -> String? in
            guard case let .mutations(m) = frame.event, m.texts.count == 1 else { return nil }
            return m.texts[0].text
        }
        #expect(texts == (1...1000).map { "t\($0)" })
    }
}
