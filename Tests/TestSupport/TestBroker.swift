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
    /// The administrator (the harness, standing in for whatever a test plays) may do anything
    /// there; every other user of `definitions.json` gets exactly the permissions it has on "/"
    /// there, so services run with their production rights. Returns the administrator's
    /// `amqp://` URL for it (`url(_:as:)` makes a user's).
    public static func isolatedVirtualHost(_ prefix: String) async throws -> String {
        let name = uniqueName(prefix)
        let management = try environment("COBROWSE_TEST_MANAGEMENT_URL")
        let base = try AMQPConfiguration(url: url())
        let encoded = name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? name
        try await managementPUT("\(management)/api/vhosts/\(encoded)", body: "{}", user: base.user, password: base.password)
        try await managementPUT("\(management)/api/permissions/\(encoded)/\(base.user)",
                                body: #"{"configure":".*","write":".*","read":".*"}"#, user: base.user, password: base.password)
        for user in try BrokerUser.defined() where user.name != base.user {
            guard let permissions = user.permissions else { continue }
            let body = try JSONSerialization.data(withJSONObject: [
                "configure": permissions.configure, "write": permissions.write, "read": permissions.read,
            ])
            try await managementPUT("\(management)/api/permissions/\(encoded)/\(user.name)", body: String(decoding: body, as: UTF8.self),
                                    user: base.user, password: base.password)
        }
        // The policies too (TTLs, lengths, dead-lettering of the suite's queues), as on "/".
        for policy in try definedPolicies() {
            let body = try JSONSerialization.data(withJSONObject: policy.filter { $0.key != "vhost" && $0.key != "name" })
            let policyName = (policy["name"] as? String ?? "").addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            try await managementPUT("\(management)/api/policies/\(encoded)/\(policyName)", body: String(decoding: body, as: UTF8.self),
                                    user: base.user, password: base.password)
        }
        return "amqp://\(base.user):\(base.password)@\(base.host):\(base.port)/\(encoded)"
    }

    /// The policies of `definitions.json` on "/", as the management API takes them.
    public static func definedPolicies() throws -> [[String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: BrokerUser.definitionsPath))
        let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return (json?["policies"] as? [[String: Any]] ?? []).filter { $0["vhost"] as? String == "/" }
    }

    /// `url` (any virtual host of the private broker) with `user`'s credentials: for the local
    /// run and the tests, each broker user's password is its name.
    public static func url(_ url: String, as user: String) throws -> String {
        guard var components = URLComponents(string: url) else { throw Failure("not a URL: \(AMQPConfiguration.redacted(url))") }
        components.user = user
        components.password = user
        guard let result = components.string else { throw Failure("cannot put \(user) into \(AMQPConfiguration.redacted(url))") }
        return result
    }

    /// The broker user each of the suite's executables runs as (`definitions.json`).
    public static let brokerUsers: [String: String] = [
        "session-registry": "cobrowse-registry", "dom-relay": "cobrowse-relay", "masking-filter": "cobrowse-filter",
        "interaction-watch": "cobrowse-watch", "cobrowse-ctl": "cobrowse-ctl",
    ]

    /// What `executable` gets for its `AMQP_URL`: a URL with the harness's administrator
    /// credentials becomes one with the executable's own user, so no service ever runs as the
    /// administrator in a test (as in production). Any other URL (a wrong password, a closed
    /// port, garbage) is the test's point and stays as it is.
    public static func serviceURL(for executable: String, _ url: String) -> String {
        guard let user = brokerUsers[(executable as NSString).lastPathComponent],
              let given = try? AMQPConfiguration(url: url), let admin = try? AMQPConfiguration(url: Self.url()),
              given.user == admin.user, given.password == admin.password, given.host == admin.host,
              let own = try? Self.url(url, as: user) else { return url }
        return own
    }

    /// A user of `deploy/rabbitmq/definitions.json`, with its permissions on "/" (what the
    /// broker loads at boot, and what `isolatedVirtualHost` grants on a fresh virtual host).
    public struct BrokerUser: Sendable {
        public struct Permissions: Sendable {
            public let configure, write, read: String
        }

        public let name: String
        public let tags: [String]
        public let passwordHash: String
        public let permissions: Permissions?

        public static let definitionsPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("deploy/rabbitmq/definitions.json").path

        /// Every user of the definitions file, read each time (tests may run while it changes).
        public static func defined() throws -> [BrokerUser] {
            let data = try Data(contentsOf: URL(fileURLWithPath: definitionsPath))
            guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let users = json["users"] as? [[String: Any]], let permissions = json["permissions"] as? [[String: Any]] else {
                throw Failure("\(definitionsPath) has no users or permissions")
            }
            return users.compactMap { user in
                guard let name = user["name"] as? String else { return nil }
                let granted = permissions.first { $0["user"] as? String == name && $0["vhost"] as? String == "/" }.map {
                    Permissions(configure: $0["configure"] as? String ?? "^$", write: $0["write"] as? String ?? "^$",
                                read: $0["read"] as? String ?? "^$")
                }
                return BrokerUser(name: name, tags: user["tags"] as? [String] ?? [], passwordHash: user["password_hash"] as? String ?? "",
                                  permissions: granted)
            }
        }

        public static func named(_ name: String) throws -> BrokerUser {
            guard let user = try defined().first(where: { $0.name == name }) else { throw Failure("no user \(name) in \(definitionsPath)") }
            return user
        }
    }

    /// GET `path` (`/api/…`) of the management API as the administrator; the decoded JSON.
    public static func managementGET(_ path: String) async throws -> Any {
        let management = try environment("COBROWSE_TEST_MANAGEMENT_URL")
        let base = try AMQPConfiguration(url: url())
        var request = URLRequest(url: URL(string: management + path)!)
        request.setValue("Basic " + Data("\(base.user):\(base.password)".utf8).base64EncodedString(), forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        guard let status = (response as? HTTPURLResponse)?.statusCode, status == 200 else {
            throw Failure("management API GET \(path) answered \(String(describing: (response as? HTTPURLResponse)?.statusCode))")
        }
        return try JSONSerialization.jsonObject(with: data)
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
