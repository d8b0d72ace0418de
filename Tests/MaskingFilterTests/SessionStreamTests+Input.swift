import CobrowseProtocol
import Foundation
import MaskingRules
@testable import MaskingFilter
import Testing

extension SessionStreamTests {
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
        // A child reusing the password field's id (4) would otherwise replace its entry in the masked tree.
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
}
