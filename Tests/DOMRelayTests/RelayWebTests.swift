import AMQP
import CobrowseProtocol
import CobrowseTokens
import Foundation
import HummingbirdTLS
import MaskingRules
import ServiceKit
import TestSupport
import Testing

@Suite struct RelayWebTests {
    @Test func theSDKAndTheConsoleAreServedAndDevEndpointsExistOnlyInDevMode() async throws {
        let url = try await TestBroker.isolatedVirtualHost("relay-web")
        let production = try await ServiceProcess.ready("dom-relay", environment: ["AMQP_URL": url])
        let dev = try await ServiceProcess.ready("dom-relay", environment: [
            "AMQP_URL": url, "DEV_MODE": "1", "DEV_TOKEN_SECRET": ContactCenterTokens.secret,
        ])
        defer { Task { _ = await production.terminate(); _ = await dev.terminate() } }

        for relay in [production, dev] {
            let sdk = await relay.get("/cobrowse.js")
            #expect(sdk?.status == 200 && sdk?.body.contains("CoBrowse") == true)
            #expect(await relay.get("/agent/")?.status == 200)
        }
        #expect(await production.get("/demo/")?.status == 404)
        #expect(await production.get("/dev/agent-token?agent=ana")?.status == 404)
        #expect(await production.get("/dev/interaction-token")?.status == 404)

        #expect(await dev.get("/demo/")?.status == 200)
        let agent = try #require(await dev.get("/dev/agent-token?agent=ana"))
        #expect(agent.status == 200 && agent.body.contains("\"token\""))
        #expect(await dev.get("/dev/agent-token")?.status == 400, "no agent named")
        #expect(await dev.get("/dev/interaction-token?channel=fax")?.status == 400)
        #expect(await dev.get("/dev/interaction-token?channel=voice")?.status == 200)
    }

    @Test func theSDKGetsTheFiltersBuiltInListsFromTheRelayNeverACopy() async throws {
        let url = try await TestBroker.isolatedVirtualHost("relay-built-ins")
        let relay = try await ServiceProcess.ready("dom-relay", environment: ["AMQP_URL": url])
        defer { Task { _ = await relay.terminate() } }
        let module = try #require(await relay.get("/sdk/built-in-rules.js"))
        #expect(module.status == 200)
        func exported(_ name: String) throws -> [String] {
            let line = try #require(module.body.split(separator: "\n").first { $0.contains("export const \(name) ") })
            let json = try #require(line.firstRange(of: "Object.freeze(").map { line[$0.upperBound...].dropLast(2) })
            return try JSONDecoder().decode([String].self, from: Data(json.utf8))
        }
        for (name, table) in BuiltInTables.byExportName {
            #expect(try exported(name) == table, "\(name) as served")
        }
        #expect(try exported("SECRET_FIELD_HINTS") == BuiltInRules.secretFieldHints)
        #expect(module.body.contains("export const DEFAULT_CUSTOMER_MARK = \"\(BuiltInTables.defaultCustomerMark)\";"))
        #expect(Set(try exported("ALWAYS_MASKED_AUTOCOMPLETE")) == BuiltInRules.sensitiveAutocomplete)
        // The SDK imports it and keeps no list of its own.
        let masking = try #require(await relay.get("/sdk/masking.js"))
        #expect(masking.body.contains("from './built-in-rules.js'"))
        #expect(!masking.body.contains("'one-time-code'"), "the SDK has its own copy of the autocomplete tokens")
    }

    /// The SDK benchmark runs the SDK without a relay, so it reads the tables from the Swift source
    /// itself (Benchmarks/SDKBurst/sdk_burst.py): what it serves must be what the relay serves.
    @Test func theSDKBenchmarkServesTheSameBuiltInModuleAsTheRelay() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let run = try await CommandRun.run("/usr/bin/python3", [
            "-c", "import sys; sys.path.insert(0, 'Benchmarks/SDKBurst'); import sdk_burst; print(sdk_burst.built_in_rules_module(), end='')",
        ], environment: ["PYTHONDONTWRITEBYTECODE": "1"], workingDirectory: root.path)
        #expect(run.status == 0, "\(run)")
        func exports(_ module: String) throws -> [String: String] {
            var found: [String: String] = [:]
            for line in module.split(separator: "\n") where line.hasPrefix("export const ") {
                let name = String(line.dropFirst("export const ".count).prefix { $0 != " " })
                // A frozen list or table, or a plain string.
                let json = try #require(line.firstRange(of: "Object.freeze(").map { line[$0.upperBound...].dropLast(2) }
                    ?? line.firstRange(of: " = ").map { line[$0.upperBound...].dropLast(1) })
                // Compared as parsed values: the two JSON writers space and escape differently.
                let value = try JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])
                found[name] = String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]), as: UTF8.self)
            }
            return found
        }
        let served = try exports(BuiltInTables.javaScriptModule)
        #expect(served.count == BuiltInTables.byExportName.count + 2, "the tables, the detectors and the customer mark")
        #expect(try exports(run.stdout) == served)
    }

    /// No script of the SDK or the console writes a built-in table out again: each table's
    /// members, quoted as a script would list them, appear in none of them.
    @Test func noScriptKeepsACopyOfABuiltInTable() throws {
        let web = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appending(path: "Services/DOMRelay/Web/Public")
        let scripts = try #require(FileManager.default.enumerator(at: web, includingPropertiesForKeys: nil))
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "js" }
        #expect(scripts.count >= 10)
        for script in scripts {
            let text = try String(contentsOf: script, encoding: .utf8)
            for (name, table) in BuiltInTables.byExportName where table.count > 1 {
                // Two members in a row, as a list literal has them: a copy, however spaced or quoted.
                for pair in zip(table, table.dropFirst()) {
                    for quote in ["'", "\""] {
                        let pattern = "\(quote)\(pair.0)\(quote)\\s*,\\s*\(quote)\(pair.1)\(quote)"
                        #expect(text.range(of: pattern, options: .regularExpression) == nil,
                                "\(script.lastPathComponent) lists \(name) itself (\(pair.0), \(pair.1))")
                    }
                }
            }
        }
    }

    @Test func devModeWithoutTheSigningSecretRefusesToStart() async throws {
        let relay = try ServiceProcess("dom-relay", environment: ["AMQP_URL": try TestBroker.url(), "DEV_MODE": "1"])
        #expect(await relay.waitForExit() == 2)
        #expect(await eventually { relay.log.contains("DEV_TOKEN_SECRET") }, "the output arrives after the exit")
    }
}
