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

    @Test func aNewSnapshotReplacesTheMaskedTree() throws {
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

}
