import AMQP
import Foundation

/// The private broker that `deploy/local/test` starts for the tests, found through environment
/// variables that script exports. Integration tests fail (not skip) when it is missing.
public enum TestBroker {
    public struct Missing: Error, CustomStringConvertible {
        public let variable: String
        public var description: String { "\(variable) is not set: run the tests through deploy/local/test" }
    }

    /// Something the test environment could not do (a broker command, a free port, a process).
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    public static func environment(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { throw Missing(variable: name) }
        return value
    }

    /// `amqp://` URL of the private broker.
    public static func url() throws -> String { try environment("COBROWSE_TEST_AMQP_URL") }
    /// `amqps://` URL of its TLS listener (certificate for `localhost`, CA in the URL).
    public static func tlsURL() throws -> String { try environment("COBROWSE_TEST_AMQPS_URL") }
    /// Folder with ca.pem, client.pem and client.key.
    public static func tlsDirectory() throws -> String { try environment("COBROWSE_TEST_TLS_DIR") }

    public static func configuration(name: String = #function) throws -> AMQPConfiguration {
        var configuration = try AMQPConfiguration(url: url())
        configuration.connectionName = "test: \(name)"
        return configuration
    }

    public static func connect(name: String = #function) async throws -> AMQPConnection {
        try await AMQPConnection.connect(configuration(name: name))
    }

    /// A name no other test (or earlier run) uses.
    public static func uniqueName(_ prefix: String) -> String {
        "test.\(prefix).\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Runs rabbitmqctl against the private broker (e.g. `stop_app`, `start_app`).
    public static func rabbitmqctl(_ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try environment("COBROWSE_TEST_RABBITMQCTL"))
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure("rabbitmqctl \(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
        }
    }
}

/// Waits for a condition with a generous bound; for eventual outcomes, never for timing claims.
public func eventually(within limit: Duration = .seconds(30), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

extension AMQPConnection {
    /// A queue of the test's own (server-named, exclusive) bound to `exchange` with `key`, consumed.
    public func listen(to exchange: String, key: String = "#", prefetch: UInt16 = 100, autoAck: Bool = false) async throws -> AMQPConsumer {
        let queue = try await declare(QueueDeclaration.serverNamedExclusive())
        try await bind(QueueBinding(queue: queue.name, exchange: exchange, routingKey: key))
        return try await consume(queue: queue.name, prefetch: prefetch, autoAck: autoAck)
    }
}

extension AMQPConsumer {
    /// The next `count` deliveries, acked; fails if they do not come within `limit`.
    public func take(_ count: Int, within limit: Duration = .seconds(30), ack: Bool = true) async throws -> [AMQPDelivery] {
        try await withThrowingTaskGroup(of: [AMQPDelivery].self) { group in
            group.addTask {
                var received: [AMQPDelivery] = []
                for try await delivery in self {
                    if ack { delivery.ack() }
                    received.append(delivery)
                    if received.count == count { break }
                }
                return received
            }
            group.addTask {
                try await Task.sleep(for: limit)
                throw AMQPError.timedOut(operation: "waiting for \(count) deliveries", after: limit)
            }
            let result = try await group.next()!
            group.cancelAll()
            return result
        }
    }
}

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

extension TestBroker {
    /// A fresh virtual host on the private broker (through the management API), so a test can
    /// run services that declare the suite's fixed queue names without meeting other tests.
    /// Returns the `amqp://` URL for it.
    public static func isolatedVirtualHost(_ prefix: String) async throws -> String {
        let name = uniqueName(prefix)
        let management = try environment("COBROWSE_TEST_MANAGEMENT_URL")
        let base = try AMQPConfiguration(url: url())
        let encoded = name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? name
        try await managementPUT("\(management)/api/vhosts/\(encoded)", body: "{}", user: base.user, password: base.password)
        try await managementPUT("\(management)/api/permissions/\(encoded)/\(base.user)",
                                body: #"{"configure":".*","write":".*","read":".*"}"#, user: base.user, password: base.password)
        return "amqp://\(base.user):\(base.password)@\(base.host):\(base.port)/\(encoded)"
    }

    private static func managementPUT(_ url: String, body: String, user: String, password: String) async throws {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = "PUT"
        request.httpBody = Data(body.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("Basic " + Data("\(user):\(password)".utf8).base64EncodedString(), forHTTPHeaderField: "Authorization")
        let (_, response) = try await URLSession.shared.data(for: request)
        guard let status = (response as? HTTPURLResponse)?.statusCode, (200..<300).contains(status) else {
            throw Failure("management API PUT \(url) answered \(String(describing: (response as? HTTPURLResponse)?.statusCode))")
        }
    }
}

extension AsyncStream where Element: Sendable {
    /// Reads elements until `done` says so, at most `limit`; returns what was read (the test
    /// fails on what is missing instead of hanging).
    public func read(within limit: Duration = .seconds(30), until done: @escaping @Sendable ([Element]) -> Bool) async -> [Element] {
        await withTaskGroup(of: [Element]?.self) { group in
            group.addTask {
                var seen: [Element] = []
                for await element in self {
                    seen.append(element)
                    if done(seen) { break }
                }
                return seen
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? []
        }
    }
}
