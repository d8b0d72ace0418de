import AMQP
import Foundation
import MaskingRules
import ServiceKit
import TestSupport
import Testing

/// The rules editor's API through a real broker, filter and relays: previews are masked by a
/// masking filter under the draft, saves put the draft in force, and only administrators get in.
@Suite struct RulesEditorTests {
    static let token = "editor-admin-token"
    static let admin = ["Authorization": "Bearer \(token)"]

    /// A rules file of its own in a folder of its own (the relay renames the new file over it).
    static func rulesFile(_ text: String) throws -> String {
        let folder = NSTemporaryDirectory() + "rules-editor-\(UUID())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/rules.json"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func suite(_ name: String, rules path: String) async throws -> SuiteFixture {
        try await SuiteFixture(name, relayEnvironment: ["MASKING_RULES": path, "ADMIN_TOKEN": token],
                               filterEnvironment: ["MASKING_RULES": path])
    }

    static let noRules = ##"{"version": 1, "rules": []}"##
    static let maskLoyalty = ##"{"version": 1, "rules": [{"urls": ["/account*"], "mask": ["#loyalty"]}]}"##

    /// A snapshot as the SDK sends it, of a page with a loyalty number and a card number in clear.
    static func snapshot(seq: Int = 0) -> [String: Any] {
        [
            "t": "snapshot", "seq": seq, "url": "https://shop.example/account", "viewport": ["w": 1280, "h": 800],
            "scroll": ["x": 0, "y": 0],
            "root": ["id": 1, "type": "element", "tag": "html", "children": [
                ["id": 2, "type": "element", "tag": "body", "children": [
                    ["id": 3, "type": "element", "tag": "p", "attrs": ["id": "loyalty"], "children": [["id": 4, "type": "text", "text": "LOYALTY-7731"]]],
                    ["id": 5, "type": "element", "tag": "p", "children": [["id": 6, "type": "text", "text": "Card 4111 1111 1111 1111"]]],
                ]],
            ]],
        ]
    }

    static func previewBody(rules: String, frame: [String: Any] = snapshot()) -> Data {
        try! JSONSerialization.data(withJSONObject: frame.merging(["rules": rules]) { $1 })
    }

    /// The file's SHA-256 (pinned to `sha256sum` by the MaskingRules tests).
    static func sha256(_ text: String) -> String {
        (try? MaskingRules(json: Data(text.utf8)).sourceHash) ?? "not a rules file"
    }

    @Test func aPreviewIsMaskedByAFilterUnderTheDraftNotUnderTheRulesInForce() async throws {
        let suite = try await Self.suite("editor-preview", rules: try Self.rulesFile(Self.noRules))
        defer { Task { await suite.stop() } }
        let relay = suite.relays[0]
        let masked = try #require(await relay.exchange("POST", "/cobrowse/editor/preview", headers: Self.admin,
                                                        body: Self.previewBody(rules: Self.maskLoyalty), timeout: 60))
        #expect(masked.status == 200, "\(masked.body)")
        #expect(!masked.body.contains("LOYALTY-7731"), "the draft masks #loyalty: \(masked.body)")
        #expect(masked.body.contains("data-cb-masked"))
        #expect(!masked.body.contains("4111"), "the card detector runs in previews too")
        #expect(masked.headers["x-rules-hash"] == Self.sha256(Self.maskLoyalty), "the draft's hash")
        #expect(masked.headers["x-rules-in-force"] == Self.sha256(Self.noRules), "the answering filter's rules")
        #expect(Int(masked.headers["x-masked-elements"] ?? "") ?? 0 >= 1)
        #expect(masked.headers["x-detector-hits"]?.contains(#""card":1"#) == true, "\(masked.headers)")

