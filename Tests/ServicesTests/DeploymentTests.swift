import AMQP
import CobrowseBroker
import DOMRelay
import Foundation
import InteractionWatch
import MaskingFilter
import ServiceKit
import SessionRegistry
import TestSupport
import Testing

/// The compose stack, the image, the load balancer and the monitoring cannot run here (no Docker
/// engine); these checks keep them consistent with the code instead. docker-compose.yml is read
/// the way Docker reads it: through `docker-compose config` (Debian's docker-compose 1.29), whose
/// YAML is turned into JSON with the PyYAML that docker-compose itself runs on.
@Suite struct DeploymentTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let definitions = [SessionRegistryService.definition, DOMRelayService.definition,
                              MaskingFilterService.definition, InteractionWatchService.definition]
    static let base = ["docker-compose.yml"]
    static let withTLS = ["docker-compose.yml", "docker-compose.tls.yml"]
    static let withCluster = ["docker-compose.yml", "docker-compose.cluster.yml"]

    // MARK: Helpers

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs a program with a fixed environment (the test runner's variables, an LB_HTTP_PORT say,
    /// must not change what docker-compose interpolates).
    static func run(_ executable: String, _ arguments: [String]) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory(), "LANG": "C.UTF-8"]
        process.currentDirectoryURL = root
        process.standardInput = FileHandle.nullDevice
        let errorFile = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("deployment-\(UUID()).err")
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorFile) }
        let errors = try FileHandle(forWritingTo: errorFile)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = errors
        try process.run()
        let output = PipeReader.readAll(pipe.fileHandleForReading)
        process.waitUntilExit()
        try errors.close()
        return Run(status: process.terminationStatus, stdout: String(decoding: output, as: UTF8.self),
                   stderr: (try? String(contentsOf: errorFile, encoding: .utf8)) ?? "")
    }

    /// The `dev` profile's values (the compose files give no secret a default): what is checked
    /// is the development stack, and a developer's .env does not change it. Without them compose
    /// refuses to start; Tests/deploy/test_compose.py checks that.
    static let developmentEnvironmentFile = root.appendingPathComponent("deploy/compose/dev.env").path

    static func dockerCompose(_ files: [String], _ arguments: String...) throws -> Run {
        try run("/usr/bin/docker-compose", files.flatMap { ["-f", root.appendingPathComponent($0).path] }
            + ["--env-file", developmentEnvironmentFile] + arguments)
    }

    /// A YAML file as JSON objects (PyYAML comes with docker-compose).
    static func yaml(at url: URL) throws -> Any {
        let result = try run("/usr/bin/python3", ["-c", "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)", url.path])
        guard result.status == 0 else { throw Failure("cannot read \(url.lastPathComponent) as YAML: \(result.stderr)") }
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }

    /// The effective configuration of `files`, services by name (read once per set of files).
    static func services(_ files: [String]) throws -> [String: [String: Any]] {
        switch files {
        case base: try baseServices.get()
        case withTLS: try tlsServices.get()
        case withCluster: try clusterServices.get()
        default: try readServices(files)
        }
    }

    nonisolated(unsafe) static let baseServices = Result { try readServices(base) }
    nonisolated(unsafe) static let tlsServices = Result { try readServices(withTLS) }
    nonisolated(unsafe) static let clusterServices = Result { try readServices(withCluster) }

    static func readServices(_ files: [String]) throws -> [String: [String: Any]] {
        guard let services = try configuration(files)["services"] as? [String: [String: Any]] else {
            throw Failure("no services in the configuration")
        }
        return services
    }

    /// The whole effective configuration of `files` (services, secrets, volumes).
    static func configuration(_ files: [String]) throws -> [String: Any] {
        let result = try dockerCompose(files, "config")
        guard result.status == 0 else { throw Failure("docker-compose config: \(result.stderr)") }
        let file = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("compose-\(UUID()).yml")
        try result.stdout.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        guard let config = try yaml(at: file) as? [String: Any] else { throw Failure("the configuration is not a mapping") }
        return config
    }

    /// The compose services that are one-off commands (profile "tools", `docker compose run`),
    /// not containers that keep running.
    static func isTool(_ service: [String: Any]) -> Bool {
        (service["profiles"] as? [String] ?? []).contains("tools")
    }

    /// Whether `password` is the one `deploy/rabbitmq/definitions.json` holds for `user`
    /// (RabbitMQ's SHA-256 hash: base64 of a 4-byte salt and SHA-256 of salt + password).
    static func isBrokerPassword(_ password: String, of user: String) throws -> Bool {
        let hash = try TestBroker.BrokerUser.named(user).passwordHash
        let check = "import base64, hashlib, sys; raw = base64.b64decode(sys.argv[1]); "
            + "sys.exit(0 if hashlib.sha256(raw[:4] + sys.argv[2].encode()).digest() == raw[4:] else 1)"
        return try run("/usr/bin/python3", ["-c", check, hash, password]).status == 0
    }

    /// The broker user each compose service connects as.
    static let brokerUsers = ["session-registry": "cobrowse-registry", "dom-relay": "cobrowse-relay",
                              "masking-filter": "cobrowse-filter", "interaction-watch": "cobrowse-watch",
                              "cobrowse-ctl": "cobrowse-ctl"]

    static func environment(of service: [String: Any]) -> [String: String] {
        ((service["environment"] as? [String: Any]) ?? [:]).mapValues { "\($0)" }
    }

    /// Host ports a service publishes: `published` of the long syntax, or the host part of a short one.
    static func publishedPorts(of service: [String: Any]) -> [String] {
        ((service["ports"] as? [Any]) ?? []).map { port in
            if let port = port as? [String: Any] { return "\(port["published"] ?? "")" }
            let parts = "\(port)".split(separator: ":")
            return parts.count > 1 ? String(parts[parts.count - 2]) : ""
        }
    }

    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    static func matches(_ pattern: String, in text: String, group: Int = 1) throws -> [String] {
        let regex = try NSRegularExpression(pattern: pattern)
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
            Range($0.range(at: group), in: text).map { String(text[$0]) }
        }
    }

    static func swiftSources(under folders: [String]) -> [URL] {
        folders.flatMap { folder -> [URL] in
            let enumerator = FileManager.default.enumerator(at: root.appendingPathComponent(folder), includingPropertiesForKeys: nil)
            return (enumerator?.allObjects as? [URL] ?? []).filter { $0.pathExtension == "swift" }
        }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

}
