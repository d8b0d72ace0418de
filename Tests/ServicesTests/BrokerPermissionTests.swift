import AMQP
import CobrowseBroker
import Foundation
import ServiceKit
import TestSupport
import Testing

/// One broker user per service, each with only what it needs (`deploy/rabbitmq/definitions.json`,
/// docs/operations.md "Broker users"): above all, only the masking filter may write to
/// `cobrowse.view` and `cobrowse.sharer`, so nothing reaches a viewer or a sharer unfiltered. The
/// first tests read the permissions against the code's topology; the others try them on the
/// private broker, on fresh virtual hosts where the harness grants exactly the file's
/// permissions (`TestBroker.isolatedVirtualHost`).
@Suite struct BrokerPermissionTests {
    static let administrator = "cobrowse"
    static let monitor = "cobrowse-monitor"
    static let ctl = "cobrowse-ctl"
    static let filter = "cobrowse-filter"
    /// Every user but the administrator.
    static let users = ["cobrowse-registry", "cobrowse-relay", "cobrowse-filter", "cobrowse-watch", ctl, monitor]

    struct ServiceUser: Sendable, CustomTestStringConvertible {
        let user: String
        let topology: Topology
        /// Whether the service declares a server-named exclusive queue of its own.
        let ownQueue: Bool
        var testDescription: String { user }
    }

    static let services = [
        ServiceUser(user: "cobrowse-registry", topology: CobrowseTopology.sessionRegistry, ownQueue: false),
        ServiceUser(user: "cobrowse-relay", topology: CobrowseTopology.domRelay, ownQueue: true),
        // The filter declares its fixed part at start and every ingest shard once it runs.
        ServiceUser(user: "cobrowse-filter", topology: CobrowseTopology.maskingFilter
            .merging(CobrowseTopology.ingest(shards: CobrowseTopology.ingestShardCount)), ownQueue: true),
        ServiceUser(user: "cobrowse-watch", topology: CobrowseTopology.interactionWatch, ownQueue: true),
    ]

    static func permissions(_ user: String) throws -> TestBroker.BrokerUser.Permissions {
        try #require(try TestBroker.BrokerUser.named(user).permissions, "\(user) has no permissions on / in definitions.json")
    }

