import Foundation
import MaskingRules
import Testing

/// The PII detectors on the shared samples (Tests/fixtures/pii-samples.json, which the browser
/// tests run through the SDK's detectors too), their checks, and their configuration per site.
@Suite struct PIIRedactorTests {
    struct Samples: Decodable {
        struct Sample: Decodable {
            let text: String
            let masked: String
            let hits: [String: Int]
        }

        let samples: [Sample]
    }

    static let samples: [Samples.Sample] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appending(path: "fixtures/pii-samples.json")
        // swiftlint:disable:next force_try
        return try! JSONDecoder().decode(Samples.self, from: Data(contentsOf: url)).samples
    }()

    @Test func everyPatternCompiles() {
        for detector in BuiltInTables.detectors {
            #expect((try? NSRegularExpression(pattern: detector.pattern)) != nil, "\(detector.name)")
        }
        #expect(BuiltInTables.detectors.map(\.name) == ["iban", "card", "ssn", "email", "phone"])
    }

    @Test(arguments: samples.indices)
    func theSharedSampleIsMaskedAsExpected(index: Int) {
        let sample = Self.samples[index]
        let (masked, hits) = PIIRedactor.all.redact(sample.text)
        #expect(masked == sample.masked, "\(sample.text)")
        #expect(hits == sample.hits, "\(sample.text)")
    }

    @Test func aDetectorTurnedOffLeavesItsKindAlone() {
        let noPhones = PIIRedactor(enabled: ["iban", "card", "ssn", "email"])
        #expect(noPhones.redact("Call +1 415 555 0100, card 4111 1111 1111 1111").text == "Call +1 415 555 0100, card ****")
        #expect(PIIRedactor(enabled: []).redact("4111 1111 1111 1111").text == "4111 1111 1111 1111")
    }

    @Test func sitesTurnDetectorsOnAndOffAndUnknownOnesAreRefused() throws {
        let rules = try MaskingRules(json: Data("""
        {"rules": [
          {"site": "https://shop.example", "detectors": {"phone": false, "email": false}},
          {"site": "https://shop.example", "urls": ["/contact*"], "detectors": {"email": true}}
        ]}
        """.utf8))
        #expect(rules.page(for: "https://other.example/").detectors == ["iban", "card", "ssn", "email", "phone"])
        #expect(rules.page(for: "https://shop.example/cart").detectors == ["iban", "card", "ssn"])
        #expect(rules.page(for: "https://shop.example/contact-us").detectors == ["iban", "card", "ssn", "email"])
        #expect(throws: MaskingRulesError("rules[0].detectors: unknown detector 'passport' (known: iban, card, ssn, email, phone)")) {
            try MaskingRules(json: Data(#"{"rules": [{"detectors": {"passport": true}}]}"#.utf8))
        }
    }

    /// docs/masking.md is the contract: it shows each pattern exactly (`|` written `\|` in its table).
    @Test func theDocumentedPatternsAreTheOnesInForce() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appending(path: "docs/masking.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        for detector in BuiltInTables.detectors {
            let row = "| `\(detector.name)` | `\(detector.pattern.replacingOccurrences(of: "|", with: "\\|"))` |"
            #expect(text.contains(row), "docs/masking.md does not show the \(detector.name) pattern as it is")
        }
    }
}
