import CobrowseProtocol
import Foundation
import Testing

/// The wire form of stream frames: flat JSON with `t` and `seq`, every event case round-trips.
@Suite struct StreamFrameCodingTests {
    static func roundTrip(_ frame: StreamFrame) throws -> StreamFrame {
        try JSONDecoder().decode(StreamFrame.self, from: JSONEncoder().encode(frame))
    }

    static func object(_ frame: StreamFrame) throws -> [String: Any] {
        let data = try JSONEncoder().encode(frame)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func decode(_ json: String) throws -> StreamFrame {
        try JSONDecoder().decode(StreamFrame.self, from: Data(json.utf8))
    }

    static let richRoot: DOMNode = {
        var input = DOMNode(id: 4, type: .element, tag: "input", attrs: ["type": "checkbox"], children: [], value: "on", checked: true)
        input.scroll = Point(x: 0, y: 12.5)
        var host = DOMNode.element(5, "my-widget")
        host.shadow = [.text(6, "in the shadow")]
        return .element(1, "html", ["lang": "ja"], [
            .element(2, "body", [:], [
                input, host,
                DOMNode(id: 7, type: .comment, text: " a comment "),
                DOMNode(id: 8, type: .element, tag: "style", attrs: [:], children: [], text: "p { color: red }"),
            ]),
        ])
    }()

    static let everyEvent: [StreamEvent] = [
        .snapshot(.init(url: "https://shop.example/", title: "Shop", doctype: "html", viewport: Viewport(w: 1280, h: 800),
                        scroll: Point(x: 0, y: 300), root: richRoot)),
        .snapshot(.init(url: "https://shop.example/", title: nil, doctype: nil, viewport: Viewport(w: 1, h: 1), root: .text(1, "x"))),
        .mutations(.init(
            adds: [.init(parent: 2, next: 9, node: .element(10, "p", ["class": "a"], [.text(11, "new")])), .init(parent: 2, node: .text(12, "x"))],
            removes: [.init(id: 3)],
            attrs: [.init(id: 4, name: "class", value: "b"), .init(id: 4, name: "hidden", value: nil)],
            texts: [.init(id: 11, text: "changed")]
        )),
        .mutations(.init()),
        .input(.init(id: 4, value: "typed")),
        .input(.init(id: 5, checked: false)),
        .input(.init(id: 6, selected: [0, 2])),
        .scroll(.init(id: 0, x: 0, y: 1234.5)),
        .viewport(Viewport(w: 390, h: 844)),
        .viewport(Viewport(w: 390, h: 844, visual: VisualViewport(x: 40, y: 300.5, w: 195, h: 250, scale: 2))),
        .cursor(.init(x: 10, y: 20)),
        .click(.init(x: 10, y: 20, id: 7)),
        .click(.init(x: 10, y: 20)),
        .paused(.init(url: "https://bank.example/")),
        .resumed(.init(url: "https://shop.example/cart")),
    ]

    @Test(arguments: everyEvent)
    func everyEventRoundTripsThroughJSON(event: StreamEvent) throws {
        let frame = StreamFrame(seq: 42, event)
        #expect(try Self.roundTrip(frame) == frame)
    }

    @Test func everyEventCaseIsCovered() {
        #expect(Set(Self.everyEvent.map(\.type)) == ["snapshot", "mutations", "input", "scroll", "viewport", "cursor", "click", "paused", "resumed"])
    }

    @Test(arguments: everyEvent)
    func wireFormIsFlatWithTypeAndSeq(event: StreamEvent) throws {
        let object = try Self.object(StreamFrame(seq: 7, event))
        #expect(object["t"] as? String == event.type)
        #expect(object["seq"] as? Int == 7)
        #expect(object["event"] == nil)
    }

    @Test func inputFrameFieldsSitBesideTypeAndSeq() throws {
        let object = try Self.object(StreamFrame(seq: 3, .input(.init(id: 4, value: "x"))))
        #expect(Set(object.keys) == ["t", "seq", "id", "value"])
        #expect(object["id"] as? Int == 4)
        #expect(object["value"] as? String == "x")
    }

    @Test func flatInputFrameDecodes() throws {
        let frame = try Self.decode(#"{"t":"input","seq":3,"id":4,"value":"x"}"#)
        #expect(frame == StreamFrame(seq: 3, .input(.init(id: 4, value: "x"))))
    }

    @Test func flatViewportAndSnapshotFramesDecode() throws {
        #expect(try Self.decode(#"{"t":"viewport","seq":2,"w":800,"h":600}"#) == StreamFrame(seq: 2, .viewport(Viewport(w: 800, h: 600))))
        let snapshot = try Self.decode("""
            {"t":"snapshot","seq":1,"url":"https://x/","viewport":{"w":1,"h":2},"scroll":{"x":0,"y":0},
             "root":{"id":1,"type":"element","tag":"html","children":[{"id":2,"type":"text","text":"hi"}]}}
            """)
        let root = DOMNode(id: 1, type: .element, tag: "html", children: [.text(2, "hi")])
        #expect(snapshot == StreamFrame(seq: 1, .snapshot(.init(url: "https://x/", doctype: nil, viewport: Viewport(w: 1, h: 2), root: root))))
    }

    @Test func aPinchZoomedVisualViewportDecodesBesideTheLayoutViewport() throws {
        let frame = try Self.decode(#"{"t":"viewport","seq":3,"w":390,"h":844,"visual":{"x":10,"y":20,"w":195,"h":422,"scale":2}}"#)
        #expect(frame == StreamFrame(seq: 3, .viewport(Viewport(w: 390, h: 844, visual: VisualViewport(x: 10, y: 20, w: 195, h: 422, scale: 2)))))
    }

    @Test(arguments: [#""scale":0"#, #""scale":-1"#, #""scale":1000"#])
    func aVisualViewportWithAScaleNoScreenHasFailsToDecode(scale: String) {
        #expect(throws: DecodingError.self) {
            try Self.decode(#"{"t":"viewport","seq":3,"w":390,"h":844,"visual":{"x":0,"y":0,"w":195,"h":422,"# + scale + "}}")
        }
    }

    @Test func aVisualViewportWithoutSizeFailsToDecode() {
        #expect(throws: DecodingError.self) {
            try Self.decode(#"{"t":"viewport","seq":3,"w":390,"h":844,"visual":{"x":0,"y":0,"w":0,"h":422,"scale":1}}"#)
        }
    }

    @Test func unknownFrameTypeFailsToDecode() {
        #expect(throws: DecodingError.self) {
            try Self.decode(#"{"t":"keylog","seq":3,"id":4,"value":"x"}"#)
        }
    }

    @Test func missingSeqFailsToDecode() {
        #expect(throws: DecodingError.self) {
            try Self.decode(#"{"t":"input","id":4,"value":"x"}"#)
        }
    }

    @Test func missingTypeFailsToDecode() {
        #expect(throws: DecodingError.self) {
            try Self.decode(#"{"seq":3,"id":4,"value":"x"}"#)
        }
    }

    @Test func frameMissingItsEventFieldsFailsToDecode() {
        #expect(throws: DecodingError.self) {
            try Self.decode(#"{"t":"scroll","seq":3,"id":0}"#)
        }
    }

    @Test func japaneseTextSurvivesARoundTripByteExact() throws {
        let text = "日本語のテキスト、カート"
        let frame = StreamFrame(seq: 5, .mutations(.init(texts: [.init(id: 8, text: text)])))
        let data = try JSONEncoder().encode(frame)
        #expect(data.range(of: Data(text.utf8)) != nil, "the UTF-8 bytes appear as-is on the wire")
        let decoded = try JSONDecoder().decode(StreamFrame.self, from: data)
        guard case let .mutations(mutations) = decoded.event else {
            Issue.record("expected mutations, got \(decoded.event)")
            return
        }
        #expect(Array(mutations.texts.first?.text.utf8 ?? "".utf8) == Array(text.utf8))
    }

    @Test func japaneseTextInASnapshotSurvivesARoundTrip() throws {
        let text = "日本語のテキスト、カート"
        let frame = StreamFrame(seq: 1, .snapshot(.init(url: "https://shop.example/カート", title: text, viewport: Viewport(w: 1, h: 1),
                                                         root: .element(1, "p", ["title": text], [.text(2, text)]))))
        let decoded = try Self.roundTrip(frame)
        #expect(decoded == frame)
        guard case let .snapshot(snapshot) = decoded.event else { Issue.record("not a snapshot"); return }
        #expect(Array(snapshot.title?.utf8 ?? "".utf8) == Array(text.utf8))
        #expect(Array(snapshot.root.children?.first?.text?.utf8 ?? "".utf8) == Array(text.utf8))
    }

    @Test func resyncRequestEncodesItsType() throws {
        let data = try JSONEncoder().encode(ResyncRequest(reason: "no snapshot yet"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["t"] as? String == "resync")
        #expect(object["reason"] as? String == "no snapshot yet")
    }
}