        // The control: the same page under the rules in force keeps the loyalty number.
        let clear = try #require(await relay.exchange("POST", "/cobrowse/editor/preview", headers: Self.admin,
                                                       body: Self.previewBody(rules: Self.noRules), timeout: 60))
        #expect(clear.status == 200)
        #expect(clear.body.contains("LOYALTY-7731"), "no rule names #loyalty: \(clear.body)")
    }

    @Test func previewsOfBadDraftsOrFramesAreRefusedWithTheReason() async throws {
        let suite = try await Self.suite("editor-bad-preview", rules: try Self.rulesFile(Self.noRules))
        defer { Task { await suite.stop() } }
        let relay = suite.relays[0]
        func preview(_ body: Data) async throws -> (status: Int, body: String) {
            let answer = try #require(await relay.exchange("POST", "/cobrowse/editor/preview", headers: Self.admin, body: body, timeout: 60))
            return (answer.status, answer.body)
        }
        let badSelector = try await preview(Self.previewBody(rules: ##"{"rules": [{"mask": ["p + p"]}]}"##))
        #expect(badSelector.status == 422)
        #expect(badSelector.body.contains("p + p"), "names the selector: \(badSelector.body)")
        let notASnapshot = try await preview(Self.previewBody(rules: Self.noRules, frame: ["t": "cursor", "seq": 0, "x": 1, "y": 2]))
        #expect(notASnapshot.status == 422)
        #expect(notASnapshot.body.contains("snapshot"), "\(notASnapshot.body)")
        let noRules = try await preview(try JSONSerialization.data(withJSONObject: Self.snapshot()))
        #expect(noRules.status == 422)
        #expect(noRules.body.contains("rules"), "\(noRules.body)")
    }

    @Test func theEditorIsForAdministratorsOnly() async throws {
        let path = try Self.rulesFile(Self.noRules)
        let suite = try await Self.suite("editor-access", rules: path)
        defer { Task { await suite.stop() } }
        let relay = suite.relays[0]
        #expect(await relay.get("/cobrowse/editor/rules")?.status == 401)
        #expect(await relay.get("/cobrowse/editor/rules", headers: ["Authorization": "Bearer wrong"])?.status == 401)
        #expect(await relay.request("PUT", "/cobrowse/rules", body: Self.maskLoyalty)?.status == 401)
        #expect(await relay.request("POST", "/cobrowse/editor/preview", body: "{}")?.status == 401)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == Self.noRules, "a refused save writes nothing")
        let rules = try #require(await relay.get("/cobrowse/editor/rules", headers: Self.admin))
        #expect(rules.status == 200)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(rules.body.utf8)) as? [String: Any])
        #expect(object["source"] as? String == Self.noRules)
        #expect(object["hash"] as? String == Self.sha256(Self.noRules))
        #expect(object["writable"] as? Bool == true)
        // The public page rules stay public: the SDK reads them without a token.
        #expect(await relay.get("/cobrowse/rules?url=https%3A%2F%2Fshop.example%2F")?.status == 200)

        // Neither a token nor dev mode: the editor is off.
        let closed = try await ServiceProcess.ready("dom-relay", environment: ["AMQP_URL": suite.url, "MASKING_RULES": path])
        defer { Task { _ = await closed.terminate() } }
        let off = try #require(await closed.get("/cobrowse/editor/rules"))
        #expect(off.status == 403)
        #expect(off.body.contains("ADMIN_TOKEN"), "\(off.body)")

        // Dev mode without a token: open, but with no rules file there is nothing to save to.
        let dev = try await ServiceProcess.ready("dom-relay", environment: [
            "AMQP_URL": suite.url, "DEV_MODE": "1", "DEV_TOKEN_SECRET": String(repeating: "d", count: 32),
        ])
        defer { Task { _ = await dev.terminate() } }
        let open = try #require(await dev.get("/cobrowse/editor/rules"))
        #expect(open.status == 200)
        let builtIn = try #require(try JSONSerialization.jsonObject(with: Data(open.body.utf8)) as? [String: Any])
        #expect(builtIn["hash"] as? String == "built-in")
        #expect(builtIn["writable"] as? Bool == false)
        #expect(builtIn["file"] is NSNull)
        let nowhere = try #require(await dev.request("PUT", "/cobrowse/rules", body: Self.maskLoyalty))
        #expect(nowhere.status == 409)
        #expect(nowhere.body.contains("MASKING_RULES"), "\(nowhere.body)")
    }

    @Test func aDraftIsCheckedWithTheFindingsAndTheRulesItGivesThePage() async throws {
        let suite = try await Self.suite("editor-check", rules: try Self.rulesFile(Self.noRules))
        defer { Task { await suite.stop() } }
        let relay = suite.relays[0]
        let draft = ##"{"version": 1, "rules": [{"site": "*", "mask": ["#a"]}, {"urls": ["/account*"], "mask": ["#loyalty"], "block": ["div ~ p"]}]}"##
        let answer = try #require(await relay.request("POST", "/cobrowse/editor/check?url=https%3A%2F%2Fshop.example%2Faccount",
                                                      headers: Self.admin, body: draft))
        #expect(answer.status == 200)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
        #expect(object["valid"] as? Bool == false, "an unsupported selector is an error")
        let findings = try #require(object["findings"] as? [[String: Any]])
        #expect(findings.contains { ($0["location"] as? String)?.contains("rules[1].block[0]") == true && $0["severity"] as? String == "error" },
                "\(findings)")
        let notJSON = try #require(await relay.request("POST", "/cobrowse/editor/check", headers: Self.admin, body: "{ not json"))
        #expect(notJSON.status == 200)
        #expect(notJSON.body.contains(#""valid":false"#) && notJSON.body.contains(#""severity":"error""#), "\(notJSON.body)")
        let good = ##"{"version": 1, "rules": [{"site": "*", "mask": ["#a"]}, {"urls": ["/account*"], "mask": ["#loyalty"]}, {"urls": ["/cart"], "maskPage": true}]}"##
        let checked = try #require(await relay.request("POST", "/cobrowse/editor/check?url=https%3A%2F%2Fshop.example%2Faccount",
                                                       headers: Self.admin, body: good))
        let valid = try #require(try JSONSerialization.jsonObject(with: Data(checked.body.utf8)) as? [String: Any])
        #expect(valid["valid"] as? Bool == true, "\(checked.body)")
        #expect(valid["ruleSets"] as? [Int] == [0, 1], "the sets for /account, not /cart")
        let page = try #require(valid["pageRules"] as? [String: Any])
        #expect(page["mask"] as? [String] == ["#a", "#loyalty"])
        #expect(valid["hash"] as? String == Self.sha256(good))
    }

    @Test func aSavedDraftIsInForceForTheNextSessionAndABadOneChangesNothing() async throws {
        let path = try Self.rulesFile(Self.noRules)
        let suite = try await Self.suite("editor-save", rules: path)
        defer { Task { await suite.stop() } }
        let relay = suite.relays[0]
        // Bad input: refused with the reason, the file and the rules in force untouched.
        let bad = try #require(await relay.request("PUT", "/cobrowse/rules", headers: Self.admin, body: ##"{"rules": [{"mask": ["#a:hover"]}]}"##))
        #expect(bad.status == 422)
        #expect(bad.body.contains("#a:hover") || bad.body.contains("hover"), "\(bad.body)")
        let notJSON = try #require(await relay.request("PUT", "/cobrowse/rules", headers: Self.admin, body: "{ not json"))
        #expect(notJSON.status == 422)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == Self.noRules)

        let saved = try #require(await relay.request("PUT", "/cobrowse/rules", headers: Self.admin, body: Self.maskLoyalty))
        #expect(saved.status == 200, "\(saved.body)")
        #expect(saved.body.contains(Self.sha256(Self.maskLoyalty)))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == Self.maskLoyalty)
        // The relay that saved hands pages the new rules at once.
        let page = try #require(await relay.get("/cobrowse/rules?url=https%3A%2F%2Fshop.example%2Faccount"))
        #expect(page.body.contains("#loyalty"))

        // The filter reads the file on its own (every 2 s): wait until a preview's answer says it has.
        let inForce = await eventually(within: .seconds(60)) {
            let answer = await relay.exchange("POST", "/cobrowse/editor/preview", headers: Self.admin,
                                              body: Self.previewBody(rules: Self.noRules), timeout: 30)
            return answer?.headers["x-rules-in-force"] == Self.sha256(Self.maskLoyalty)
        }
        #expect(inForce, "no filter reported the saved rules in force")

        // A real session: the agent sees the loyalty number masked.
        let (sharer, started) = try await suite.share()
        let id = try #require(started["sessionId"] as? String)
        let agent = try await suite.join(id)
        _ = try #require(await sharer.next(type: "resync"))
        sharer.send(frame(Self.snapshot(seq: 1)))
        let snapshot = try #require(await agent.next(type: "snapshot"))
        let text = frame(snapshot)
        #expect(!text.contains("LOYALTY-7731"), "the saved rule masks #loyalty for the agent: \(text)")
        #expect(text.contains("data-cb-masked"))
    }
}
