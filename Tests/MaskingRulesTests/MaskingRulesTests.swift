import Foundation
import MaskingRules
import Testing

@Suite struct MaskingRulesTests {
    static let file = """
    {"version": 1, "maskPlaceholders": true, "customerMark": "none", "rules": [
      {"mask": ["#everywhere"]},
      {"site": "https://shop.example", "urls": ["/checkout/*", "/cart"], "mask": ["#card"], "noAgent": ["#buy"]},
      {"site": "https://shop.example", "urls": ["/account?tab=*"], "maskPage": true},
      {"site": "https://other.example", "mask": ["#other"]}
    ]}
    """

    func page(_ url: String) throws -> PageRules {
        try MaskingRules(json: Data(Self.file.utf8)).page(for: url)
    }

    @Test func everyMatchingSetIsUnitedAndOthersIgnored() throws {
        let rules = try page("https://shop.example/checkout/pay")
        #expect(rules.mask == ["#everywhere", "#card"])
        #expect(rules.noAgent == ["#buy"])
        #expect(rules.maskPlaceholders && rules.customerMark == "none")
        #expect(try page("https://shop.example/cart").mask == ["#everywhere", "#card"])
        #expect(try page("https://shop.example/cart/x").mask == ["#everywhere"], "patterns match the whole path")
        #expect(try page("https://SHOP.example/checkout/").mask == ["#everywhere", "#card"], "origins ignore case")
        #expect(try page("http://shop.example/checkout/pay").mask == ["#everywhere"], "the scheme is part of the origin")
        #expect(try page("https://shop.example:8443/checkout/pay").mask == ["#everywhere"], "so is the port")
    }

    @Test func patternsSeeTheQueryToo() throws {
        #expect(try page("https://shop.example/account?tab=cards").maskPage)
        #expect(try !page("https://shop.example/account").maskPage)
    }

    @Test(arguments: [
        (#"{"rules": [{"mask": ["a:hover"]}]}"#, "rules[0].mask"),
        (##"{"rules": [{"mask": ["#ok"]}, {"noAgent": ["a + b"]}]}"##, "rules[1].noAgent"),
        (#"{"rules": [{"site": "shop.example"}]}"#, "rules[0].site"),
        (#"{"version": 2, "rules": []}"#, "version 2"),
        (#"{"rules": {"mask": []}}"#, "not a rules file"),
        ("not json", "not a rules file"),
    ])
    func aBadFileIsRefusedNamingWhere(json: String, expected: String) {
        #expect {
            _ = try MaskingRules(json: Data(json.utf8))
        } throws: { "\($0)".contains(expected) }
    }

    @Test func withoutAFileTheBuiltInsStillMaskMarkersAndCredentials() {
        let rules = CompiledPageRules(MaskingRules.builtIn.page(for: "https://any.example/"))
        let form = TestElement("form")
        #expect(rules.classify(TestElement("input", ["type": "password"])).masked)
        #expect(rules.classify(TestElement("input", ["type": "hidden"])).alwaysMasked)
        #expect(rules.classify(TestElement("input", ["autocomplete": "shipping cc-csc"])).alwaysMasked)
        #expect(!rules.classify(TestElement("input", ["autocomplete": "name"])).masked)
        #expect(rules.classify(TestElement("p", ["data-cobrowse-mask": ""])).masked)
        #expect(rules.classify(TestElement("div", ["class": "x cobrowse-block"])).blocked)
        #expect(rules.classify(TestElement("button", [:], in: form)).noAgent, "a button without a type submits its form")
        #expect(!rules.classify(TestElement("button", ["type": "button"], in: form)).noAgent)
        #expect(rules.classify(TestElement("input", ["type": "submit"])).noAgent)
    }
}
