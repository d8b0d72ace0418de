import Foundation
@testable import MaskingFilter
import MaskingRules
import Testing

/// What a session's record keeps of a page's address: never the query or fragment, and for a
/// page the rules mask whole or keep private, the rule set's pattern instead of the path.
@Suite struct PageAddressTests {
    static let rules = try! MaskingRules(json: Data(#"""
        {"rules": [
          {"site": "https://bank.example", "urls": ["/statement*"], "maskPage": true},
          {"site": "https://bank.example", "urls": ["/account/*"], "mode": "private"},
          {"site": "https://bank.example", "urls": ["/help*"], "mask": [".name"]}
        ]}
        """#.utf8))

    @Test(arguments: [
        ("https://shop.example/cart?coupon=ADA-4711&email=ada%40example.com#pay", "https://shop.example/cart"),
        ("https://shop.example", "https://shop.example/"),
        ("http://localhost:8080/demo/?q=secret", "http://localhost:8080/demo/"),
        ("https://bank.example/statement/2026-11?iban=DE89", "https://bank.example/statement*"),
        ("https://bank.example/account/4711/settings", "https://bank.example/account/*"),
        ("https://bank.example/help/contact?name=Ada", "https://bank.example/help/contact"),
        ("not a url", "(not a web address)"),
    ])
    func theRecordKeepsOnlyWhatIdentifiesThePage(_ url: String, _ kept: String) {
        #expect(PageAddress.kept(url, rules: Self.rules) == kept)
    }
}
