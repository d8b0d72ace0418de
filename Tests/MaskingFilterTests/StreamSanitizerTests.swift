import CobrowseProtocol
@testable import MaskingFilter
import Testing

/// The pure rules of what may never reach an agent's browser, and how masked values look.
@Suite struct StreamSanitizerTests {
    // MARK: isScriptURL

    @Test(arguments: [
        "javascript:alert(1)",
        "JaVaScRiPt:x",
        "  javascript:x",
        "java\tscript:x",
        "java\nscript:x",
        "\u{0}javascript:x",
        "vbscript:x",
        "VBScript:x",
        "data:text/html,<script>alert(1)</script>",
        "data:image/svg+xml,<svg onload=alert(1)>",
        "DATA:IMAGE/SVG+XML;base64,PHN2Zz4=",
    ])
    func scriptURLsAreRecognisedHoweverDisguised(url: String) {
        #expect(StreamSanitizer.isScriptURL(url), "\(url.debugDescription) should be a script URL")
    }

    @Test(arguments: [
        "https://x/y",
        "/relative",
        "#anchor",
        "data:image/png;base64,AAA",
        "mailto:a@b",
        "",
    ])
    func ordinaryURLsAreNotScriptURLs(url: String) {
        #expect(!StreamSanitizer.isScriptURL(url), "\(url.debugDescription) should not be a script URL")
    }

    // MARK: allows(attribute:)

    @Test(arguments: ["onclick", "ONLOAD", "onmouseover", "OnError", "srcdoc", "SRCDOC"])
    func eventHandlersAndSrcdocAreRefusedWhateverTheirValue(name: String) {
        #expect(!StreamSanitizer.allows(attribute: name, value: "harmless()"))
        #expect(!StreamSanitizer.allows(attribute: name, value: nil))
    }

    @Test(arguments: ["href", "HREF", "src", "formaction", "action", "xlink:href"])
    func urlAttributesWithAScriptURLAreRefused(name: String) {
        #expect(!StreamSanitizer.allows(attribute: name, value: "javascript:alert(1)"))
        #expect(!StreamSanitizer.allows(attribute: name, value: " JAVA\tSCRIPT:alert(1)"))
    }

    @Test func urlAttributesWithAnOrdinaryURLAreAllowed() {
        #expect(StreamSanitizer.allows(attribute: "href", value: "https://shop.example/cart"))
        #expect(StreamSanitizer.allows(attribute: "src", value: "/img/logo.png"))
        #expect(StreamSanitizer.allows(attribute: "href", value: nil))
    }

    @Test func ordinaryAttributesAreAllowed() {
        #expect(StreamSanitizer.allows(attribute: "class", value: "btn primary"))
        #expect(StreamSanitizer.allows(attribute: "data-x", value: "javascript:looks-like-but-is-data"))
        #expect(StreamSanitizer.allows(attribute: "id", value: "main"))
    }

    // MARK: drops(tag:)

    @Test(arguments: ["script", "SCRIPT", "Script", "object", "embed", "base"])
    func codeRunningAndPageReplacingElementsAreDropped(tag: String) {
        #expect(StreamSanitizer.drops(tag: tag, attrs: [:]))
        #expect(StreamSanitizer.drops(tag: tag, attrs: nil))
    }

    @Test func refreshMetaIsDroppedWhateverItsCase() {
        #expect(StreamSanitizer.drops(tag: "meta", attrs: ["http-equiv": "Refresh", "content": "0;url=https://evil"]))
        #expect(StreamSanitizer.drops(tag: "META", attrs: ["HTTP-EQUIV": "refresh"]))
    }

    @Test func charsetMetaIsKept() {
        #expect(!StreamSanitizer.drops(tag: "meta", attrs: ["charset": "utf-8"]))
        #expect(!StreamSanitizer.drops(tag: "meta", attrs: ["http-equiv": "content-type", "content": "text/html"]))
    }

    @Test(arguments: ["div", "style", "link", "p", "input"])
    func ordinaryElementsAreKept(tag: String) {
        #expect(!StreamSanitizer.drops(tag: tag, attrs: [:]))
    }

    @Test func aNodeWithoutATagIsNotDropped() {
        #expect(!StreamSanitizer.drops(tag: nil, attrs: nil))
    }

    // MARK: isSensitive

    // MARK: mask

    @Test func maskIsFourAsterisks() {
        #expect(StreamSanitizer.mask == "****")
    }

    @Test(arguments: [1, 4, 5, 100])
    func anyNonEmptyValueMasksToTheSameFixedMask(length: Int) {
        #expect(StreamSanitizer.mask(ifNotEmpty: String(repeating: "a", count: length)) == "****")
        #expect(StreamSanitizer.maskText(String(repeating: "a", count: length)) == "****")
    }

    @Test func emptyValuesAndLayoutWhitespaceStayAsTheyAre() {
        #expect(StreamSanitizer.mask(ifNotEmpty: "") == "")
        #expect(StreamSanitizer.maskText("\n   \t") == "\n   \t")
        #expect(StreamSanitizer.maskText(" 4111 ") == "****")
    }

    @Test func framesNeverCarryTheSourceOfNestedFrames() {
        #expect(!StreamSanitizer.allows(attribute: "src", value: "https://shop.example/account", on: "iframe"))
        #expect(!StreamSanitizer.allows(attribute: "SRC", value: "/inbox", on: "frame"))
        #expect(StreamSanitizer.allows(attribute: "src", value: "/logo.png", on: "img"))
    }
}
