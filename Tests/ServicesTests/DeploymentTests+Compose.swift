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

extension DeploymentTests {
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
            // With the TLS override every service serves HTTPS, and its healthcheck asks so.
            let scheme = files == Self.withTLS ? "https" : "http"
            #expect(test.contains("\(scheme)://localhost:\(definition.defaultHTTPPort)/health"),
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
            // The certificate files live in containers, not here: their mounts are checked below.
            var variables = Self.environment(of: services[definition.name] ?? [:])
            let certificate = variables.removeValue(forKey: "TLS_CERT_FILE"), key = variables.removeValue(forKey: "TLS_KEY_FILE")
            let configuration = try ServiceConfiguration(serviceName: definition.name, defaultHTTPPort: definition.defaultHTTPPort,
                                                         environment: ServiceEnvironment(variables))
            let volumes = (services[definition.name]?["volumes"] as? [Any] ?? []).map { "\($0)" }
            if files == Self.withTLS {
                for file in [certificate, key] {
                    let path = try #require(file, "\(definition.name) serves no HTTPS in \(files)")
                    #expect(volumes.contains { $0.contains(":\(path):") }, "\(definition.name) does not mount \(path): \(volumes)")
                }
            } else {
                #expect(certificate == nil && key == nil)
            }
            #expect(configuration.amqp.host == "rabbitmq")
            if files == Self.withTLS {
                #expect(configuration.amqp.port == 5671)
                let ca = try #require(configuration.amqp.tls?.caCertificatePath, "\(definition.name) does not use amqps with a CA")
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
}
