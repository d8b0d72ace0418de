import AMQP
import CobrowseBroker
import CobrowseProtocol
import Foundation
import ServiceKit
import TestSupport
import Testing

/// The masking rules file as a running filter uses it: loaded at start, reloaded when it
/// changes or on SIGHUP, and a bad one refused without dropping what is in force.
@Suite struct MaskingRulesIntegrationTests {
    static func rules(mask selector: String) -> String {
        #"{"version": 1, "rules": [{"site": "*", "mask": ["\#(selector)"]}]}"#
    }

    static func page() -> StreamEvent.Snapshot {
        StreamEvent.Snapshot(url: "https://shop.example/account", viewport: Viewport(w: 800, h: 600), root:
            .element(1, "html", [:], [.element(2, "body", [:], [
                .element(3, "p", ["id": "iban"], [.text(4, "IBAN-SECRET")]),
                .element(5, "p", ["id": "phone"], [.text(6, "PHONE-SECRET")]),
            ])]))
    }

    func write(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test func theFilterMasksByTheFileAndPicksUpChangesWithoutDroppingTheSession() async throws {
        let fixture = try await FilterFixture("filter-rules")
        defer { Task { await fixture.stop() } }
        let path = NSTemporaryDirectory() + "rules-\(UUID()).json"
        try write(Self.rules(mask: "#iban"), to: path)
        let filter = try await fixture.startFilter(["MASKING_RULES": path])
        let session = SessionID.random()
        let view = try await fixture.listen(CobrowseTopology.viewExchange, session: session)
        let sharer = try await fixture.listen(CobrowseTopology.sharerExchange, session: session)

        try await fixture.send(StreamFrame(seq: 1, .snapshot(Self.page())), session: session)
        let first = try await view.frames(1)[0].raw
        #expect(!first.contains("IBAN-SECRET") && first.contains("PHONE-SECRET"))

        // New rules on disk: the session is asked for a snapshot and nothing passes until it comes.
        try write(Self.rules(mask: "#phone"), to: path)
        let resync = try #require(try await sharer.take(1).first)
        #expect(String(decoding: resync.body, as: UTF8.self).contains("masking rules changed"))
        try await fixture.send(StreamFrame(seq: 2, .mutations(.init(texts: [.init(id: 6, text: "PHONE-SECRET-2")]))), session: session)
        try await fixture.send(StreamFrame(seq: 1, .snapshot(Self.page())), session: session)
        let second = try await view.frames(1)[0].raw
        #expect(second.contains("\"t\":\"snapshot\""), "the withheld mutation did not pass: \(second)")
        #expect(!second.contains("PHONE-SECRET") && second.contains("IBAN-SECRET"))

        // A broken file is refused and logged; the rules in force stay.
        try write(#"{"rules": [{"mask": ["a + b"]}]}"#, to: path)
        #expect(await eventually { filter.log.contains("masking rules refused") })
        try await fixture.send(StreamFrame(seq: 2, .mutations(.init(texts: [.init(id: 6, text: "PHONE-SECRET-3")]))), session: session)
        let third = try await view.frames(1)[0].raw
        #expect(!third.contains("PHONE-SECRET"))

        // Fixed again, it is picked up; SIGHUP reloads on demand even when nothing changed.
        func reloads() -> Int { filter.log.components(separatedBy: "masking rules reloaded").count - 1 }
        try write(Self.rules(mask: "#iban"), to: path)
        #expect(await eventually { reloads() == 2 })
        kill(filter.process.processIdentifier, SIGHUP)
        #expect(await eventually { reloads() == 3 })
        #expect(filter.process.isRunning, "SIGHUP does not stop the filter")
    }

    @Test func aFilterWithABadRulesFileRefusesToStartAndSaysWhy() async throws {
        let path = NSTemporaryDirectory() + "rules-\(UUID()).json"
        try write(#"{"rules": [{"site": "*", "block": ["div:hover"]}]}"#, to: path)
        let filter = try ServiceProcess("masking-filter", environment: ["AMQP_URL": try TestBroker.url(), "MASKING_RULES": path])
        #expect(await filter.waitForExit() == 2)
        #expect(await eventually { filter.log.contains("MASKING_RULES") && filter.log.contains(":hover") })
    }
}
