import CobrowseProtocol
import Foundation
import MaskingRules
@testable import MaskingFilter
import Testing

/// One session's stream through the filter, driven frame by frame with an explicit clock.
struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@Suite struct SessionStreamTests {
    typealias Output = SessionStream.Output
    typealias Mutations = StreamEvent.Mutations

    // MARK: Fixture

    /// html(1) > body(2) > [form(3) > [input#pw(4, password "hunter2"), input#user(9, text "alice")],
    ///                      script(5) > text(6 "steal()"),
    ///                      p(7) > text(8 "Hello"),
    ///                      a(10, onclick, javascript: href) > text(11 "Link")]
    static func page() -> DOMNode {
        var password = DOMNode.element(4, "input", ["id": "pw", "type": "password", "value": "hunter2"])
        password.value = "hunter2"
        var user = DOMNode.element(9, "input", ["id": "user", "type": "text", "value": "alice"])
        user.value = "alice"
        return .element(1, "html", [:], [
            .element(2, "body", ["class": "shop"], [
                .element(3, "form", ["action": "/login"], [password, user]),
                .element(5, "script", [:], [.text(6, "steal()")]),
                .element(7, "p", [:], [.text(8, "Hello")]),
                .element(10, "a", ["href": "javascript:steal()", "onclick": "steal()", "class": "link"], [.text(11, "Link")]),
            ]),
        ])
    }

    /// What viewers must get for `page()`.
    static func maskedPage() -> DOMNode {
        var password = DOMNode.element(4, "input", ["id": "pw", "type": "password", "value": "****", "data-cb-masked": ""])
        password.value = "****"
        var user = DOMNode.element(9, "input", ["id": "user", "type": "text", "value": "alice"])
        user.value = "alice"
        return .element(1, "html", [:], [
            .element(2, "body", ["class": "shop"], [
                .element(3, "form", ["action": "/login"], [password, user]),
                .element(7, "p", [:], [.text(8, "Hello")]),
                .element(10, "a", ["class": "link"], [.text(11, "Link")]),
            ]),
        ])
    }

    static func snapshot(_ root: DOMNode = page()) -> StreamEvent {
        .snapshot(.init(url: "https://shop.example/login", title: "Login", viewport: Viewport(w: 1280, h: 800), root: root))
    }

    /// A session stream with the sharer's sequence numbers and a clock it controls.
    struct Harness {
        var stream = SessionStream()
        let start = ContinuousClock.now
        var now: ContinuousClock.Instant
        var nextSeq = 1
        var outputs: [Output] = []

        init() { now = start }

        /// Sends a snapshot with `seq` 1, restarting the sharer's sequence.
        @discardableResult
        mutating func sendSnapshot(_ root: DOMNode = SessionStreamTests.page()) -> [Output] {
            nextSeq = 1
            return send(SessionStreamTests.snapshot(root))
        }

        /// Sends the next frame in sequence.
        @discardableResult
        mutating func send(_ event: StreamEvent) -> [Output] {
            defer { nextSeq += 1 }
            return send(event, seq: nextSeq)
        }

        /// Sends a frame with an explicit `seq`, leaving the running sequence alone.
        @discardableResult
        mutating func send(_ event: StreamEvent, seq: Int) -> [Output] {
            let result = stream.process(StreamFrame(seq: seq, event), now: now)
            outputs += result
            return result
        }

        mutating func advance(_ duration: Duration) { now = now + duration }
    }

    static func views(_ outputs: [Output]) -> [StreamFrame] {
        outputs.compactMap { if case let .view(frame) = $0 { frame } else { nil } }
    }

    static func resyncs(_ outputs: [Output]) -> [String] {
        outputs.compactMap { if case let .resync(reason) = $0 { reason } else { nil } }
    }

    /// The only forwarded frame's event; fails if anything else came out.
    static func onlyView(_ outputs: [Output], sourceLocation: SourceLocation = #_sourceLocation) throws -> StreamFrame {
        try #require(outputs.count == 1, "expected exactly one output, got \(outputs)", sourceLocation: sourceLocation)
        let frames = views(outputs)
        return try #require(frames.first, "expected a view frame, got \(outputs)", sourceLocation: sourceLocation)
    }

    static func mutations(_ outputs: [Output], sourceLocation: SourceLocation = #_sourceLocation) throws -> Mutations {
        let frame = try onlyView(outputs, sourceLocation: sourceLocation)
        guard case let .mutations(mutations) = frame.event else {
            Issue.record("expected mutations, got \(frame.event)", sourceLocation: sourceLocation)
            throw CancellationError()
        }
        return mutations
    }

    static func input(_ outputs: [Output], sourceLocation: SourceLocation = #_sourceLocation) throws -> StreamEvent.Input {
        let frame = try onlyView(outputs, sourceLocation: sourceLocation)
        guard case let .input(input) = frame.event else {
            Issue.record("expected input, got \(frame.event)", sourceLocation: sourceLocation)
            throw CancellationError()
        }
        return input
    }

    static func find(_ id: Int, in node: DOMNode) -> DOMNode? {
        if node.id == id { return node }
        for child in (node.children ?? []) + (node.shadow ?? []) {
            if let found = find(id, in: child) { return found }
        }
        return nil
    }

    static func allIDs(_ node: DOMNode) -> Set<Int> {
        ((node.children ?? []) + (node.shadow ?? [])).reduce(into: [node.id]) { $0.formUnion(allIDs($1)) }
    }

    static func json(_ outputs: [Output]) throws -> [String] {
        try outputs.map { output in
            switch output {
            case let .view(frame): String(decoding: try JSONEncoder().encode(frame), as: UTF8.self)
            case let .resync(reason): String(decoding: try JSONEncoder().encode(ResyncRequest(reason: reason)), as: UTF8.self)
            case let .action(action): String(decoding: try JSONEncoder().encode(ApprovedAction(action: action)), as: UTF8.self)
            case let .presence(lead): String(decoding: try JSONEncoder().encode(LeadPresence(lead: lead)), as: UTF8.self)
            }
        }
    }

    static let nonSnapshotEvents: [StreamEvent] = [
        .mutations(Mutations(texts: [.init(id: 8, text: "x")])),
        .input(.init(id: 4, value: "hunter2")),
        .scroll(.init(id: 0, x: 0, y: 10)),
        .viewport(Viewport(w: 800, h: 600)),
        .cursor(.init(x: 1, y: 2)),
        .click(.init(x: 1, y: 2, id: 7)),
        .resumed(.init(url: "https://shop.example")),
    ]

    // MARK: Snapshots

    @Test func snapshotIsForwardedMaskedWithoutScriptsAsViewSeqOne() throws {
        var h = Harness()
        let frame = try Self.onlyView(h.sendSnapshot())
        #expect(frame.seq == 1)
        guard case let .snapshot(snapshot) = frame.event else {
            Issue.record("expected a snapshot, got \(frame.event)")
            return
        }
        #expect(snapshot.root == Self.maskedPage())
        #expect(snapshot.url == "https://shop.example/login")
        #expect(snapshot.title == "Login")
        #expect(snapshot.viewport == Viewport(w: 1280, h: 800))
        #expect(h.stream.hasSnapshot)
    }

    @Test func eachSnapshotCountsItsMaskingOnceInTheIncrements() throws {
        var h = Harness()
        _ = h.sendSnapshot()
        let first = h.stream.takeMaskingIncrement()
        #expect(first.maskedElements > 0)
        #expect(first.maskedValues > 0)
        #expect(h.stream.takeMaskingIncrement() == MaskingCounts(), "nothing new masked: an empty increment")
        _ = h.sendSnapshot()
        // The same page again: its elements counted once more, not the running total again.
        #expect(h.stream.takeMaskingIncrement() == first)
    }

    @Test func detectedFramesAreCountedForTheRecordBoundedAndNeverReachViewers() throws {
        var h = Harness()
        _ = h.sendSnapshot()
        _ = h.stream.takeMaskingIncrement()
        let outputs = h.send(.detected(.init(hits: ["card": 2, "made-up": 5, "email": -3, "iban": 1_000_000_000])))
        #expect(outputs.isEmpty, "a sharer's detector counts are not for viewers: \(outputs)")
        #expect(h.stream.takeMaskingIncrement().sdkDetectorHits == ["card": 2, "iban": SessionStream.maxDetectedPerFrame],
                "known detectors only, each bounded, never negative")
        // It took its place in the sequence: the next frame is no gap.
        #expect(Self.resyncs(h.send(.scroll(.init(id: 0, x: 0, y: 40)))).isEmpty)
    }

    @Test func snapshotMasksPasswordInBothValueAttributeAndValueProperty() throws {
        var h = Harness()
        let frame = try Self.onlyView(h.sendSnapshot())
        guard case let .snapshot(snapshot) = frame.event else { Issue.record("not a snapshot"); return }
        let password = try #require(Self.find(4, in: snapshot.root))
        #expect(password.attrs?["value"] == "****")
        #expect(password.value == "****")
        #expect(password.attrs?["type"] == "password")
    }

    @Test func snapshotDropsTheScriptSubtreeAndKeepsOtherContent() throws {
        var h = Harness()
        let frame = try Self.onlyView(h.sendSnapshot())
        guard case let .snapshot(snapshot) = frame.event else { Issue.record("not a snapshot"); return }
        #expect(Self.allIDs(snapshot.root) == [1, 2, 3, 4, 9, 7, 8, 10, 11])
        #expect(Self.find(8, in: snapshot.root)?.text == "Hello")
        #expect(Self.find(9, in: snapshot.root)?.value == "alice")
        #expect(Self.find(9, in: snapshot.root)?.attrs?["value"] == "alice")
        #expect(h.stream.treeNodes == 9)
    }

    @Test func snapshotDropsOnclickAndJavascriptHref() throws {
        var h = Harness()
        let frame = try Self.onlyView(h.sendSnapshot())
        guard case let .snapshot(snapshot) = frame.event else { Issue.record("not a snapshot"); return }
        let link = try #require(Self.find(10, in: snapshot.root))
        #expect(link.attrs == ["class": "link"])
    }

    @Test func snapshotWhoseRootIsDroppedAsksForResyncAndForwardsNothing() {
        var h = Harness()
        let outputs = h.sendSnapshot(.element(1, "script", [:], [.text(2, "steal()")]))
        #expect(Self.views(outputs).isEmpty)
        #expect(Self.resyncs(outputs).count == 1)
        #expect(!h.stream.hasSnapshot)
        h.advance(.seconds(5))
        #expect(Self.views(h.send(.viewport(Viewport(w: 1, h: 1)))).isEmpty)
    }

    @Test func aNewSnapshotReplacesTheMirror() throws {
        var h = Harness()
        h.sendSnapshot()
        let other = DOMNode.element(100, "html", [:], [.element(101, "body", [:], [.text(102, "Cart")])])
        _ = try Self.onlyView(h.sendSnapshot(other))
        #expect(h.stream.treeNodes == 3)
        #expect(h.send(.input(.init(id: 9, value: "bob"))).isEmpty)
        #expect(h.send(.mutations(Mutations(texts: [.init(id: 8, text: "old page")]))).isEmpty)
        #expect(try Self.mutations(h.send(.mutations(Mutations(texts: [.init(id: 102, text: "Checkout")])))).texts.map(\.text) == ["Checkout"])
    }

    @Test func noEncodedOutputEverContainsThePasswordOrScriptText() throws {
        var h = Harness()
        h.send(.input(.init(id: 4, value: "hunter2"))) // before the snapshot
        h.sendSnapshot()
        h.send(.input(.init(id: 4, value: "hunter2")))
        h.send(.mutations(Mutations(attrs: [.init(id: 4, name: "value", value: "hunter2")])))
        h.send(.mutations(Mutations(attrs: [.init(id: 4, name: "type", value: "text")])))
        h.send(.input(.init(id: 4, value: "hunter2")))
        h.send(.mutations(Mutations(attrs: [.init(id: 7, name: "onclick", value: "steal()")])))
        h.send(.mutations(Mutations(texts: [.init(id: 6, text: "steal()")])))
        h.send(.mutations(Mutations(adds: [.init(parent: 2, node: .element(20, "script", [:], [.text(21, "steal()")]))])))
        var added = DOMNode.element(30, "input", ["type": "password", "value": "hunter2"])
        added.value = "hunter2"
        h.send(.mutations(Mutations(adds: [.init(parent: 3, node: added)])))
        h.send(.input(.init(id: 30, value: "hunter2")))

        #expect(Self.views(h.outputs).count >= 6, "the scenario should forward frames to inspect")
        for text in try Self.json(h.outputs) {
            #expect(!text.contains("hunter2"), "leaked: \(text)")
            #expect(!text.contains("steal()"), "leaked: \(text)")
        }
    }

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

    // MARK: Input

    @Test func inputOnAPasswordFieldIsMasked() throws {
        var h = Harness()
        h.sendSnapshot()
        let input = try Self.input(h.send(.input(.init(id: 4, value: "correct horse battery staple"))))
        #expect(input == .init(id: 4, value: "****"))
    }

    @Test func emptyInputOnAPasswordFieldStaysEmpty() throws {
        var h = Harness()
        h.sendSnapshot()
        #expect(try Self.input(h.send(.input(.init(id: 4, value: "")))) == .init(id: 4, value: ""))
    }

    @Test func inputOnATextFieldPassesUnchanged() throws {
        var h = Harness()
        h.sendSnapshot()
        let event = StreamEvent.Input(id: 9, value: "Bob Smith, 12 High Street")
        #expect(try Self.input(h.send(.input(event))) == event)
    }

    @Test func privateModeMasksEveryTextAndValueButWhatUnmaskSelectsAndRulesStillMaskThere() throws {
        var page = PageRules()
        page.mode = .private
        page.unmask = ["#public", "form"]
        page.mask = ["#public .secret"]
        let rules = CompiledPageRules(page)
        var field = DOMNode.element(6, "input", ["id": "q", "value": "shoes"])
        field.value = "shoes"
        var hidden = DOMNode.element(17, "input", ["id": "token", "type": "password", "value": "hunter2"])
        hidden.value = "hunter2"
        let root = DOMNode.element(1, "html", [:], [
            .element(12, "head", [:], [
                .element(13, "title", [:], [.text(14, "Account 123")]),
                .element(15, "style", [:], [.text(16, "p { color: red }")]),
            ]),
            .element(2, "body", [:], [
                .element(3, "p", ["title": "balance"], [.text(4, "Balance 1,234")]),
                .element(5, "div", ["id": "public"], [.text(7, "Opening hours"), .element(8, "span", ["class": "secret"], [.text(9, "code 77")])]),
                .element(10, "form", [:], [field, hidden]),
                .element(18, "img", ["src": "/photo.jpg", "alt": "me"]),
            ]),
        ])
        var stream = SessionStream()
        let frame = try Self.onlyView(stream.process(StreamFrame(seq: 1, Self.snapshot(root)), rules: { _ in rules }))
        guard case let .snapshot(snapshot) = frame.event else { throw Failure("expected a snapshot, got \(frame.event)") }
        let sent = snapshot.root
        func text(_ id: Int) -> String? { Self.find(id, in: sent)?.text }
        #expect(text(14) == "****", "the title, by the mode")
        #expect(text(16) == "p { color: red }", "a <style>'s CSS is the page's look")
        #expect(text(4) == "****")
        #expect(Self.find(3, in: sent)?.attrs?["title"] == "****")
        #expect(text(7) == "Opening hours", "under unmask")
        #expect(text(9) == "****", "a mask rule inside an unmasked region still masks")
        #expect(Self.find(6, in: sent)?.value == "shoes")
        #expect(Self.find(17, in: sent)?.value == "****", "built-ins still mask")
        #expect(Self.find(18, in: sent)?.attrs?["src"] == nil, "images under the mode are masked images")
        // Public mode (the default) with the same rules shows what no rule names.
        var publicStream = SessionStream()
        page.mode = .public
        let shown = try Self.onlyView(publicStream.process(StreamFrame(seq: 1, Self.snapshot(root)), rules: { _ in CompiledPageRules(page) }))
        guard case let .snapshot(publicSnapshot) = shown.event else { throw Failure("expected a snapshot") }
        #expect(Self.find(4, in: publicSnapshot.root)?.text == "Balance 1,234")
    }

    @Test func personalDataTypedIntoATextFieldIsMaskedByTheDetectors() throws {
        var h = Harness()
        h.sendSnapshot()
        let typed = StreamEvent.Input(id: 9, value: "mail bob@example.com, card 4111 1111 1111 1111")
        #expect(try Self.input(h.send(.input(typed))) == .init(id: 9, value: "mail ****, card ****"))
        #expect(h.stream.detectorHits == ["email": 1, "card": 1])
    }

    @Test(arguments: [5, 6, 999])
    func inputForAnUnknownOrDroppedNodeIsDropped(id: Int) throws {
        var h = Harness()
        h.sendSnapshot()
        #expect(h.send(.input(.init(id: id, value: "x"))).isEmpty)
        // The drop used its sharer seq: the stream carries on without a gap.
        let next = try Self.onlyView(h.send(.input(.init(id: 9, value: "y"))))
        #expect(next.seq == 2)
    }

    @Test func turningATextInputIntoAPasswordMasksLaterValues() throws {
        var h = Harness()
        h.sendSnapshot()
        let outputs = h.send(.mutations(Mutations(attrs: [.init(id: 9, name: "type", value: "password")])))
        // The change, then the field's current value ("alice") re-sent masked.
        let frames = Self.views(outputs)
        try #require(frames.count == 2, "\(outputs)")
        guard case let .mutations(change) = frames[0].event else { throw Failure("expected mutations, got \(frames[0])") }
        #expect(Set(change.attrs.map(\.name)) == ["value", "data-cb-masked", "type"])
        #expect(change.attrs.contains(.init(id: 9, name: "value", value: "****")))
        #expect(!change.attrs.contains { $0.value == "alice" })
        #expect(frames[1].event == .input(.init(id: 9, value: "****")))
        #expect(try Self.input(h.send(.input(.init(id: 9, value: "s3cret")))).value == "****")
    }

    /// The page with input 4 as the customer's page now has it: a "show password" toggle made it text.
    static func shownPasswordSnapshot(stream: String) -> StreamEvent {
        var root = page()
        var shown = DOMNode.element(4, "input", ["id": "pw", "type": "text", "value": "hunter2"])
        shown.value = "hunter2"
        root.children?[0].children?[0].children?[0] = shown
        var snapshot = StreamEvent.Snapshot(url: "https://shop.example/login", viewport: Viewport(w: 1280, h: 800), root: root)
        snapshot.stream = stream
        return .snapshot(snapshot)
    }

    @Test func aFieldThatWasAPasswordStaysMaskedInEveryLaterSnapshotOfTheConnection() throws {
        var h = Harness()
        var first = StreamEvent.Snapshot(url: "https://shop.example/login", viewport: Viewport(w: 1280, h: 800), root: Self.page())
        first.stream = "connection-1"
        h.nextSeq = 1
        h.send(.snapshot(first))
        h.send(.mutations(Mutations(attrs: [.init(id: 4, name: "type", value: "text")])))
        // A resync (an observer joined) on the same connection: the same page, the field now text.
        h.nextSeq = 1
        let resent = try #require(Self.views(h.send(Self.shownPasswordSnapshot(stream: "connection-1"))).first)
        guard case let .snapshot(snapshot) = resent.event else { throw Failure("expected a snapshot, got \(resent)") }
        let field = try #require(Self.find(4, in: snapshot.root))
        #expect(field.value == "****" && field.attrs?["value"] == "****", "a resync revealed a shown password: \(field)")
        #expect(try Self.input(h.send(.input(.init(id: 4, value: "hunter2")))).value == "****")
    }

    @Test func inputsNamedLikeSecretsHaveTheirValuesMaskedAndNothingElse() throws {
        var h = Harness()
        var pin = DOMNode.element(20, "input", ["name": "card_PIN", "type": "text", "value": "1234", "title": "Your PIN"])
        pin.value = "1234"
        var code = DOMNode.element(21, "input", ["id": "otpCode", "type": "tel", "value": "987654"])
        code.value = "987654"
        var root = Self.page()
        root.children?[0].children?.append(contentsOf: [pin, code])
        let sent = try #require(Self.views(h.sendSnapshot(root)).first)
        guard case let .snapshot(snapshot) = sent.event else { throw Failure("expected a snapshot") }
        for (id, secret) in [(20, "1234"), (21, "987654")] {
            let field = try #require(Self.find(id, in: snapshot.root))
            #expect(field.value == "****" && field.attrs?["value"] == "****", "value of \(id) sent: \(field)")
            #expect(!String(decoding: try JSONEncoder().encode(field), as: UTF8.self).contains(secret))
        }
        #expect(Self.find(20, in: snapshot.root)?.attrs?["title"] == "Your PIN", "only the value is masked")
        #expect(try Self.input(h.send(.input(.init(id: 20, value: "4321")))).value == "****")
        let change = try Self.mutations(h.send(.mutations(Mutations(attrs: [.init(id: 21, name: "value", value: "111111")]))))
        #expect(change.attrs == [.init(id: 21, name: "value", value: "****")])
        // The agent may not type what it cannot see.
        guard case let .view(dropped)? = h.stream.agentAction(.type(id: 20, value: "0000"), mode: .write).first,
              case let .actionDropped(notice) = dropped.event else { throw Failure("typing into a secret field was let through") }
        #expect(notice.reason == .maskedField)
        // Renamed to something harmless, the value would show: the stream waits for a snapshot.
        #expect(Self.resyncs(h.send(.mutations(Mutations(attrs: [.init(id: 20, name: "name", value: "nickname")])))).count == 1)
    }

    @Test func showPasswordToggleBackToTextStillMasks() throws {
        var h = Harness()
        h.sendSnapshot()
        _ = try Self.mutations(h.send(.mutations(Mutations(attrs: [.init(id: 4, name: "type", value: "text")]))))
        #expect(try Self.input(h.send(.input(.init(id: 4, value: "hunter2")))).value == "****")

        h.send(.mutations(Mutations(attrs: [.init(id: 9, name: "type", value: "PASSWORD")])))
        h.send(.mutations(Mutations(attrs: [.init(id: 9, name: "type", value: "text")])))
        #expect(try Self.input(h.send(.input(.init(id: 9, value: "s3cret")))).value == "****")
    }

    @Test func aMovedPasswordFieldStaysMaskedAfterAShowPasswordToggle() throws {
        var h = Harness()
        h.sendSnapshot()
        h.send(.mutations(Mutations(attrs: [.init(id: 4, name: "type", value: "text")])))
        // The page moves the (now type=text) field: one MutationObserver callback, same mirror id.
        var moved = DOMNode.element(4, "input", ["id": "pw", "type": "text"])
        moved.value = "hunter2"
        let move = try Self.mutations(h.send(.mutations(Mutations(adds: [.init(parent: 7, node: moved)], removes: [.init(id: 4)]))))
        #expect(move.adds.first?.node.value == "****")
        #expect(try Self.input(h.send(.input(.init(id: 4, value: "hunter2")))).value == "****")
    }

    @Test func valueSetInTheSameBatchThatMakesAFieldAPasswordIsMasked() throws {
        var h = Harness()
        h.sendSnapshot()
        // The value comes first in the batch, the type change second.
        let outputs = h.send(.mutations(Mutations(attrs: [
            .init(id: 9, name: "value", value: "s3cret"), .init(id: 9, name: "type", value: "password"),
        ])))
        guard case let .mutations(batch)? = Self.views(outputs).first?.event else { throw Failure("expected mutations, got \(outputs)") }
        #expect(batch.attrs.contains(.init(id: 9, name: "value", value: "****")))
        #expect(try !Self.json(outputs).contains { $0.contains("s3cret") || $0.contains("alice") })
    }

    @Test func anAddedNodeReusingAKnownIdCannotOverwriteIt() throws {
        var h = Harness()
        h.sendSnapshot()
        // A child reusing the password field's id (4) would otherwise replace its mirror entry.
        let impostor = DOMNode.element(4, "input", ["type": "text"])
        let added = try Self.mutations(h.send(.mutations(Mutations(adds: [
            .init(parent: 7, node: .element(500, "div", [:], [impostor])),
        ]))))
        #expect(added.adds.first?.node.children?.isEmpty == true)
        #expect(try Self.input(h.send(.input(.init(id: 4, value: "hunter2")))).value == "****")
    }

    @Test func valueAttributeMutationOnAPasswordFieldIsMasked() throws {
        var h = Harness()
        h.sendSnapshot()
        let change = try Self.mutations(h.send(.mutations(Mutations(attrs: [.init(id: 4, name: "value", value: "hunter3")]))))
        #expect(change.attrs == [.init(id: 4, name: "value", value: "****")])
        let upper = try Self.mutations(h.send(.mutations(Mutations(attrs: [.init(id: 4, name: "VALUE", value: "hunter4")]))))
        #expect(upper.attrs == [.init(id: 4, name: "VALUE", value: "****")])
    }

    @Test func valueAttributeMutationOnATextFieldPassesUnchanged() throws {
        var h = Harness()
        h.sendSnapshot()
        let change = try Self.mutations(h.send(.mutations(Mutations(attrs: [.init(id: 9, name: "value", value: "bob")]))))
        #expect(change.attrs == [.init(id: 9, name: "value", value: "bob")])
    }

    @Test func removingAnAttributeIsForwardedAsNil() throws {
        var h = Harness()
        h.sendSnapshot()
        let change = try Self.mutations(h.send(.mutations(Mutations(attrs: [.init(id: 4, name: "value", value: nil)]))))
        #expect(change.attrs == [.init(id: 4, name: "value", value: nil)])
    }

    // MARK: Mutations

    @Test func addedSubtreeLosesItsScriptButKeepsTheRest() throws {
        var h = Harness()
        h.sendSnapshot()
        let node = DOMNode.element(20, "div", ["class": "promo"], [
            .element(21, "script", [:], [.text(22, "steal()")]),
            .element(23, "span", [:], [.text(24, "Sale")]),
        ])
        let change = try Self.mutations(h.send(.mutations(Mutations(adds: [.init(parent: 2, node: node)]))))
        let expected = DOMNode.element(20, "div", ["class": "promo"], [.element(23, "span", [:], [.text(24, "Sale")])])
        #expect(change.adds == [.init(parent: 2, node: expected)])
        #expect(h.stream.tree.contains(24))
        #expect(!h.stream.tree.contains(21))
        #expect(!h.stream.tree.contains(22))
    }

    @Test func addingOnlyAScriptForwardsNothing() {
        var h = Harness()
        h.sendSnapshot()
        #expect(h.send(.mutations(Mutations(adds: [.init(parent: 2, node: .element(20, "SCRIPT", [:], [.text(21, "steal()")]))]))).isEmpty)
        #expect(h.send(.mutations(Mutations(adds: [.init(parent: 2, node: .element(22, "object", ["data": "x.swf"]))]))).isEmpty)
    }

    @Test func laterChangesToADroppedScriptAreDropped() {
        var h = Harness()
        h.sendSnapshot()
        h.send(.mutations(Mutations(adds: [.init(parent: 2, node: .element(20, "div", [:], [.element(21, "script", [:], [.text(22, "a()")])]))])))
        // The snapshot's script (5 > 6) and the added one (21 > 22).
        #expect(h.send(.mutations(Mutations(texts: [.init(id: 6, text: "steal()")]))).isEmpty)
        #expect(h.send(.mutations(Mutations(texts: [.init(id: 22, text: "steal()")]))).isEmpty)
        #expect(h.send(.mutations(Mutations(adds: [.init(parent: 5, node: .text(30, "steal()"))]))).isEmpty)
        #expect(h.send(.mutations(Mutations(adds: [.init(parent: 21, node: .element(31, "span", [:], [.text(32, "x")]))]))).isEmpty)
        #expect(h.send(.mutations(Mutations(attrs: [.init(id: 5, name: "src", value: "https://evil.example/x.js")]))).isEmpty)
        #expect(!h.stream.tree.contains(30))
        #expect(!h.stream.tree.contains(31))
    }

    @Test func addedPasswordFieldIsMasked() throws {
        var h = Harness()
        h.sendSnapshot()
        var field = DOMNode.element(40, "input", ["type": "Password", "value": "hunter2"])
        field.value = "hunter2"
        let change = try Self.mutations(h.send(.mutations(Mutations(adds: [.init(parent: 3, node: field)]))))
        let added = try #require(change.adds.first?.node)
        #expect(added.attrs?["value"] == "****")
        #expect(added.value == "****")
        #expect(try Self.input(h.send(.input(.init(id: 40, value: "x")))).value == "****")
    }

    @Test func removingANodeRemovesItsWholeSubtree() throws {
        var h = Harness()
        h.sendSnapshot()
        let change = try Self.mutations(h.send(.mutations(Mutations(removes: [.init(id: 2)]))))
        #expect(change.removes == [.init(id: 2)])
        #expect(h.stream.treeNodes == 1)
        // Grandchildren of the removed body: the p's text, the form's inputs.
        #expect(h.send(.mutations(Mutations(texts: [.init(id: 8, text: "changed")]))).isEmpty)
        #expect(h.send(.input(.init(id: 9, value: "bob"))).isEmpty)
        #expect(h.send(.mutations(Mutations(adds: [.init(parent: 7, node: .text(50, "x"))]))).isEmpty)
    }

    @Test func removingAnUnknownNodeForwardsNothing() {
        var h = Harness()
        h.sendSnapshot()
        #expect(h.send(.mutations(Mutations(removes: [.init(id: 5), .init(id: 999)]))).isEmpty)
    }

    @Test func textChangesOnKnownNodesPass() throws {
        var h = Harness()
        h.sendSnapshot()
        let change = try Self.mutations(h.send(.mutations(Mutations(texts: [.init(id: 8, text: "Welcome back"), .init(id: 6, text: "steal()")]))))
        #expect(change == Mutations(texts: [.init(id: 8, text: "Welcome back")]))
    }

    @Test func addedNodeGoesBeforeAKnownSiblingAndAppendsAfterADroppedOne() throws {
        var h = Harness()
        h.sendSnapshot()
        let before = try Self.mutations(h.send(.mutations(Mutations(adds: [.init(parent: 2, next: 7, node: .text(60, "a"))]))))
        #expect(before.adds.first?.next == 7)
        let afterScript = try Self.mutations(h.send(.mutations(Mutations(adds: [.init(parent: 2, next: 5, node: .text(61, "b"))]))))
        #expect(afterScript.adds.count == 1)
        #expect(afterScript.adds.first?.next == nil)
    }

    // MARK: Event handlers and script URLs

    @Test func onclickAttributeMutationsNeverPass() {
        var h = Harness()
        h.sendSnapshot()
        #expect(h.send(.mutations(Mutations(attrs: [.init(id: 7, name: "onclick", value: "steal()")]))).isEmpty)
        #expect(h.send(.mutations(Mutations(attrs: [.init(id: 7, name: "OnMouseOver", value: "steal()")]))).isEmpty)
    }

    @Test func onclickIsStrippedFromAMixedMutation() throws {
        var h = Harness()
        h.sendSnapshot()
        let change = try Self.mutations(h.send(.mutations(Mutations(attrs: [
            .init(id: 7, name: "onclick", value: "steal()"),
            .init(id: 7, name: "class", value: "lead"),
        ]))))
        #expect(change.attrs == [.init(id: 7, name: "class", value: "lead")])
    }

    @Test func onclickInAnAddedSubtreeIsStripped() throws {
        var h = Harness()
        h.sendSnapshot()
        let node = DOMNode.element(70, "button", ["onclick": "steal()", "class": "buy"], [.text(71, "Buy")])
        let change = try Self.mutations(h.send(.mutations(Mutations(adds: [.init(parent: 2, node: node)]))))
        #expect(change.adds.first?.node.attrs == ["class": "buy"])
    }

    @Test func shadowRootContentIsSanitizedLikeChildren() throws {
        var h = Harness()
        var field = DOMNode.element(23, "input", ["type": "password", "value": "hunter2"])
        field.value = "hunter2"
        var host = DOMNode.element(20, "login-widget", ["onclick": "steal()"])
        host.shadow = [.element(21, "script", [:], [.text(22, "steal()")]), field]
        let frame = try Self.onlyView(h.sendSnapshot(.element(1, "html", [:], [.element(2, "body", [:], [host])])))
        guard case let .snapshot(snapshot) = frame.event else { Issue.record("not a snapshot"); return }
        let widget = try #require(Self.find(20, in: snapshot.root))
        #expect(widget.attrs == [:])
        #expect(widget.shadow?.map(\.id) == [23])
        #expect(widget.shadow?.first?.value == "****")
        #expect(widget.shadow?.first?.attrs?["value"] == "****")
        #expect(try Self.input(h.send(.input(.init(id: 23, value: "x")))).value == "****")
    }

    @Test func svgAnimationCannotSetAJavascriptURL() throws {
        var h = Harness()
        let link = DOMNode.element(3, "a", [:], [
            .element(4, "set", ["attributeName": "href", "to": "javascript:steal()"]),
            .element(5, "animate", ["attributeName": "href", "values": "javascript:steal()"]),
            .text(6, "Click"),
        ])
        h.sendSnapshot(.element(1, "html", [:], [.element(2, "svg", [:], [link])]))
        h.send(.mutations(Mutations(adds: [.init(parent: 3, node: .element(7, "set", ["attributeName": "href", "to": "javascript:steal()"]))])))
        #expect(!Self.views(h.outputs).isEmpty, "the snapshot itself is forwarded")
        for text in try Self.json(h.outputs) {
            #expect(!text.lowercased().contains("javascript:"), "leaked: \(text)")
        }
    }

    @Test func javascriptHrefMutationIsNotForwardedButAnOrdinaryOneIs() throws {
        var h = Harness()
        h.sendSnapshot()
        #expect(h.send(.mutations(Mutations(attrs: [.init(id: 10, name: "href", value: " JavaScript:steal()")]))).isEmpty)
        let ok = try Self.mutations(h.send(.mutations(Mutations(attrs: [.init(id: 10, name: "href", value: "https://shop.example/")]))))
        #expect(ok.attrs == [.init(id: 10, name: "href", value: "https://shop.example/")])
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

    // MARK: Pointer, scroll and pass-through events

    @Test func clickOnAnUnknownTargetIsForwardedWithoutItsId() throws {
        var h = Harness()
        h.sendSnapshot()
        #expect(try Self.onlyView(h.send(.click(.init(x: 5, y: 6, id: 999)))).event == .click(.init(x: 5, y: 6, id: nil)))
        #expect(try Self.onlyView(h.send(.click(.init(x: 5, y: 6, id: 5)))).event == .click(.init(x: 5, y: 6, id: nil)))
    }

    @Test func clickOnAKnownTargetKeepsItsId() throws {
        var h = Harness()
        h.sendSnapshot()
        #expect(try Self.onlyView(h.send(.click(.init(x: 5, y: 6, id: 7)))).event == .click(.init(x: 5, y: 6, id: 7)))
        #expect(try Self.onlyView(h.send(.click(.init(x: 5, y: 6)))).event == .click(.init(x: 5, y: 6)))
    }

    @Test func scrollOfAnUnknownElementIsDropped() {
        var h = Harness()
        h.sendSnapshot()
        #expect(h.send(.scroll(.init(id: 999, x: 0, y: 100))).isEmpty)
        #expect(h.send(.scroll(.init(id: 5, x: 0, y: 100))).isEmpty)
    }

    @Test func scrollOfThePageOrAKnownElementIsForwarded() throws {
        var h = Harness()
        h.sendSnapshot()
        #expect(try Self.onlyView(h.send(.scroll(.init(id: 0, x: 0, y: 100)))).event == .scroll(.init(id: 0, x: 0, y: 100)))
        #expect(try Self.onlyView(h.send(.scroll(.init(id: 7, x: 3, y: 4)))).event == .scroll(.init(id: 7, x: 3, y: 4)))
    }

    @Test(arguments: [
        StreamEvent.viewport(Viewport(w: 390, h: 844)),
        .cursor(.init(x: 10.5, y: 20.25)),
        .paused(.init(url: "https://bank.example/")),
        .resumed(.init(url: "https://shop.example/cart")),
    ])
    func viewportCursorPausedAndResumedPassThrough(event: StreamEvent) throws {
        var h = Harness()
        h.sendSnapshot()
        let frame = try Self.onlyView(h.send(event))
        #expect(frame == StreamFrame(seq: 2, event))
    }
}
