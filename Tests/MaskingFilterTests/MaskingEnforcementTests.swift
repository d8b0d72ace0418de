import CobrowseProtocol
import Foundation
@testable import MaskingFilter
import MaskingRules
import Testing

/// The masking rules as the filter enforces them, on every path data can take.
@Suite struct MaskingEnforcementTests {
    typealias Mutations = StreamEvent.Mutations

    static let rulesFile = """
    {"version": 1, "rules": [
      {"site": "*", "mask": ["#account", ".ssn", "[data-secret]"], "maskImages": ["img.id-photo"], "block": ["#chat"],
       "noAgent": ["#delete"]},
      {"site": "https://bank.example", "urls": ["/statement*"], "maskPage": true}
    ]}
    """

    static func rules(_ url: String) -> CompiledPageRules {
        CompiledPageRules(try! MaskingRules(json: Data(rulesFile.utf8)).page(for: url))
    }

    /// html(1) > body(2) > [ div#account(3) > [text(4 "ACCT-111"), span(5, title "T-SECRET") > text(6 "inner")],
    ///   p(7) > text(8 "public"), div#chat(9) > text(10 "CHAT-SECRET"), img.id-photo(11, src),
    ///   textarea(12, value "TA-SECRET") in div.ssn(13), input(14, hidden, "H-SECRET"),
    ///   input(15, autocomplete "billing cc-number", "4111"), button#delete(16), form(17) > button(18),
    ///   div(19, data-cb-masked forged) ]
    static func page() -> DOMNode {
        var textarea = DOMNode.element(12, "textarea", [:], [.text(20, "TA-DEFAULT")])
        textarea.value = "TA-SECRET"
        var hidden = DOMNode.element(14, "input", ["type": "hidden", "value": "H-SECRET"])
        hidden.value = "H-SECRET"
        var card = DOMNode.element(15, "input", ["autocomplete": "billing cc-number"])
        card.value = "4111"
        var photo = DOMNode.element(11, "img", ["class": "id-photo", "src": "https://bank.example/ID-URL.png", "alt": "ALT-SECRET"])
        photo.rect = Size(w: 120, h: 80)
        var chat = DOMNode.element(9, "div", ["id": "chat", "class": "box", "data-x": "y"], [.text(10, "CHAT-SECRET")])
        chat.rect = Size(w: 300, h: 200)
        return .element(1, "html", [:], [
            .element(2, "body", [:], [
                .element(3, "div", ["id": "account", "data-number": "DATA-SECRET"], [
                    .text(4, "ACCT-111"), .element(5, "span", ["title": "T-SECRET", "aria-label": "ARIA-SECRET"], [.text(6, "inner")]),
                ]),
                .element(7, "p", [:], [.text(8, "public")]),
                chat, photo,
                .element(13, "div", ["class": "ssn"], [textarea]),
                hidden, card,
                .element(16, "button", ["id": "delete"]),
                .element(17, "form", [:], [.element(18, "button", [:], [.text(21, "Pay")])]),
                .element(19, "div", ["data-cb-masked": "", "data-cb-noagent": ""], [.text(22, "forged markers")]),
            ]),
        ])
    }

    static let secrets = ["ACCT-111", "T-SECRET", "ARIA-SECRET", "DATA-SECRET", "CHAT-SECRET", "ID-URL", "ALT-SECRET", "TA-SECRET",
                          "TA-DEFAULT", "H-SECRET", "4111", "inner"]

    struct Session {
        var stream = SessionStream()
        var seq = 0
        var outputs: [SessionStream.Output] = []

        @discardableResult
        mutating func send(_ event: StreamEvent, url: String = "https://shop.example/checkout") -> [SessionStream.Output] {
            if case .snapshot = event { seq = 0 }
            seq += 1
            let result = stream.process(StreamFrame(seq: seq, event), now: .now, rules: MaskingEnforcementTests.rules)
            outputs += result
            return result
        }

        mutating func snapshot(_ root: DOMNode = MaskingEnforcementTests.page(), url: String = "https://shop.example/checkout") -> DOMNode? {
            let outputs = send(.snapshot(.init(url: url, viewport: Viewport(w: 1, h: 1), root: root)))
            guard case let .view(frame)? = outputs.first, case let .snapshot(snapshot) = frame.event else { return nil }
            return snapshot.root
        }

        /// Everything sent to viewers so far, as JSON text.
        var json: String {
            outputs.compactMap { output -> String? in
                guard case let .view(frame) = output else { return nil }
                return String(decoding: try! JSONEncoder().encode(frame), as: UTF8.self)
            }.joined(separator: "\n")
        }

