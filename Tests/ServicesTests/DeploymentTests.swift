import DOMRelay
import Foundation
import InteractionWatch
import MaskingFilter
import ServiceKit
import SessionRegistry
import Testing

/// docker-compose.yml and the Dockerfile cannot be run here (no Docker engine); these checks
/// keep them consistent with the code instead.
@Suite struct DeploymentTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private func dockerCompose(_ arguments: String...) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/docker-compose")
        process.arguments = ["-f", Self.root.appendingPathComponent("docker-compose.yml").path] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    @Test func composeFileIsValid() throws {
        let result = try dockerCompose("config", "-q")
        #expect(result.status == 0, "docker-compose config: \(result.output)")
    }

    @Test func composeRunsTheBrokerAndEveryService() throws {
        let services = Set(try dockerCompose("config", "--services").output.split(separator: "\n").map(String.init))
        #expect(services == ["rabbitmq", "session-registry", "dom-relay", "masking-filter", "interaction-watch"])
    }

    @Test func everyServiceHasAHealthcheckOnReady() throws {
        let lines = try dockerCompose("config").output.split(separator: "\n", omittingEmptySubsequences: false)
        for service in ["session-registry", "dom-relay", "masking-filter", "interaction-watch"] {
            // The service's block: the lines indented under "  <service>:".
            let block = lines.drop { $0 != "  \(service):" }.dropFirst().prefix { $0.hasPrefix("    ") }.joined(separator: "\n")
            #expect(block.contains("healthcheck:") && block.contains("/ready"), "\(service) has no /ready healthcheck")
        }
    }

    @Test func dockerfileBuildsEveryExecutableTheComposeFileNames() throws {
        let dockerfile = try String(contentsOf: Self.root.appendingPathComponent("deploy/docker/Dockerfile"), encoding: .utf8)
        for executable in ["session-registry", "dom-relay", "masking-filter", "interaction-watch"] {
            #expect(dockerfile.contains("--product \(executable)"))
        }
    }

    static let definitions = [SessionRegistryService.definition, DOMRelayService.definition,
                              MaskingFilterService.definition, InteractionWatchService.definition]

    @Test func everyVariableAServiceReadsIsInTheReadmeConfigurationTables() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        for definition in Self.definitions {
            for variable in definition.allVariables {
                #expect(readme.contains("| `\(variable.name)` |"), "\(definition.name) reads \(variable.name), which README.md does not document")
            }
        }
    }

    @Test func composeSetsOnlyVariablesTheServicesRead() throws {
        let lines = try dockerCompose("config").output.split(separator: "\n", omittingEmptySubsequences: false)
        for definition in Self.definitions {
            let known = Set(definition.allVariables.map(\.name))
            let block = lines.drop { $0 != "  \(definition.name):" }.dropFirst().prefix { $0.hasPrefix("    ") }
            let environment = block.drop { $0 != "    environment:" }.dropFirst().prefix { $0.hasPrefix("      ") }
            let names = environment.compactMap { $0.trimmingCharacters(in: .whitespaces).split(separator: ":").first.map(String.init) }
            #expect(!names.isEmpty, "\(definition.name) has no environment in docker-compose.yml")
            for name in names {
                // NAME_FILE gives any variable from a file (secrets).
                let variable = name.hasSuffix("_FILE") && known.contains(String(name.dropLast(5))) ? String(name.dropLast(5)) : name
                #expect(known.contains(variable), "docker-compose.yml sets \(name) for \(definition.name), which it does not read")
            }
        }
    }
}
