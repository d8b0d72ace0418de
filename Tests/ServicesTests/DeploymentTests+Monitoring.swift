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
