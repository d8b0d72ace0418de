import Foundation
import MaskingRules
import Testing

/// `cobrowse-ctl rules check`'s findings: every error at once, and warnings for rules that do nothing.
@Suite struct RulesCheckTests {
    static func check(_ json: String, samples: [String] = []) -> [String] {
        RulesCheck(json: Data(json.utf8), sampleURLs: samples).findings.map(\.description)
    }

    @Test func everyErrorIsReportedAtOnceWithItsPlace() {
        let findings = Self.check("""
        {"version": 1, "colour": "red", "rules": [
          {"mask": ["#a", "div + p"], "blok": ["x"], "site": "shop.example"},
          {"mode": "secret", "detectors": {"passport": true, "phone": "no"}, "maskPage": "yes"}
        ]}
        """)
        #expect(findings == [
            "error: colour: unknown key (known: customerMark, maskPlaceholders, rules, version)",
            "error: rules[0].blok: unknown key (known: block, detectors, mask, maskImages, maskPage, mode, noAgent, site, unmask, urls)",
            "error: rules[0].site: 'shop.example' is neither * nor an origin such as https://shop.example",
            "error: rules[0].mask[1]: 'div + p': selector 'div + p': the '+' combinator is not supported (only descendant and '>') at position 5",
            "error: rules[1].maskPage: must be true or false",
            "error: rules[1].mode: must be \"private\" or \"public\"",
            "error: rules[1].detectors.passport: unknown detector (known: iban, card, ssn, email, phone)",
            "error: rules[1].detectors.phone: must be true or false",
        ])
    }

    @Test func notAJSONObjectIsOneClearError() {
        #expect(Self.check("[1, 2]") == ["error: (file): not a JSON object: a rules file is {\"version\": 1, \"rules\": [...]}"])
        #expect(Self.check("{\"rules\": {}}") == ["error: rules: must be a list of rule sets"])
    }

    @Test func urlPatternsThatMatchNoSampleAreWarnedOfPerSite() {
        let findings = Self.check("""
        {"rules": [
          {"urls": ["/account*", "/nowhere*"], "mask": ["#a"]},
          {"site": "https://other.example", "urls": ["/account*"], "mask": ["#b"]}
        ]}
        """, samples: ["https://shop.example/account/1", "https://shop.example/cart"])
        #expect(findings == [
            "warning: rules[0].urls[1]: '/nowhere*' matches none of the 2 sample URLs of site *",
            "warning: rules[1].urls[0]: '/account*' matches none of the 0 sample URLs of site https://other.example",
        ])
    }

    @Test func selectorsAnotherSetAlreadyCoversAreShadowed() {
        let findings = Self.check("""
        {"rules": [
          {"mask": ["#a", "#a"], "block": ["#chat"], "noAgent": ["#x"]},
          {"urls": ["/account*"], "mask": ["#a", "#chat", "#c"], "noAgent": ["#x"]},
          {"urls": ["/statement*"], "maskPage": true},
          {"urls": ["/statement*"], "mask": ["#d"], "maskImages": ["img"]},
          {"site": "https://shop.example", "mask": ["#e"]},
          {"urls": ["/account*"], "mask": ["#e"]}
        ]}
        """)
        #expect(findings == [
            "warning: rules[0].mask[1]: '#a' is listed twice in this set",
            "warning: rules[1].mask[0]: '#a' does nothing: rules[0].mask has it too, on every page this set covers",
            "warning: rules[1].mask[1]: '#chat' does nothing: rules[0].block blocks it on every page this set covers (block beats mask)",
            "warning: rules[1].noAgent[0]: '#x' does nothing: rules[0].noAgent has it too, on every page this set covers",
            "warning: rules[3].mask[0]: '#d' does nothing: rules[2] masks the whole page on every page this set covers",
            "warning: rules[3].maskImages[0]: 'img' does nothing: rules[2] masks the whole page on every page this set covers",
        ])
    }

    @Test func unmaskOutsidePrivateModeIsWarnedOf() {
        #expect(Self.check(#"{"rules": [{"unmask": ["header"]}]}"#) == [
            "warning: rules[0].unmask: only a private page unmasks: this set does not say \"mode\": \"private\" (another set for the same pages may)",
        ])
        #expect(Self.check(#"{"rules": [{"mode": "private", "unmask": ["header"]}]}"#).isEmpty)
    }

    /// The shipped rules load and do nothing in vain.
    @Test func theShippedRulesAreClean() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appending(path: "deploy/masking/rules.json")
        let check = RulesCheck(json: try Data(contentsOf: url), sampleURLs: [
            "http://127.0.0.1:8080/demo/", "http://127.0.0.1:8080/demo/second.html", "http://127.0.0.1:8080/demo/masking.html",
            "http://127.0.0.1:8080/demo/statement.html", "http://127.0.0.1:8080/demo/private.html",
        ])
        #expect(check.findings.isEmpty, "\(check.findings)")
    }
}