        var views: [StreamEvent] {
            outputs.compactMap { if case let .view(frame) = $0 { frame.event } else { nil } }
        }
    }

    static func find(_ id: Int, in node: DOMNode?) -> DOMNode? {
        guard let node else { return nil }
        if node.id == id { return node }
        for child in (node.children ?? []) + (node.shadow ?? []) {
            if let found = find(id, in: child) { return found }
        }
        return nil
    }

    // MARK: Snapshots

    @Test func aSnapshotCarriesNoSecretAndKeepsPublicText() throws {
        var session = Session()
        let root = session.snapshot()
        for secret in Self.secrets { #expect(!session.json.contains(secret), "\(secret) leaked") }
        #expect(Self.find(8, in: root)?.text == "public")
        #expect(Self.find(21, in: root)?.text == "Pay")
    }

    @Test func stylesheetsKeepTheirTextAndAddressesEvenOnMaskedPages() throws {
        var session = Session()
        var style = DOMNode.element(4, "style")
        style.text = ".inserted-by-script { color: red }"
        let page = DOMNode.element(1, "html", [:], [.element(2, "head", [:], [
            .element(3, "link", ["rel": "stylesheet", "href": "https://bank.example/site.css"]), style,
            .element(5, "svg", [:], [.element(6, "title", [:], [.text(7, "icon")])]),
        ])])
        let root = session.snapshot(page, url: "https://bank.example/statement")
        #expect(Self.find(3, in: root)?.attrs?["href"] == "https://bank.example/site.css")
        #expect(Self.find(4, in: root)?.text == "****", "masked with the page")
        var plain = Session()
        let plainRoot = plain.snapshot(page, url: "https://shop.example/")
        #expect(Self.find(4, in: plainRoot)?.text == ".inserted-by-script { color: red }")
    }

    @Test func maskedElementsKeepTheirShapeWithFixedPlaceholders() throws {
        var session = Session()
        let root = session.snapshot()
        let account = try #require(Self.find(3, in: root))
        #expect(account.attrs?["data-cb-masked"] == "")
        #expect(account.attrs?["data-number"] == "****")
        #expect(Self.find(4, in: root)?.text == "****")
        let span = Self.find(5, in: root)
        #expect(span?.attrs?["title"] == "****" && span?.attrs?["aria-label"] == "****")
        #expect(span?.attrs?["data-cb-masked"] == nil, "only the element the rule names is framed")
        #expect(Self.find(12, in: root)?.value == "****", "a textarea inside a masked element")
        #expect(Self.find(14, in: root)?.value == "****", "hidden inputs, always")
        #expect(Self.find(15, in: root)?.value == "****", "card numbers by autocomplete, always")
    }

    @Test func aBlockedElementIsAnEmptyBoxOfItsSize() throws {
        var session = Session()
        let chat = try #require(Self.find(9, in: session.snapshot()))
        #expect(chat.children?.isEmpty ?? true)
        #expect(chat.rect == Size(w: 300, h: 200))
        #expect(chat.attrs == ["id": "chat", "class": "box", "data-cb-blocked": ""])
        // Nothing can be added inside it, or changed in what was never admitted.
        session.send(.mutations(Mutations(adds: [.init(parent: 9, node: .text(30, "LATER-SECRET"))], texts: [.init(id: 10, text: "X")])))
        #expect(!session.json.contains("LATER-SECRET"))
        #expect(session.views.count == 1, "only the snapshot went out")
    }

    @Test func aMaskedImageLosesItsSourceAndKeepsItsSize() throws {
        var session = Session()
        let photo = try #require(Self.find(11, in: session.snapshot()))
        #expect(photo.attrs?["src"] == nil && photo.attrs?["data-cb-masked-image"] == "")
        #expect(photo.rect == Size(w: 120, h: 80))
        session.send(.mutations(Mutations(attrs: [.init(id: 11, name: "src", value: "https://bank.example/ID-URL-2.png")])))
        #expect(!session.json.contains("ID-URL"))
    }

    @Test func noAgentElementsAreMarkedAndPagesCannotForgeMarkers() throws {
        var session = Session()
        let root = session.snapshot()
        #expect(Self.find(16, in: root)?.attrs?["data-cb-noagent"] == "")
        #expect(Self.find(18, in: root)?.attrs?["data-cb-noagent"] == "", "a button without a type in a form submits it")
        #expect(Self.find(19, in: root)?.attrs == [:], "markers come from the filter only")
    }

    @Test func aPageMatchingAMaskPagePatternIsMaskedWhole() throws {
        var session = Session()
        let page = DOMNode.element(1, "html", [:], [.element(2, "body", [:], [
            .element(3, "p", [:], [.text(4, "BALANCE-SECRET")]), .element(5, "img", ["src": "/CHEQUE.png"]),
        ])])
        let root = session.snapshot(page, url: "https://bank.example/statement?month=11")
        #expect(!session.json.contains("BALANCE-SECRET") && !session.json.contains("CHEQUE"))
        #expect(Self.find(5, in: root)?.attrs?["data-cb-masked-image"] == "")

        var elsewhere = Session()
        _ = elsewhere.snapshot(page, url: "https://bank.example/help")
        #expect(elsewhere.json.contains("BALANCE-SECRET"), "other pages of the site are not masked whole")
    }

    // MARK: Later changes

    @Test func nodesAddedOrMovedUnderAMaskedAncestorAreMasked() throws {
        var session = Session()
        _ = session.snapshot()
        var input = DOMNode.element(31, "input", ["value": "ADDED-SECRET", "placeholder": "Your SSN"])
        input.value = "ADDED-SECRET"
        session.send(.mutations(Mutations(adds: [
            .init(parent: 3, node: .element(30, "b", ["data-k": "ADDED-DATA"], [.text(32, "ADDED-TEXT")])),
            .init(parent: 13, node: input),
        ])))
        // The public paragraph moves into the masked account box.
        session.send(.mutations(Mutations(adds: [.init(parent: 3, node: .element(7, "p", [:], [.text(8, "MOVED-PUBLIC")]))],
                                          removes: [.init(id: 7)])))
        for secret in ["ADDED-SECRET", "ADDED-DATA", "ADDED-TEXT", "MOVED-PUBLIC"] { #expect(!session.json.contains(secret), "\(secret)") }
        #expect(session.json.contains("Your SSN"), "placeholders are masked only when configured")
    }

    @Test func anElementThatBecomesMaskedHasItsCurrentContentMasked() throws {
        var session = Session()
        _ = session.snapshot()
        session.send(.input(.init(id: 0, value: "ignored")))
        let outputs = session.send(.mutations(Mutations(attrs: [.init(id: 7, name: "class", value: "ssn")])))
        guard case let .mutations(change)? = outputs.first.flatMap({ if case let .view(frame) = $0 { frame.event } else { nil } }) else {
            Issue.record("expected a mutations frame, got \(outputs)")
            return
        }
        #expect(change.texts == [.init(id: 8, text: "****")])
        #expect(change.attrs.contains(.init(id: 7, name: "data-cb-masked", value: "")))
        session.send(.mutations(Mutations(texts: [.init(id: 8, text: "NOW-SECRET")])))
        #expect(!session.json.contains("NOW-SECRET"))
    }

    @Test func anElementThatBecomesBlockedLosesItsContentAtTheAgent() throws {
        var session = Session()
        _ = session.snapshot()
        let outputs = session.send(.mutations(Mutations(attrs: [.init(id: 7, name: "data-cobrowse-block", value: "")])))
        guard case let .mutations(change)? = outputs.first.flatMap({ if case let .view(frame) = $0 { frame.event } else { nil } }) else {
            Issue.record("expected a mutations frame, got \(outputs)")
            return
        }
        #expect(change.removes == [.init(id: 8)])
        #expect(change.attrs.contains(.init(id: 7, name: "data-cb-blocked", value: "")))
        session.send(.mutations(Mutations(texts: [.init(id: 8, text: "AFTER-BLOCK")])))
        #expect(!session.json.contains("AFTER-BLOCK"))
    }

    @Test func liftingAMaskRevealsNothingAndWaitsForASnapshot() throws {
        var session = Session()
        _ = session.snapshot()
        let outputs = session.send(.mutations(Mutations(attrs: [.init(id: 13, name: "class", value: "plain")])))
        #expect(outputs.allSatisfy { if case .resync = $0 { true } else { false } }, "\(outputs)")
        #expect(!session.stream.hasSnapshot)
        #expect(!session.json.contains("TA-SECRET"))
    }

    @Test func maskedControlsSendNoChoicesAndOnlyMaskedValues() throws {
        var session = Session()
        var select = DOMNode.element(40, "select", [:], [.element(41, "option", ["value": "OPT-VALUE"], [.text(42, "OPT-TEXT")])])
        select.value = "OPT-VALUE"
        var check = DOMNode.element(43, "input", ["type": "checkbox"])
        check.checked = true
        let page = DOMNode.element(1, "html", [:], [.element(2, "body", [:], [
            .element(3, "div", ["data-cobrowse-mask": ""], [select, check, .element(44, "div", ["contenteditable": "true"], [.text(45, "EDIT-SECRET")])]),
        ])])
        let root = session.snapshot(page)
        #expect(Self.find(43, in: root)?.checked == nil)
        #expect(session.send(.input(.init(id: 43, checked: false))).isEmpty)
        #expect(session.send(.input(.init(id: 40, selected: [0]))).isEmpty)
        session.send(.input(.init(id: 40, value: "OPT-VALUE")))
        session.send(.mutations(Mutations(texts: [.init(id: 45, text: "EDIT-SECRET-2")])))
        for secret in ["OPT-VALUE", "OPT-TEXT", "EDIT-SECRET"] { #expect(!session.json.contains(secret), "\(secret)") }
    }

    @Test func shadowRootContentUnderAMaskIsMasked() throws {
        var session = Session()
        var host = DOMNode.element(3, "card-widget", ["class": "cobrowse-mask"])
        host.shadow = [.element(4, "span", [:], [.text(5, "SHADOW-SECRET")])]
        _ = session.snapshot(.element(1, "html", [:], [.element(2, "body", [:], [host])]))
        #expect(!session.json.contains("SHADOW-SECRET"))
    }

    @Test func newRulesStopTheStreamUntilASnapshotIsMaskedUnderThem() throws {
        var session = Session()
        _ = session.snapshot()
        let outputs = session.stream.rulesChanged(now: .now)
        #expect(outputs.count == 1 && !session.stream.hasSnapshot)
        #expect(session.send(.cursor(.init(x: 1, y: 1))).allSatisfy { if case .view = $0 { false } else { true } })
    }
}

/// What else a masked element carries: titles, labels, URLs, styles, choices.
@Suite struct MaskedAttributeTests {
    @Test func maskedElementsSendNoURLsChoicesOrStyleImagesAndTheTitleFollowsItsElement() throws {
        var session = MaskingEnforcementTests.Session()
        let page = DOMNode.element(1, "html", [:], [
            .element(2, "head", [:], [.element(3, "title", ["class": "cobrowse-mask"], [.text(4, "TITLE-SECRET")])]),
            .element(5, "body", [:], [
                .element(6, "div", ["data-cobrowse-mask": "", "style": "color: red; background: url(/AVATAR-SECRET.png) no-repeat"], [
                    .element(7, "a", ["href": "/accounts/HREF-SECRET", "aria-description": "DESC-SECRET"], [.text(8, "x")]),
                    .element(9, "select", [:], [.element(10, "option", ["label": "LABEL-SECRET", "selected": ""], [])]),
                    .element(11, "input", ["type": "checkbox", "checked": ""]),
                ]),
                .element(12, "picture", ["class": "gallery"], [
                    .element(13, "source", ["srcset": "/PICTURE-SECRET.webp"]), .element(14, "img", ["src": "/PICTURE-SECRET.jpg"]),
                ]),
            ]),
        ])
        let outputs = session.send(.snapshot(.init(url: "https://shop.example/", title: "TITLE-SECRET", viewport: Viewport(w: 1, h: 1),
                                                   root: page)))
        _ = outputs
        for secret in ["TITLE-SECRET", "AVATAR-SECRET", "HREF-SECRET", "DESC-SECRET", "LABEL-SECRET"] {
            #expect(!session.json.contains(secret), "\(secret)")
        }
        #expect(session.json.contains("color: red; background: none no-repeat"))
        #expect(!session.json.contains("\"checked\"") && !session.json.contains("\"selected\""))
        #expect(session.json.contains("PICTURE-SECRET"), "a picture nobody masked keeps its sources")

        var masked = MaskingEnforcementTests.Session()
        var rulesText = MaskingEnforcementTests.rulesFile
        rulesText = rulesText.replacingOccurrences(of: #""maskImages": ["img.id-photo"]"#, with: #""maskImages": ["img.id-photo", "picture.gallery"]"#)
        let rules = CompiledPageRules(try MaskingRules(json: Data(rulesText.utf8)).page(for: "https://shop.example/"))
        let result = masked.stream.process(StreamFrame(seq: 1, .snapshot(.init(url: "https://shop.example/", viewport: Viewport(w: 1, h: 1), root: page))),
                                           rules: { _ in rules })
        let json = String(decoding: try JSONEncoder().encode(result.compactMap { if case let .view(frame) = $0 { frame } else { nil } }), as: UTF8.self)
        #expect(!json.contains("PICTURE-SECRET"), "maskImages on the <picture> masks its img and its sources")
    }
}

/// Agent actions against the session's mode and the page's rules.
@Suite struct AgentActionPolicyTests {
    static func session() -> MaskingEnforcementTests.Session {
        var session = MaskingEnforcementTests.Session()
        _ = session.snapshot()
        return session
    }

    static func refusal(_ outputs: [SessionStream.Output]) -> ActionRefusal? {
        for case let .view(frame) in outputs {
            if case let .actionDropped(dropped) = frame.event { return dropped.reason }
        }
        return nil
    }

    @Test(arguments: [AgentAction.pointer(x: 1, y: 2), .annotate(x: 3, y: 4)])
    func pointingAndAnnotatingPassInEitherMode(action: AgentAction) {
        var session = Self.session()
        #expect(session.stream.agentAction(action, mode: .pointer) == [.action(action)])
        #expect(session.stream.agentAction(action, mode: .write) == [.action(action)])
    }

    @Test(arguments: [AgentAction.click(id: 7), .type(id: 7, value: "x"), .scroll(id: 0, x: 0, y: 9), .navigate(.back, url: nil)])
    func actingNeedsWriteMode(action: AgentAction) {
        var session = Self.session()
        #expect(Self.refusal(session.stream.agentAction(action, mode: .pointer)) == .pointerMode)
        #expect(session.stream.agentAction(action, mode: .write) == [.action(action)])
    }

    @Test func theRulesHoldInWriteMode() {
        var session = Self.session()
        #expect(Self.refusal(session.stream.agentAction(.click(id: 16), mode: .write)) == .disabledElement, "#delete is no-agent")
        #expect(Self.refusal(session.stream.agentAction(.click(id: 21), mode: .write)) == .disabledElement,
                "text inside a form's submit button")
        #expect(Self.refusal(session.stream.agentAction(.type(id: 15, value: "4242"), mode: .write)) == .maskedField)
        #expect(Self.refusal(session.stream.agentAction(.type(id: 12, value: "x"), mode: .write)) == .maskedField,
                "inside a masked element")
        #expect(Self.refusal(session.stream.agentAction(.click(id: 10), mode: .write)) == .unknownElement, "inside a blocked element")
        #expect(Self.refusal(session.stream.agentAction(.navigate(.url, url: "https://evil.example/"), mode: .write)) == .offSite)
        #expect(Self.refusal(session.stream.agentAction(.navigate(.url, url: "//evil.example/x"), mode: .write)) == .offSite)
        #expect(Self.refusal(session.stream.agentAction(.navigate(.url, url: "javascript:alert(1)"), mode: .write)) == .offSite)
        #expect(session.stream.agentAction(.navigate(.url, url: "/cart?x=1"), mode: .write) == [.action(.navigate(.url, url: "/cart?x=1"))])
    }

    @Test func clicksOnMaskedContentAndOnLinksLeavingTheSiteAreDropped() {
        var session = MaskingEnforcementTests.Session()
        let page = DOMNode.element(1, "html", [:], [.element(2, "body", [:], [
            .element(3, "a", ["href": "https://evil.example/"], [.element(4, "span")]),
            .element(5, "a", ["href": "/cart", "target": "_blank"]),
            .element(6, "a", ["href": "/cart"]),
            .element(7, "p", ["class": "ssn"]),
        ])])
        _ = session.snapshot(page)
        #expect(Self.refusal(session.stream.agentAction(.click(id: 4), mode: .write)) == .offSite, "a span inside an off-site link")
        #expect(Self.refusal(session.stream.agentAction(.click(id: 5), mode: .write)) == .offSite, "another window")
        #expect(session.stream.agentAction(.click(id: 6), mode: .write) == [.action(.click(id: 6))])
        #expect(Self.refusal(session.stream.agentAction(.click(id: 7), mode: .write)) == .maskedField)
    }

    @Test func droppedActionsAreToldInTheViewSequence() throws {
        var session = Self.session()
        let outputs = session.stream.agentAction(.click(id: 7), mode: .pointer)
        guard case let .view(frame)? = outputs.first else { throw Failure("expected a view frame, got \(outputs)") }
        #expect(frame.seq == 2, "after the snapshot, gap-free")
        #expect(String(decoding: try JSONEncoder().encode(frame), as: UTF8.self).contains("\"t\":\"action-dropped\""))
    }

    @Test func withoutAPageNothingActs() {
        var stream = SessionStream()
        #expect(Self.refusal(stream.agentAction(.click(id: 1), mode: .write)) == .noPage)
        #expect(stream.agentAction(.pointer(x: 0, y: 0), mode: .write) == [.action(.pointer(x: 0, y: 0))])
    }
}
