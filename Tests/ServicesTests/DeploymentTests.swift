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

    // MARK: The compose files

    @Test(arguments: [base, withTLS, withCluster])
    func composeFilesAreValid(files: [String]) throws {
        let result = try Self.dockerCompose(files, "config", "-q")
        #expect(result.status == 0, "docker-compose \(files) config: \(result.stderr)")
    }

    @Test(arguments: [base, withTLS])
    func composeRunsTheBrokerTheServicesTheLoadBalancerAndTheMonitoring(files: [String]) throws {
        let services = try Self.services(files)
        #expect(Set(services.keys) == ["rabbitmq", "session-registry", "dom-relay", "masking-filter", "interaction-watch",
                                       "lb", "prometheus", "grafana", "cobrowse-ctl"])
        // cobrowse-ctl is a command to run (docker compose run --rm cobrowse-ctl …), never started by `up`.
        #expect(services.filter { Self.isTool($0.value) }.keys.sorted() == ["cobrowse-ctl"])
    }

    @Test(arguments: [base, withTLS, withCluster])
    func everyContainerHasAHealthcheck(files: [String]) throws {
        for (name, service) in try Self.services(files) where !Self.isTool(service) {
            let test = (service["healthcheck"] as? [String: Any])?["test"] as? [String]
            #expect(test.map { !$0.isEmpty && $0 != ["NONE"] } == true, "\(name) has no healthcheck")
        }
    }

    /// Liveness is /health (the process answers); readiness (/ready: broker connected, topology
    /// declared) is what the load balancer checks before sending a relay traffic. A broker outage
    /// makes every /ready 503 while the services stay up and reconnect: that is not a reason to
    /// call them unhealthy (docs/operations.md).
    @Test(arguments: [base, withTLS, withCluster])
    func servicesAreCheckedOnHealthAtTheirPort(files: [String]) throws {
        let services = try Self.services(files)
        for definition in Self.definitions {
            let service = try #require(services[definition.name], "\(definition.name) is not in \(files)")
            let test = ((service["healthcheck"] as? [String: Any])?["test"] as? [String] ?? []).joined(separator: " ")
            #expect(test.contains("http://localhost:\(definition.defaultHTTPPort)/health"),
                    "\(definition.name)'s healthcheck is not /health on \(definition.defaultHTTPPort): \(test)")
            #expect(Self.environment(of: service)["HTTP_PORT"] == "\(definition.defaultHTTPPort)")
            let dependsOn = service["depends_on"] as? [String: [String: String]]
            #expect(dependsOn?["rabbitmq"]?["condition"] == "service_healthy", "\(definition.name) does not wait for a healthy broker")
        }
    }

    @Test(arguments: [base, withTLS, withCluster])
    func onlyTheLoadBalancerGrafanaAndTheManagementUIArePublished(files: [String]) throws {
        let services = try Self.services(files)
        var published: [String: [String]] = [:]
        for (name, service) in services where !Self.publishedPorts(of: service).isEmpty {
            published[name] = Self.publishedPorts(of: service).sorted()
        }
        let loadBalancer = files == Self.withTLS ? ["8080", "8443"] : ["8080"]
        #expect(published == ["lb": loadBalancer, "grafana": ["3000"], "rabbitmq": ["15672"]])
        // Replicas of the relay would fight over a host port; the load balancer is their way in.
        #expect(services["dom-relay"]?["ports"] == nil)
    }

    @Test func theRegistryDatabaseIsOnANamedVolume() throws {
        let services = try Self.services(Self.base)
        let registry = try #require(services["session-registry"])
        let database = try #require(Self.environment(of: registry)["REGISTRY_DATABASE"])
        let folder = (database as NSString).deletingLastPathComponent
        let volumes = (registry["volumes"] as? [Any] ?? []).map { "\($0)" }
        // A named volume ("name:/data:rw"), not a bind mount of a host path.
        #expect(volumes.contains { $0.hasPrefix("registry-data:\(folder)") }, "volumes: \(volumes)")
    }

    @Test func composeSetsOnlyVariablesTheServicesOrCobrowseCtlRead() throws {
        // cobrowse-ctl, in every image, reads its own variables (MANAGEMENT_URL) from the same environment.
        let ctlSources = Self.swiftSources(under: ["Tools/CobrowseCtl"]).compactMap { try? String(contentsOf: $0, encoding: .utf8) }
        let ctlVariables = Set(try ctlSources.flatMap { try Self.matches(#"environment\("([A-Z0-9_]+)"\)"#, in: $0) })
        #expect(ctlVariables.contains("MANAGEMENT_URL"), "cobrowse-ctl no longer reads MANAGEMENT_URL: \(ctlVariables)")
        for files in [Self.base, Self.withTLS, Self.withCluster] {
            let services = try Self.services(files)
            for definition in Self.definitions {
                let known = Set(definition.allVariables.map(\.name))
                let names = Self.environment(of: services[definition.name] ?? [:]).keys
                #expect(!names.isEmpty, "\(definition.name) has no environment in \(files)")
                for name in names {
                    // NAME_FILE gives any variable from a file (secrets).
                    let variable = name.hasSuffix("_FILE") && known.contains(String(name.dropLast(5))) ? String(name.dropLast(5)) : name
                    #expect(known.contains(variable) || ctlVariables.contains(variable),
                            "\(files) sets \(name) for \(definition.name), which neither it nor cobrowse-ctl reads")
                }
            }
            let ctl = Self.environment(of: services["cobrowse-ctl"] ?? [:])
            #expect(!ctl.isEmpty, "cobrowse-ctl has no environment in \(files)")
            for name in ctl.keys {
                let variable = name.hasSuffix("_FILE") ? String(name.dropLast(5)) : name
                #expect(variable == "AMQP_URL" || ctlVariables.contains(variable), "\(files) sets \(name) for cobrowse-ctl, which it does not read")
            }
        }
    }

    /// Each service, and cobrowse-ctl, connects as its own broker user (definitions.json), never
    /// as the administrator, with the password definitions.json holds for it.
    @Test(arguments: [base, withTLS])
    func everyServiceConnectsAsItsOwnBrokerUser(files: [String]) throws {
        let services = try Self.services(files)
        var seen: [String: String] = [:]
        for (name, user) in Self.brokerUsers.sorted(by: { $0.key < $1.key }) {
            let service = try #require(services[name], "\(name) is not in \(files)")
            let url = try #require(Self.environment(of: service)["AMQP_URL"], "\(name) has no AMQP_URL")
            let amqp = try AMQPConfiguration(url: url)
            #expect(amqp.user == user, "\(name) connects as \(amqp.user), not \(user)")
            #expect(try Self.isBrokerPassword(amqp.password, of: user), "\(name)'s password is not \(user)'s in definitions.json")
            #expect(try TestBroker.BrokerUser.named(user).tags.allSatisfy { $0 != "administrator" })
            seen[user] = name
        }
        #expect(seen.count == Self.brokerUsers.count, "two services share a broker user: \(seen)")
        // The ctl's own container has the management API (its `queues`); the services do not need it.
        let ctl = Self.environment(of: services["cobrowse-ctl"] ?? [:])
        #expect(ctl["MANAGEMENT_URL"] == "http://rabbitmq:15672")
        #expect((services["cobrowse-ctl"]?["entrypoint"] as? [String])?.first == "/usr/local/bin/cobrowse-ctl")
        for (name, service) in services {
            for (variable, value) in Self.environment(of: service) {
                #expect(!value.contains("://cobrowse:"), "\(name) uses the administrator in \(variable)")
            }
        }
    }

    /// Prometheus scrapes RabbitMQ as cobrowse-monitor (monitoring tag, no rights on messages),
    /// and the broker asks it to sign in.
    @Test func prometheusScrapesRabbitMQAsTheMonitorUser() throws {
        let config = try #require(try Self.yaml(at: Self.root.appendingPathComponent("deploy/prometheus/prometheus.yml")) as? [String: Any])
        let jobs = try #require(config["scrape_configs"] as? [[String: Any]])
        let rabbitmq = try #require(jobs.first { $0["job_name"] as? String == "rabbitmq" })
        let auth = try #require(rabbitmq["basic_auth"] as? [String: Any], "the rabbitmq job does not sign in")
        #expect(auth["username"] as? String == "cobrowse-monitor")
        #expect(auth["password"] == nil, "a password in prometheus.yml; use password_file")
        let passwordFile = try #require(auth["password_file"] as? String)
        let secret = try #require(passwordFile.hasPrefix("/run/secrets/") ? String(passwordFile.dropFirst(13)) : nil,
                                  "\(passwordFile) is not a compose secret")
        for files in [Self.base, Self.withTLS] {
            let compose = try Self.configuration(files)
            let prometheus = try #require((compose["services"] as? [String: [String: Any]])?["prometheus"])
            let secrets = (prometheus["secrets"] as? [Any] ?? []).map { ($0 as? [String: Any])?["source"] as? String ?? "\($0)" }
            #expect(secrets.contains(secret), "prometheus does not get the secret \(secret): \(secrets)")
            let file = try #require(((compose["secrets"] as? [String: Any])?[secret] as? [String: Any])?["file"] as? String,
                                    "no file for the secret \(secret)")
            let password = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try Self.isBrokerPassword(password, of: "cobrowse-monitor"), "\(file) is not cobrowse-monitor's password")
        }
        let monitor = try TestBroker.BrokerUser.named("cobrowse-monitor")
        #expect(monitor.tags == ["monitoring"])
        let permissions = try #require(monitor.permissions)
        #expect([permissions.configure, permissions.write, permissions.read] == ["^$", "^$", "^$"])
        #expect(try Self.text("deploy/rabbitmq/rabbitmq.conf").contains("\nprometheus.authentication.enabled = true\n"))
    }

    /// What compose gives each service must be a configuration it starts with.
    @Test(arguments: [base, withTLS])
    func composeEnvironmentsAreValidConfigurations(files: [String]) throws {
        let services = try Self.services(files)
        for definition in Self.definitions {
            let environment = ServiceEnvironment(Self.environment(of: services[definition.name] ?? [:]))
            let configuration = try ServiceConfiguration(serviceName: definition.name, defaultHTTPPort: definition.defaultHTTPPort,
                                                         environment: environment)
            #expect(configuration.amqp.host == "rabbitmq")
            if files == Self.withTLS {
                #expect(configuration.amqp.port == 5671)
                let ca = try #require(configuration.amqp.tls?.caCertificatePath, "\(definition.name) does not use amqps with a CA")
                let volumes = (services[definition.name]?["volumes"] as? [Any] ?? []).map { "\($0)" }
                #expect(volumes.contains { $0.contains(":\(ca):") }, "\(definition.name) does not mount \(ca): \(volumes)")
            } else {
                #expect(configuration.amqp.tls == nil && configuration.amqp.port == 5672)
            }
        }
    }

    @Test func theTLSOverrideEndsHTTPSAtTheLoadBalancerAndTurnsOnAMQPS() throws {
        let services = try Self.services(Self.withTLS)
        let rabbitmq = (services["rabbitmq"]?["volumes"] as? [Any] ?? []).map { "\($0)" }
        #expect(rabbitmq.contains { $0.contains("deploy/rabbitmq/tls.conf:/etc/rabbitmq/conf.d/") })
        let tlsConf = try Self.text("deploy/rabbitmq/tls.conf")
        #expect(tlsConf.contains("listeners.ssl.default = 5671"))
        for key in ["cacertfile", "certfile", "keyfile"] {
            let path = try #require(try Self.matches(#"ssl_options\.\#(key) = (\S+)"#, in: tlsConf).first, "no ssl_options.\(key)")
            #expect(rabbitmq.contains { $0.hasSuffix(":\(path):ro") }, "\(path) is not mounted into rabbitmq")
        }
        let lb = try #require(services["lb"])
        let certificate = try #require(Self.environment(of: lb)["LB_TLS_CERT"])
        #expect((lb["volumes"] as? [Any] ?? []).contains { "\($0)".contains(":\(certificate):") })
        let haproxy = try Self.text("deploy/lb/haproxy.cfg")
        #expect(haproxy.contains(".if defined(LB_TLS_CERT)") && haproxy.contains(#"ssl crt "${LB_TLS_CERT}""#))
        #expect(haproxy.contains("${LB_HTTPS_PORT}") && Self.environment(of: lb)["LB_HTTPS_PORT"] != nil)
    }

    /// docker-compose.cluster.yml: three RabbitMQ nodes of one cluster (deploy/rabbitmq/cluster.conf),
    /// PostgreSQL under two registries, two filters, and every service given the three nodes,
    /// the services starting at different nodes.
    @Test func theClusterOverrideRunsThreeBrokerNodesPostgreSQLAndServicesOnAllNodes() throws {
        let services = try Self.services(Self.withCluster)
        #expect(Set(services.keys) == ["rabbitmq", "rabbitmq-2", "rabbitmq-3", "postgres", "session-registry", "dom-relay",
                                       "masking-filter", "interaction-watch", "lb", "prometheus", "grafana", "cobrowse-ctl"])
        let clusterConf = try Self.text("deploy/rabbitmq/cluster.conf")
        #expect(clusterConf.contains("\ncluster_formation.peer_discovery_backend = classic_config\n"))
        let nodes = try Self.matches(#"\ncluster_formation\.classic_config\.nodes\.\d+ = rabbit@(\S+)"#, in: clusterConf)
        #expect(nodes == ["rabbitmq", "rabbitmq-2", "rabbitmq-3"])
        var cookies = Set<String>(), dataVolumes = Set<String>()
        for node in nodes {
            let service = try #require(services[node], "\(node) is not a compose service")
            // The node name is rabbit@<hostname>: the name cluster.conf lists.
            #expect(service["hostname"] as? String == node)
            let volumes = (service["volumes"] as? [Any] ?? []).map { "\($0)" }
            #expect(volumes.contains { $0.contains("deploy/rabbitmq/cluster.conf:/etc/rabbitmq/conf.d/") }, "\(node) does not read cluster.conf")
            #expect(volumes.contains { $0.contains("deploy/rabbitmq/rabbitmq.conf:/etc/rabbitmq/rabbitmq.conf") })
            #expect(volumes.contains { $0.contains("deploy/rabbitmq/definitions.json:/etc/rabbitmq/definitions.json") })
            let data = try #require(volumes.first { $0.contains(":/var/lib/rabbitmq:") }, "\(node) has no data volume")
            // A named volume of its own, not a host folder.
            #expect(!data.hasPrefix("/") && !data.hasPrefix("."), "\(node)'s data: \(data)")
            dataVolumes.insert(String(data.prefix { $0 != ":" }))
            cookies.insert(Self.environment(of: service)["RABBITMQ_ERLANG_COOKIE"] ?? "")
        }
        #expect(dataVolumes.count == nodes.count, "the nodes share a data volume: \(dataVolumes)")
        #expect(cookies.count == 1 && !cookies.contains(""), "the nodes do not share one Erlang cookie")
        for node in nodes.dropFirst() {
            let dependsOn = services[node]?["depends_on"] as? [String: [String: String]]
            #expect(dependsOn?["rabbitmq"]?["condition"] == "service_healthy", "\(node) does not wait for node 1 to form the cluster")
        }

        let postgres = try #require(services["postgres"])
        #expect((postgres["image"] as? String ?? "").hasPrefix("postgres:"))
        #expect(Self.environment(of: postgres)["POSTGRES_USER"] == "cobrowse" && Self.environment(of: postgres)["POSTGRES_DB"] == "cobrowse")
        let postgresCheck = ((postgres["healthcheck"] as? [String: Any])?["test"] as? [String] ?? []).joined(separator: " ")
        #expect(postgresCheck.contains("pg_isready"), "postgres healthcheck: \(postgresCheck)")
        #expect((postgres["volumes"] as? [Any] ?? []).contains { "\($0)".hasPrefix("postgres-data:/var/lib/postgresql/data") })

        var firstNodes: [String: String] = [:]
        for definition in Self.definitions {
            let service = try #require(services[definition.name])
            let dependsOn = service["depends_on"] as? [String: [String: String]] ?? [:]
            for node in nodes {
                #expect(dependsOn[node]?["condition"] == "service_healthy", "\(definition.name) does not wait for \(node)")
            }
            let configuration = try ServiceConfiguration(serviceName: definition.name, defaultHTTPPort: definition.defaultHTTPPort,
                                                         environment: ServiceEnvironment(Self.environment(of: service)))
            #expect(configuration.amqp.endpoints.map(\.host).sorted() == nodes, "\(definition.name): \(configuration.amqp.endpoints)")
            #expect(configuration.amqp.endpoints.allSatisfy { $0.port == 5672 })
            #expect(configuration.amqp.user == Self.brokerUsers[definition.name])
            firstNodes[definition.name] = configuration.amqp.host
        }
        #expect(Set(firstNodes.values).count == nodes.count, "the services do not start at different nodes: \(firstNodes)")

        let registry = try #require(services["session-registry"])
        #expect((registry["deploy"] as? [String: Any])?["replicas"] as? Int == 2)
        #expect((services["masking-filter"]?["deploy"] as? [String: Any])?["replicas"] as? Int == 2)
        let database = Self.environment(of: registry)["REGISTRY_DATABASE"] ?? ""
        #expect(database.hasPrefix("postgres://cobrowse:") && database.hasSuffix("@postgres:5432/cobrowse"), "REGISTRY_DATABASE: \(database)")
        let registryDependsOn = registry["depends_on"] as? [String: [String: String]]
        #expect(registryDependsOn?["postgres"]?["condition"] == "service_healthy")
    }

    // MARK: The load balancer

    @Test func theLoadBalancerFindsEveryRelayAndSendsTrafficOnlyToReadyOnes() throws {
        let haproxy = try Self.text("deploy/lb/haproxy.cfg")
        let relayPort = DOMRelayService.definition.defaultHTTPPort
        // Docker's DNS, one server slot per replica.
        #expect(haproxy.contains("nameserver docker 127.0.0.11:53"))
        #expect(try !Self.matches(#"server-template \S+ \d+ dom-relay:\#(relayPort)"#, in: haproxy, group: 0).isEmpty)
        let relayBackend = haproxy.components(separatedBy: "\nbackend dom-relay\n").dropFirst().first?.components(separatedBy: "\nbackend ").first ?? ""
        #expect(relayBackend.contains("uri /ready") && relayBackend.contains("resolvers docker"))
        // Sockets live long: the tunnel timeout is at least minutes.
        #expect(try !Self.matches(#"timeout tunnel [1-9]\d*[mh]\b"#, in: haproxy, group: 0).isEmpty, "no long timeout tunnel")
        // The watch's webhook is reachable from outside, the services' metrics are not.
        #expect(haproxy.contains("use_backend interaction-watch if { path /interaction-events }"))
        #expect(haproxy.contains("interaction-watch:\(InteractionWatchService.definition.defaultHTTPPort)"))
        #expect(haproxy.contains("deny") && haproxy.contains("{ path /metrics }"))
        let services = try Self.services(Self.base)
        #expect((services["lb"]?["volumes"] as? [Any] ?? []).contains { "\($0)".contains("deploy/lb/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg") })
    }

    // MARK: Monitoring

    @Test func prometheusScrapesEveryReplicaOfEveryServiceAndRabbitMQ() throws {
        let config = try #require(try Self.yaml(at: Self.root.appendingPathComponent("deploy/prometheus/prometheus.yml")) as? [String: Any])
        let jobs = try #require(config["scrape_configs"] as? [[String: Any]])
        func job(_ name: String) -> [String: Any]? { jobs.first { $0["job_name"] as? String == name } }
        for definition in Self.definitions {
            let scrape = try #require(job(definition.name), "no scrape job for \(definition.name)")
            // DNS service discovery, type A: one target per running replica.
            let discovery = scrape["dns_sd_configs"] as? [[String: Any]] ?? []
            #expect(discovery.contains {
                ($0["names"] as? [String]) == [definition.name] && $0["type"] as? String == "A" && $0["port"] as? Int == definition.defaultHTTPPort
            }, "\(definition.name) is not discovered through DNS on port \(definition.defaultHTTPPort)")
            #expect((scrape["metrics_path"] as? String ?? "/metrics") == "/metrics")
        }
        let rabbitmq = try #require(job("rabbitmq"))
        // Every node of the compose cluster (docker-compose.cluster.yml), through DNS: the single
        // broker of docker-compose.yml is the first of them.
        let nodes = (rabbitmq["dns_sd_configs"] as? [[String: Any]] ?? []).filter { $0["port"] as? Int == 15692 }
            .flatMap { $0["names"] as? [String] ?? [] }
        #expect(nodes == ["rabbitmq", "rabbitmq-2", "rabbitmq-3"])
        let cluster = try Self.text("docker-compose.cluster.yml")
        for node in nodes { #expect(cluster.contains("\n  \(node):"), "\(node) is not a service of docker-compose.cluster.yml") }
        let brokerConfiguration = try Self.text("deploy/rabbitmq/rabbitmq.conf")
        let perObject = rabbitmq["metrics_path"] as? String == "/metrics/per-object"
            || brokerConfiguration.contains("prometheus.return_per_object_metrics = true")
        #expect(perObject, "RabbitMQ's per-queue metrics need /metrics/per-object")
        #expect((try Self.text("deploy/rabbitmq/enabled_plugins")).contains("rabbitmq_prometheus"))
    }

    static func dashboard() throws -> [String: Any] {
        let data = try Data(contentsOf: root.appendingPathComponent("deploy/grafana/dashboards/cobrowse.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func panels(_ dashboard: [String: Any]) -> [[String: Any]] {
        func flatten(_ panels: [[String: Any]]) -> [[String: Any]] {
            panels.flatMap { [$0] + flatten($0["panels"] as? [[String: Any]] ?? []) }
        }
        return flatten(dashboard["panels"] as? [[String: Any]] ?? [])
    }

    static func queries(_ dashboard: [String: Any]) -> [String] {
        panels(dashboard).flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
    }

    /// Metric names the services export: the labels of their swift-metrics instruments.
    static func exportedMetrics() throws -> (plain: Set<String>, histograms: Set<String>) {
        var plain = Set<String>(), histograms = Set<String>()
        for file in swiftSources(under: ["Services", "Shared"]) {
            let source = try String(contentsOf: file, encoding: .utf8)
            plain.formUnion(try matches(#"\b(?:Counter|FloatingPointCounter|Gauge|Meter)\(label:\s*"([^"]+)""#, in: source))
            // Timers and recorders are Prometheus histograms: _bucket, _sum and _count.
            histograms.formUnion(try matches(#"\b(?:Timer|Recorder)\(label:\s*"([^"]+)""#, in: source))
        }
        return (plain, histograms)
    }

    /// The suite's metric names a PromQL expression uses (RabbitMQ's and HAProxy's are theirs).
    static func suiteMetrics(in expression: String) throws -> Set<String> {
        Set(try matches(#"(?<![A-Za-z0-9_:.])((?:cobrowse|amqp)_[a-z0-9_]+)"#, in: expression))
    }

    @Test func everyMetricTheDashboardQueriesIsExportedByTheServices() throws {
        let (plain, histograms) = try Self.exportedMetrics()
        #expect(plain.contains("amqp_connected") && histograms.contains("cobrowse_live_path_seconds"), "metric labels not found in the sources")
        for query in Self.queries(try Self.dashboard()) {
            for metric in try Self.suiteMetrics(in: query) {
                let histogram = ["_bucket", "_sum", "_count"].contains { metric.hasSuffix($0) && histograms.contains(String(metric.dropLast($0.count))) }
                #expect(plain.contains(metric) || histogram, "the dashboard queries \(metric), which no service exports: \(query)")
            }
        }
    }

    @Test func everyMetricTheServicesExportIsOnTheDashboard() throws {
        let (plain, histograms) = try Self.exportedMetrics()
        let used = Set(try Self.queries(try Self.dashboard()).flatMap { try Self.suiteMetrics(in: $0) })
        for metric in plain.sorted() { #expect(used.contains(metric), "no panel shows \(metric)") }
        for metric in histograms.sorted() { #expect(used.contains("\(metric)_bucket"), "no panel shows the quantiles of \(metric)") }
    }

    @Test func theDashboardShowsRabbitMQsQueues() throws {
        let queries = Self.queries(try Self.dashboard()).joined(separator: "\n")
        for metric in ["rabbitmq_queue_messages_ready", "rabbitmq_queue_messages_unacked", "rabbitmq_queue_consumers",
                       "rabbitmq_queue_messages_published_total", "rabbitmq_channel_messages_delivered_ack_total"] {
            #expect(queries.contains(metric), "no panel shows \(metric)")
        }
        #expect(queries.contains("histogram_quantile(0.5,") && queries.contains("histogram_quantile(0.99,"))
    }

    @Test func theDashboardIsProvisionedWithItsDataSource() throws {
        let dashboard = try Self.dashboard()
        #expect(dashboard["uid"] as? String != nil && dashboard["title"] as? String != nil)
        #expect((dashboard["schemaVersion"] as? Int ?? 0) >= 36)
        let datasource = try #require(try Self.yaml(at: Self.root.appendingPathComponent("deploy/grafana/provisioning/datasources/prometheus.yml")) as? [String: Any])
        let prometheus = try #require((datasource["datasources"] as? [[String: Any]])?.first { $0["type"] as? String == "prometheus" })
        let uid = try #require(prometheus["uid"] as? String)
        #expect(prometheus["url"] as? String == "http://prometheus:9090")
        let panels = Self.panels(dashboard)
        #expect(Set(panels.compactMap { $0["id"] as? Int }).count == panels.count, "panel ids repeat")
        for panel in panels where panel["type"] as? String != "row" {
            let title = panel["title"] as? String ?? "?"
            #expect((panel["datasource"] as? [String: Any])?["uid"] as? String == uid, "\(title) does not use the data source \(uid)")
            #expect(panel["gridPos"] as? [String: Any] != nil, "\(title) has no position")
            for target in panel["targets"] as? [[String: Any]] ?? [] {
                #expect((target["datasource"] as? [String: Any])?["uid"] as? String == uid, "a query of \(title) does not use \(uid)")
            }
        }
        let provider = try #require(try Self.yaml(at: Self.root.appendingPathComponent("deploy/grafana/provisioning/dashboards/cobrowse.yml")) as? [String: Any])
        let path = try #require(((provider["providers"] as? [[String: Any]])?.first?["options"] as? [String: Any])?["path"] as? String)
        let grafana = try #require(try Self.services(Self.base)["grafana"])
        let volumes = (grafana["volumes"] as? [Any] ?? []).map { "\($0)" }
        #expect(volumes.contains { $0.contains("deploy/grafana/dashboards:\(path)") }, "\(path) is not mounted: \(volumes)")
        #expect(volumes.contains { $0.contains("deploy/grafana/provisioning:/etc/grafana/provisioning") })
    }

    // MARK: The image

    @Test func theDockerfileCopiesEverySourceFolderAndBuildsEveryProduct() throws {
        let manifest = try Self.text("Package.swift")
        let dockerfile = try Self.text("deploy/docker/Dockerfile")
        let ignore = try Self.text("deploy/docker/Dockerfile.dockerignore")
        // Every folder a target lives in (test targets default to Tests/): SwiftPM wants them all.
        var folders = Set(try Self.matches(#"path:\s*"([^"/]+)"#, in: manifest))
        if manifest.contains(".testTarget(") { folders.insert("Tests") }
        #expect(folders.isSuperset(of: ["Shared", "Services", "Tools", "Tests"]), "folders: \(folders)")
        for folder in folders {
            #expect(dockerfile.contains("\nCOPY \(folder) \(folder)\n"), "the Dockerfile does not copy \(folder)/")
            #expect(ignore.contains("\n!\(folder)\n"), "Dockerfile.dockerignore leaves \(folder)/ out of the build context")
        }
        #expect(dockerfile.contains("COPY Package.swift "))

        let products = try Self.matches(#"\.executable\(name:\s*"([^"]+)""#, in: manifest)
        let built = try #require(try Self.matches(#"ARG PRODUCTS="([^"]+)""#, in: dockerfile).first).split(separator: " ").map(String.init)
        #expect(products.contains("cobrowse-ctl"))
        #expect(Set(built) == Set(products), "the Dockerfile builds \(built), Package.swift has \(products)")
        #expect(dockerfile.contains("--static-swift-stdlib"))
        // The one image holds every product, cobrowse-ctl among them.
        #expect(dockerfile.contains("COPY --from=build /out/bin/ /usr/local/bin/"))
        #expect(dockerfile.contains("\nUSER cobrowse\n"), "the image runs as root")
        // No secret in the image: nothing from deploy/tls, no ENV naming one.
        #expect(!dockerfile.contains("deploy/tls"))
        for line in dockerfile.split(separator: "\n") where line.hasPrefix("ENV ") || line.hasPrefix("ARG ") {
            #expect(!["SECRET", "TOKEN", "PASSWORD", "AMQP_URL"].contains { line.uppercased().contains($0) }, "secret in the image: \(line)")
        }
        // Every compose service runs the one image of this Dockerfile, with its executable as its command.
        let services = try Self.services(Self.base)
        for definition in Self.definitions {
            let build = services[definition.name]?["build"] as? [String: Any]
            #expect(services[definition.name]?["image"] as? String == "cobrowse")
            #expect(services[definition.name]?["command"] as? [String] == ["/usr/local/bin/\(definition.name)"])
            #expect(build?["dockerfile"] as? String == "deploy/docker/Dockerfile")
            #expect(built.contains(definition.name))
        }
    }

    // MARK: Documentation

    @Test func everyVariableAServiceReadsIsInTheReadmeConfigurationTables() throws {
        let readme = try Self.text("README.md")
        for definition in Self.definitions {
            for variable in definition.allVariables {
                #expect(readme.contains("| `\(variable.name)` |"), "\(definition.name) reads \(variable.name), which README.md does not document")
            }
        }
    }

    @Test func theOperationsGuideNamesEveryQueueAndExchange() throws {
        let guide = try Self.text("docs/operations.md")
        let names = [CobrowseTopology.ingestExchange, CobrowseTopology.viewExchange, CobrowseTopology.sharerExchange,
                     CobrowseTopology.lifecycleExchange, CobrowseTopology.deadLetterExchange, CobrowseTopology.interactionsExchange,
                     CobrowseTopology.activityExchange, CobrowseTopology.registryRPCQueue, CobrowseTopology.interactionsQueue,
                     CobrowseTopology.deadLetterQueue, "cobrowse.ingest.shard."]
        for name in names { #expect(guide.contains("`\(name)"), "docs/operations.md does not explain \(name)") }
    }
}
