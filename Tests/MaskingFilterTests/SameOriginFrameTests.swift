import CobrowseProtocol
import Foundation
@testable import MaskingFilter
import MaskingRules
import Testing

/// A same-origin frame's document, masked by the rules like the page around it.
@Suite struct SameOriginFrameTests {
    static func page(frameClass: String) -> DOMNode {
        var frame = DOMNode.element(3, "iframe", ["class": frameClass, "src": "/embedded/statement"])
        frame.frame = [.element(10, "html", [:], [.element(11, "body", [:], [
            .element(12, "p", ["class": "ssn"], [.text(13, "FRAME-SSN")]),
            .element(14, "p", [:], [.text(15, "FRAME-TEXT")]),
            .element(16, "script", [:], [.text(17, "FRAME-SCRIPT")]),
        ])])]
        return .element(1, "html", [:], [.element(2, "body", [:], [frame])])
    }

    @Test func aFramesDocumentIsMaskedByTheRulesAndItsScriptsDropped() throws {
        var session = MaskingEnforcementTests.Session()
        let root = session.snapshot(Self.page(frameClass: "plain"))
        #expect(MaskingEnforcementTests.find(3, in: root)?.attrs?["src"] == nil, "the agent's browser never loads the frame itself")
        #expect(MaskingEnforcementTests.find(3, in: root)?.frame?.first?.id == 10)
        #expect(!session.json.contains("FRAME-SSN") && !session.json.contains("FRAME-SCRIPT"))
        #expect(session.json.contains("FRAME-TEXT"))
        // Changes inside the frame are followed, and masked like any others.
        session.send(.mutations(.init(adds: [.init(parent: 12, node: .text(20, "FRAME-SSN-2"))], texts: [.init(id: 15, text: "FRAME-TEXT-2")])))
        #expect(!session.json.contains("FRAME-SSN-2") && session.json.contains("FRAME-TEXT-2"))
    }

    @Test func aMaskedFrameMasksItsWholeDocument() {
        var session = MaskingEnforcementTests.Session()
        _ = session.snapshot(Self.page(frameClass: "cobrowse-mask"))
        #expect(!session.json.contains("FRAME-TEXT"))
        var blocked = MaskingEnforcementTests.Session()
        _ = blocked.snapshot(Self.page(frameClass: "cobrowse-block"))
        #expect(!blocked.json.contains("FRAME-") && !blocked.json.contains("\"frame\""))
    }
}
