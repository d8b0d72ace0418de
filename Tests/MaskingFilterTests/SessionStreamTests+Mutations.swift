import CobrowseProtocol
import Foundation
import MaskingRules
@testable import MaskingFilter
import Testing

extension SessionStreamTests {
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
