import MaskingRules
import Testing

/// A tiny element tree for matching: tag, attributes, parent.
final class TestElement: SelectableElement {
    let tagName: String
    let attributes: [String: String]
    let parentElement: TestElement?

    init(_ tag: String, _ attributes: [String: String] = [:], in parent: TestElement? = nil) {
        tagName = tag
        self.attributes = attributes
        parentElement = parent
    }

    func attribute(_ name: String) -> String? { attributes[name] }
}

@Suite struct CSSSelectorTests {
    // html > body > form#checkout.wide > div.row > input#card[type=text][name=card-number][data-secret]
    let html = TestElement("html")
    lazy var body = TestElement("body", ["class": "shop dark"], in: html)
    lazy var form = TestElement("form", ["id": "checkout", "class": "wide"], in: body)
    lazy var row = TestElement("div", ["class": "row"], in: form)
    lazy var card = TestElement("input", ["id": "card", "type": "text", "name": "card-number", "data-secret": ""], in: row)

    func matches(_ selector: String, _ element: TestElement) throws -> Bool {
        try CSSSelector(selector).matches(element)
    }

    @Test(arguments: ["input", "*", "#card", "input#card", "[data-secret]", "[type=text]", "[type=\"text\"]", "[name^=card]",
                      "[name$=number]", "[name*=d-n]", "form input", "form#checkout input[type=text]", "div.row > input",
                      ".wide .row > #card", "input:not([type=password])", ":not(.x)", "body.shop input", "[class~=row] > *",
                      "p, input", "html body form div input"])
    mutating func theCardFieldMatches(selector: String) throws {
        #expect(try matches(selector, card), "\(selector)")
    }

    @Test(arguments: ["textarea", "#Card", ".card", "[type=password]", "[name^=number]", "[name$=card]", "[name*=x]",
                      "form > input", "div.other input", "input:not([data-secret])", "input:not(#card, .y)", "section input",
                      "[name^=\"\"]", "body > input"])
    mutating func theCardFieldDoesNotMatch(selector: String) throws {
        #expect(try !matches(selector, card), "\(selector)")
    }

    @Test func typeAndOtherEnumeratedValuesMatchInAnyCaseAsInBrowsersButNamesDoNot() throws {
        let button = TestElement("button", ["type": "SUBMIT", "name": "Pay"])
        #expect(try CSSSelector("button[type=submit]").matches(button))
        #expect(try CSSSelector("[type^=Sub]").matches(button))
        #expect(try !CSSSelector("[name=pay]").matches(button), "name is compared as written")
        #expect(try CSSSelector("[name=Pay]").matches(button))
    }

    @Test mutating func descendantCombinatorsBacktrackToAHigherAncestor() throws {
        // `.shop div input`: the nearest div is .row, and .shop is further up; both are found.
        #expect(try matches(".shop div input", card))
        #expect(try matches("form * input", card))
        #expect(try !matches("form > div > div input", card))
    }

    @Test mutating func classesAreWholeWordsAndTagsIgnoreCase() throws {
        #expect(try matches("BODY.dark", body))
        #expect(try !matches("body.dar", body))
    }

    @Test(arguments: [
        ("input + label", "'+' combinator"), ("a ~ b", "'~' combinator"), ("a:hover", "':hover'"), ("::before", "pseudo-class"),
        ("[type|=en]", "attribute operator"), ("[type=a i]", "flags"), ("a:not(b c)", "compound selectors only"),
        ("", "expected a selector"), ("a,", "expected a selector"), ("#", "expected a name"), ("[unclosed", "unclosed"),
        ("a\\:b", "escapes"), ("a > > b", "expected a selector"), ("ns|a", "unexpected '|'"),
    ])
    func unsupportedSelectorsAreRefusedWithTheReason(selector: String, reason: String) {
        #expect {
            _ = try CSSSelector(selector)
        } throws: { error in
            "\(error)".contains(reason)
        }
    }
}

@Suite struct SelectorDependencyTests {
    @Test func aSelectorNamesTheAttributesItReads() throws {
        let selector = try CSSSelector("form#pay .card > input[name^=cc]:not([type=hidden]), [data-secret]")
        #expect(selector.referencedAttributes == ["id", "class", "name", "type", "data-secret"])
    }

    @Test func changesToAttributesNoRuleReadsNeedNoReclassification() {
        let rules = CompiledPageRules(PageRules())
        #expect(!rules.dependsOn(attribute: "style"))
        #expect(!rules.dependsOn(attribute: "value"))
        #expect(rules.dependsOn(attribute: "class"), "markers are classes too")
        #expect(rules.dependsOn(attribute: "TYPE"), "a field can become a password field")
        #expect(rules.dependsOn(attribute: "data-cobrowse-mask"))
    }
}