    /// RabbitMQ matches a permission's regular expression anywhere in the name (they are anchored).
    static func allows(_ pattern: String, _ name: String) -> Bool {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return false }
        return regex.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil
    }

    /// The users whose `kind` permission covers `name`, the administrator left out.
    static func whoMay(_ kind: KeyPath<TestBroker.BrokerUser.Permissions, String>, _ name: String) throws -> Set<String> {
        Set(try users.filter { allows(try permissions($0)[keyPath: kind], name) })
    }

    // MARK: The definitions

    @Test func definitionsHoldOneUserPerServiceTheToolTheMonitorAndTheAdministrator() throws {
        let defined = try TestBroker.BrokerUser.defined()
        #expect(Set(defined.map(\.name)) == Set(Self.users + [Self.administrator]))
        for user in defined {
            #expect(user.permissions != nil, "\(user.name) has no permissions on /")
            let expectedTags = switch user.name {
            case Self.administrator: ["administrator"]
            case Self.monitor: ["monitoring"]
            case Self.ctl: ["management"] // cobrowse-ctl queues reads the management API
            default: [String]()
            }
            #expect(user.tags == expectedTags, "\(user.name)'s tags")
        }
        let monitor = try Self.permissions(Self.monitor)
        #expect([monitor.configure, monitor.write, monitor.read] == ["^$", "^$", "^$"], "the monitor scrapes; it may not touch messages")
    }

    /// Declaring an exchange or a queue, even one that exists, needs configure on it; binding
    /// needs write on the queue and read on the exchange; creating a queue with a dead-letter
    /// exchange needs read on the queue and write on that exchange.
    @Test(arguments: services)
    func eachServiceMayDeclareItsTopologyAndConfigureNothingElse(service: ServiceUser) throws {
        let granted = try Self.permissions(service.user)
        let own = Set(service.topology.exchanges.map(\.name) + service.topology.queues.map(\.name))
        let everything = Set(CobrowseTopology.all.exchanges.map(\.name) + CobrowseTopology.all.queues.map(\.name))
        for name in everything.sorted() {
            #expect(Self.allows(granted.configure, name) == own.contains(name),
                    "\(service.user) \(own.contains(name) ? "must" : "must not") configure \(name)")
        }
        #expect(Self.allows(granted.configure, "amq.gen-JzTY20BRgKO-HjmUJj0wLg") == service.ownQueue, "server-named queues")
        for binding in service.topology.bindings {
            #expect(Self.allows(granted.write, binding.queue) && Self.allows(granted.read, binding.exchange),
                    "\(service.user) cannot bind \(binding.queue) to \(binding.exchange)")
        }
        for queue in service.topology.queues {
            guard case let .string(deadLetters)? = queue.arguments["x-dead-letter-exchange"] else { continue }
            #expect(Self.allows(granted.read, queue.name) && Self.allows(granted.write, deadLetters),
                    "\(service.user) cannot create \(queue.name), which dead-letters to \(deadLetters)")
        }
    }

    @Test func whoMayWriteAndReadWhat() throws {
        let registry = "cobrowse-registry", relay = "cobrowse-relay", watch = "cobrowse-watch"
        // Only the filter writes to viewers and sharers.
        #expect(try Self.whoMay(\.write, CobrowseTopology.viewExchange) == [Self.filter])
        #expect(try Self.whoMay(\.write, CobrowseTopology.sharerExchange) == [Self.filter])
        // Sharers' frames (and viewers' requests) enter through the relays, activity too.
        #expect(try Self.whoMay(\.write, CobrowseTopology.ingestExchange) == [relay])
        #expect(try Self.whoMay(\.write, CobrowseTopology.activityExchange) == [relay])
        // The registry alone says what happened to a session.
        #expect(try Self.whoMay(\.write, CobrowseTopology.lifecycleExchange) == [registry])
        // Interaction events: the watch's webhook and cobrowse-ctl publish-event (and the contact center).
        #expect(try Self.whoMay(\.write, CobrowseTopology.interactionsExchange) == [watch, Self.ctl])
        // The registry RPC: requests and replies go through the default exchange.
        #expect(try Self.whoMay(\.write, "amq.default") == [registry, relay, Self.filter, watch, Self.ctl])
        // Each work queue has one reader.
        #expect(try Self.whoMay(\.read, CobrowseTopology.registryRPCQueue) == [registry])
        #expect(try Self.whoMay(\.read, CobrowseTopology.interactionsQueue) == [watch])
        for shard in 0..<CobrowseTopology.ingestShardCount {
            #expect(try Self.whoMay(\.read, CobrowseTopology.ingestShardQueue(shard)) == [Self.filter])
        }
        // The filters' heartbeats, from which they share out the shards, are theirs alone.
        #expect(try Self.whoMay(\.write, CobrowseTopology.filterPresenceExchange) == [Self.filter])
        #expect(try Self.whoMay(\.read, CobrowseTopology.filterPresenceExchange) == [Self.filter])
        // Dead letters are the operators' (the management UI, as the administrator).
        #expect(try Self.whoMay(\.read, CobrowseTopology.deadLetterQueue).isEmpty)
    }

    // MARK: On the broker

    /// A connection to `vhost` (an administrator's URL of a fresh virtual host) as `user`.
    static func connect(_ vhost: String, as user: String) async throws -> AMQPConnection {
        var configuration = try AMQPConfiguration(url: try TestBroker.url(vhost, as: user))
        configuration.connectionName = "test: \(user)"
        return try await AMQPConnection.connect(configuration)
    }

    /// A fresh virtual host with the whole topology declared (by the administrator).
    static func virtualHostWithTopology(_ prefix: String) async throws -> (url: String, admin: AMQPConnection) {
        let url = try await TestBroker.isolatedVirtualHost(prefix)
        let admin = try await AMQPConnection.connect(url: url)
        try await admin.declare(CobrowseTopology.all)
        return (url, admin)
    }

    static func isAccessRefused(_ error: any Error, naming resource: String) -> Bool {
        guard case let .channelClosedByBroker(403, text) = error as? AMQPError else { return false }
        return text.contains("ACCESS_REFUSED") && text.contains(resource)
    }

    @Test func onlyTheFiltersUserMayPublishToViewersAndSharers() async throws {
        let (url, admin) = try await Self.virtualHostWithTopology("perm-view")
        defer { Task { await admin.close() } }
        let key = "s.123456789"
        let viewers = try await admin.listen(to: CobrowseTopology.viewExchange, key: key)
        let sharers = try await admin.listen(to: CobrowseTopology.sharerExchange, key: key)

        for user in Self.users where user != Self.filter {
            let connection = try await Self.connect(url, as: user)
            for exchange in [CobrowseTopology.viewExchange, CobrowseTopology.sharerExchange] {
                await #expect("\(user) → \(exchange)") {
                    try await connection.publish(AMQPMessage(#"{"t":"garbage"}"#), exchange: exchange, routingKey: key)
                } throws: { error in
                    Self.isAccessRefused(error, naming: exchange)
                }
            }
            await connection.close()
        }

        let filter = try await Self.connect(url, as: Self.filter)
        defer { Task { await filter.close() } }
        try await filter.publish(AMQPMessage(#"{"t":"masked"}"#), exchange: CobrowseTopology.viewExchange, routingKey: key)
        try await filter.publish(AMQPMessage(#"{"t":"action"}"#), exchange: CobrowseTopology.sharerExchange, routingKey: key)
        // Nothing but the filter's messages arrived.
        #expect(try await viewers.take(1).map { String(decoding: $0.body, as: UTF8.self) } == [#"{"t":"masked"}"#])
        #expect(try await sharers.take(1).map { String(decoding: $0.body, as: UTF8.self) } == [#"{"t":"action"}"#])
    }

    @Test func theMonitorsUserCannotPublishConsumeOrDeclareAnything() async throws {
        let (url, admin) = try await Self.virtualHostWithTopology("perm-monitor")
        defer { Task { await admin.close() } }
        let monitor = try await Self.connect(url, as: Self.monitor)
        defer { Task { await monitor.close() } }
        let targets = CobrowseTopology.all.exchanges.map { ($0.name, $0.name, "s.123456789") }
            + [("", "amq.default", CobrowseTopology.registryRPCQueue), ("amq.topic", "amq.topic", "anything")]
        for (exchange, resource, key) in targets {
            await #expect("monitor → \(resource)") {
                try await monitor.publish(AMQPMessage("x"), exchange: exchange, routingKey: key)
            } throws: { error in
                Self.isAccessRefused(error, naming: resource)
            }
        }
        for queue in CobrowseTopology.all.queues.map(\.name) {
            await #expect("monitor consumes \(queue)") {
                _ = try await monitor.consume(queue: queue)
            } throws: { error in
                Self.isAccessRefused(error, naming: queue)
            }
        }
        await #expect {
            _ = try await monitor.declare(QueueDeclaration.serverNamedExclusive())
        } throws: { error in
            Self.isAccessRefused(error, naming: "amq.gen-")
        }
    }

    @Test func onlyTheWatchsUserMayConsumeTheInteractionsQueue() async throws {
        let (url, admin) = try await Self.virtualHostWithTopology("perm-interactions")
        defer { Task { await admin.close() } }
        for user in Self.users where user != "cobrowse-watch" {
            let connection = try await Self.connect(url, as: user)
            await #expect("\(user) consumes the interactions queue") {
                _ = try await connection.consume(queue: CobrowseTopology.interactionsQueue)
            } throws: { error in
                Self.isAccessRefused(error, naming: CobrowseTopology.interactionsQueue)
            }
            await connection.close()
        }
        let watch = try await Self.connect(url, as: "cobrowse-watch")
        _ = try await watch.consume(queue: CobrowseTopology.interactionsQueue)
        await watch.close()
    }

    /// On an empty virtual host the first service creates what it declares (queues with their
    /// dead-letter exchange included); each user can, and the relay's cannot take the filter's part.
    @Test(arguments: services)
    func eachServicesUserDeclaresItsTopologyOnAnEmptyVirtualHost(service: ServiceUser) async throws {
        let url = try await TestBroker.isolatedVirtualHost("perm-declare")
        let connection = try await Self.connect(url, as: service.user)
        defer { Task { await connection.close() } }
        let declared = try await connection.declare(service.topology)
        #expect(declared.count == service.topology.queues.count)
        if service.ownQueue {
            let queue = try await connection.declare(QueueDeclaration.serverNamedExclusive())
            try await connection.bind(QueueBinding(queue: queue.name, exchange: CobrowseTopology.lifecycleExchange, routingKey: "#"))
        } else {
            await #expect {
                _ = try await connection.declare(QueueDeclaration.serverNamedExclusive())
            } throws: { error in
                Self.isAccessRefused(error, naming: "amq.gen-")
            }
        }
        if service.user == "cobrowse-relay" {
            await #expect {
                _ = try await connection.declare(CobrowseTopology.ingest(shards: CobrowseTopology.ingestShardCount))
            } throws: { error in
                Self.isAccessRefused(error, naming: CobrowseTopology.ingestShardQueue(0))
            }
        }
    }

    /// The integration tests' services (ServiceProcess) run as their own users, not the
    /// harness's administrator: the broker's connection list says who each one is.
    @Test func everyServiceRunsAsItsOwnUser() async throws {
        let url = try await TestBroker.isolatedVirtualHost("perm-services")
        let expected = ["session-registry": "cobrowse-registry", "dom-relay": "cobrowse-relay",
                        "masking-filter": "cobrowse-filter", "interaction-watch": "cobrowse-watch"]
        var started: [ServiceProcess] = []
        defer { for service in started { Task { _ = await service.terminate() } } }
        for executable in expected.keys.sorted() {
            started.append(try await ServiceProcess.ready(executable, environment: [
                "AMQP_URL": url, "INSTANCE_ID": "perm-\(executable)", "TOKEN_HS256_SECRET": "permission-test-secret-of-32-bytes-or-more",
                "REGISTRY_DATABASE": NSTemporaryDirectory() + "perm-\(UUID()).sqlite",
            ]))
        }
        let vhost = try AMQPConfiguration(url: url).virtualHost
        let encoded = vhost.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? vhost
        var users: [String: String] = [:]
        // The management API lists a connection once its statistics come in (a few seconds).
        let listed = try await eventually {
            let connections = try await TestBroker.managementGET("/api/vhosts/\(encoded)/connections") as? [[String: Any]] ?? []
            for connection in connections {
                let name = (connection["client_properties"] as? [String: Any])?["connection_name"] as? String ?? ""
                if let executable = expected.keys.first(where: { name == "\($0) perm-\($0)" }) { users[executable] = connection["user"] as? String }
            }
            return users.count == expected.count
        }
        #expect(listed, "connections seen: \(users)")
        #expect(users == expected)
    }
}
