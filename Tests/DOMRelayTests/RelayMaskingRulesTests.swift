import AMQP
import CobrowseProtocol
import CobrowseTokens
import Foundation
import HummingbirdTLS
import MaskingRules
import ServiceKit
import TestSupport
import Testing

@Suite struct RelayMaskingRulesTests {
    @Test func aPageGetsTheRulesForItsURLAndItsSiteMayReadThem() async throws {
        let url = try await TestBroker.isolatedVirtualHost("relay-rules")
        let path = NSTemporaryDirectory() + "rules-\(UUID()).json"
        try #"""
        {"version": 1, "maskPlaceholders": true, "rules": [
          {"site": "*", "mask": [".secret"], "noAgent": ["#delete"]},
          {"site": "https://shop.example", "urls": ["/checkout*"], "mask": ["#card"], "maskImages": ["img.id"], "block": ["#chat"]},
          {"site": "https://other.example", "mask": ["#other"]}
        ]}
        """#.write(toFile: path, atomically: true, encoding: .utf8)
        let relay = try await ServiceProcess.ready("dom-relay", environment: [
            "AMQP_URL": url, "MASKING_RULES": path, "ALLOWED_ORIGINS": "https://shop.example",
        ])
        defer { Task { _ = await relay.terminate() } }

        let page = "https://shop.example/checkout/pay?step=2".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let answer = try #require(await relay.get("/cobrowse/rules?url=\(page)", headers: ["Origin": "https://shop.example"]))
        let rules = try #require(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
        #expect(rules["mask"] as? [String] == [".secret", "#card"])
        #expect(rules["maskImages"] as? [String] == ["img.id"])
        #expect(rules["block"] as? [String] == ["#chat"])
        #expect(rules["noAgent"] as? [String] == ["#delete"])
        #expect(rules["maskPlaceholders"] as? Bool == true)

        let home = "https://shop.example/".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let other = try #require(await relay.get("/cobrowse/rules?url=\(home)"))
        #expect(other.body.contains("\".secret\"") && !other.body.contains("#card"))
        #expect(await relay.get("/cobrowse/rules")?.status == 400)
    }

    @Test func theSDKsModulesMayBeLoadedByAllowedSitesOnly() async throws {
        let url = try await TestBroker.isolatedVirtualHost("relay-sdk-cors")
        let root = NSTemporaryDirectory() + "web-\(UUID())"
        try FileManager.default.createDirectory(atPath: root + "/Public/sdk", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/Demo", withIntermediateDirectories: true)
        try "export const part = 1;\n".write(toFile: root + "/Public/sdk/part.js", atomically: true, encoding: .utf8)
        let relay = try await ServiceProcess.ready("dom-relay", environment: [
            "AMQP_URL": url, "WEB_ROOT": root, "ALLOWED_ORIGINS": "https://shop.example",
        ])
        defer { Task { _ = await relay.terminate() } }
        let module = "http://127.0.0.1:\(relay.httpPort)/sdk/part.js"
        #expect(try await headerOf("Access-Control-Allow-Origin", module, origin: "https://shop.example") == ("200", "https://shop.example"))
        #expect(try await headerOf("Access-Control-Allow-Origin", module, origin: "https://evil.example") == ("200", ""))
    }

    @Test func theAgentConsoleIsServedUnderAStrictContentSecurityPolicy() async throws {
        let url = try await TestBroker.isolatedVirtualHost("relay-csp")
        let relay = try await ServiceProcess.ready("dom-relay", environment: ["AMQP_URL": url])
        defer { Task { _ = await relay.terminate() } }
        let (status, policy) = try await headerOf("Content-Security-Policy", "http://127.0.0.1:\(relay.httpPort)/agent/")
        #expect(status == "200")
        #expect(policy.contains("script-src 'self'") && policy.contains("object-src 'none'") && policy.contains("form-action 'none'"))
        #expect(!policy.contains("unsafe-eval") && !policy.contains("script-src *"))
    }

    /// The status and one header of a GET, through curl (URLSession hides some headers).
    func headerOf(_ name: String, _ url: String, origin: String? = nil) async throws -> (String, String) {
        let lines = try await CommandRun.run("/usr/bin/curl", ["-s", "-D", "-", "-o", "/dev/null"]
            + (origin.map { ["-H", "Origin: \($0)"] } ?? []) + [url]).stdout.split(separator: "\r\n")
        let status = lines.first?.split(separator: " ").dropFirst().first.map(String.init) ?? ""
        let value = lines.first { $0.lowercased().hasPrefix(name.lowercased() + ":") }
            .map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) } ?? ""
        return (status, value)
    }
}
