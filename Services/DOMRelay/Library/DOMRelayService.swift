import AMQP
import CobrowseBroker
import CobrowseProtocol
import CobrowseTokens
import Foundation
import HummingbirdTLS
import Logging
import ServiceKit

/// What the relay reads from its environment, beyond what every service reads.
public struct RelayConfiguration: Sendable {
    public static let allowedOrigins = EnvironmentVariable(
        "ALLOWED_ORIGINS", default: "",
        "Comma-separated origins whose pages may open co-browse sockets (`*` for any); empty: the relay's own origin only.")
    public static let maxFrameBytes = EnvironmentVariable(
        "MAX_FRAME_BYTES", default: "4194304", "Largest WebSocket message (a page snapshot) accepted; bigger closes the socket.")
    public static let devMode = EnvironmentVariable(
        "DEV_MODE", default: "0",
        "`1` serves the demo shop at `/demo/` and the dev token endpoints `/dev/interaction-token`, `/dev/agent-token`. Never in production.")
    /// Its own name, not the registry's: a production relay is never handed the signing secret.
    public static let devTokenSecret = EnvironmentVariable(
        "DEV_TOKEN_SECRET", default: "", "Dev mode only: the HS256 secret the dev endpoints sign with (the registry's TOKEN_HS256_SECRET).")
    public static let webRoot = EnvironmentVariable(
        "WEB_ROOT", default: "",
        "Folder with `Public/` and `Demo/` to serve instead of the relay's bundled copy (e.g. `Services/DOMRelay/Web` while working on the SDK).")
    public static let activityReportInterval = EnvironmentVariable(
        "ACTIVITY_REPORT_INTERVAL", default: "5",
        "Seconds between the relay's reports of its sessions' presence and activity to `interaction-watch` (keep well under its grace periods).")
    public static let sharerFramesPerSecond = EnvironmentVariable(
        "SHARER_FRAMES_PER_SECOND", default: "300",
        "Messages per second one customer socket may send (it saves up 2 s of allowance for bursts); the excess is dropped and the viewers resync.")
    public static let sharerBytesPerSecond = EnvironmentVariable(
        "SHARER_BYTES_PER_SECOND", default: "8388608", "Bytes per second one customer socket may send (a burst of 2 s, and always one `MAX_FRAME_BYTES` snapshot).")
    public static let viewerFramesPerSecond = EnvironmentVariable(
        "VIEWER_FRAMES_PER_SECOND", default: "100", "Messages per second one agent console may send (pointer moves, actions); the excess is dropped.")
    public static let viewerBytesPerSecond = EnvironmentVariable(
        "VIEWER_BYTES_PER_SECOND", default: "1048576", "Bytes per second one agent console may send.")
    public static let budgetCloseAfter = EnvironmentVariable(
        "BUDGET_CLOSE_AFTER", default: "5", "Seconds in a row a socket may exceed its budget before it is closed (1008).")
    public static let firstMessageTimeout = EnvironmentVariable(
        "FIRST_MESSAGE_TIMEOUT", default: "10", "Seconds a new socket has to send its opening message (`start`, `resume`, `join`) before it is closed.")
    public static let wrongIDLimit = EnvironmentVariable(
        "WRONG_ID_LIMIT", default: "10",
        "Wrong attempts (unknown session id, wrong customer key, a session not the agent's) one client address or agent may make per `WRONG_ID_WINDOW`; then `too-many-attempts` (HTTP 429).")
    public static let wrongIDWindow = EnvironmentVariable(
        "WRONG_ID_WINDOW", default: "60", "Seconds of the sliding window `WRONG_ID_LIMIT` counts in.")
    public static let trustedProxies = EnvironmentVariable(
        "TRUSTED_PROXIES", default: "",
        "Comma-separated addresses or IPv4 networks (`10.0.0.0/8`) of proxies whose `X-Forwarded-For` names the client (the load balancer); empty: the connected address is the client.")
    public static let ingestBatchWindow = EnvironmentVariable(
        "INGEST_BATCH_WINDOW", default: "5",
        "Milliseconds a busy relay gathers what goes to the masking filter into one message per ingest shard (`0`: never wait; each round takes what came meanwhile). Longer: less CPU per frame under load, more latency.")
    public static let adminToken = EnvironmentVariable(
        "ADMIN_TOKEN", default: "",
        "Bearer token of the rules editor (`/editor/`, `/cobrowse/editor/*`, `PUT /cobrowse/rules`); unset: the editor is off, except in dev mode, where it needs no token.")
    public static let consoleEmbedders = EnvironmentVariable(
        "CONSOLE_EMBEDDERS", default: "",
        "Comma-separated origins of the pages (a contact-center desktop) that may frame the agent console and hand it the agent's token by postMessage (docs/agent-console.md).")
    public static let variables = [allowedOrigins, maxFrameBytes, devMode, devTokenSecret, webRoot, activityReportInterval, adminToken,
                                   consoleEmbedders,
                                   MaskingRulesConfiguration.variable,
                                   sharerFramesPerSecond, sharerBytesPerSecond, viewerFramesPerSecond, viewerBytesPerSecond,
                                   budgetCloseAfter, firstMessageTimeout, wrongIDLimit, wrongIDWindow, trustedProxies,
                                   ingestBatchWindow, IngestShards.variable]

    public var allowedOrigins: Set<String>
    public var maxFrameBytes: Int
    /// The dev endpoints' signing secret; nil: not in dev mode.
    public var devTokenSecret: String?
    /// The rules editor's token; nil: no token (the editor is off, or open in dev mode).
    public var adminToken: String?
    /// Origins that may frame the console and hand it a token (`CONSOLE_EMBEDDERS`).
    public var consoleEmbedders: [String]
    public var webRoot: String?
    public var activityReportInterval: Duration
    var sharerBudget: FrameBudget.Limits
    var viewerBudget: FrameBudget.Limits
    public var firstMessageTimeout: Duration
    var wrongAttempts: AttemptLimiter.Limits
    var clientAddresses: ClientAddresses
    var ingest: IngestBatcher.Limits
    /// `INGEST_SHARDS`: what a session's shard is counted modulo.
    public var ingestShards: Int

    public init(_ environment: ServiceEnvironment) throws {
        activityReportInterval = try environment.seconds(Self.activityReportInterval, in: 0.1...60)
        allowedOrigins = Set(environment.string(Self.allowedOrigins).split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        maxFrameBytes = try environment.int(Self.maxFrameBytes, in: 1024...(64 << 20))
        let closeAfter = try environment.int(Self.budgetCloseAfter, in: 1...3600)
        sharerBudget = FrameBudget.Limits(framesPerSecond: Double(try environment.int(Self.sharerFramesPerSecond, in: 1...1_000_000)),
                                          bytesPerSecond: Double(try environment.int(Self.sharerBytesPerSecond, in: 1024...(1 << 34))),
                                          closeAfter: closeAfter, largestMessage: maxFrameBytes)
        viewerBudget = FrameBudget.Limits(framesPerSecond: Double(try environment.int(Self.viewerFramesPerSecond, in: 1...1_000_000)),
                                          bytesPerSecond: Double(try environment.int(Self.viewerBytesPerSecond, in: 1024...(1 << 34))),
                                          closeAfter: closeAfter)
        firstMessageTimeout = try environment.seconds(Self.firstMessageTimeout, in: 0.1...3600)
        wrongAttempts = AttemptLimiter.Limits(limit: try environment.int(Self.wrongIDLimit, in: 1...1_000_000),
                                              window: try environment.seconds(Self.wrongIDWindow, in: 1...86400))
        ingest = IngestBatcher.Limits(window: .milliseconds(try environment.int(Self.ingestBatchWindow, in: 0...1000)))
        ingestShards = try IngestShards.count(environment)
        let proxies = environment.string(Self.trustedProxies)
        do {
            clientAddresses = try ClientAddresses(trusted: proxies)
        } catch {
            throw ConfigurationError(variable: Self.trustedProxies.name, value: proxies,
                                     expected: "comma-separated addresses or IPv4 networks like 10.0.0.0/8 (not '\(error.entry)')")
        }
        consoleEmbedders = try environment.string(Self.consoleEmbedders).split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .map { origin in
                guard let url = URL(string: origin), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil,
                      url.path.isEmpty, url.query == nil else {
                    throw ConfigurationError(variable: Self.consoleEmbedders.name, value: origin,
                                             expected: "origins like https://desktop.example (scheme, host and port only), comma-separated")
                }
                return origin
            }
        let admin = environment.string(Self.adminToken)
        adminToken = admin.isEmpty ? nil : admin
        let root = environment.string(Self.webRoot)
        if !root.isEmpty {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: "\(root)/Public", isDirectory: &isFolder), isFolder.boolValue else {
                throw ConfigurationError(variable: Self.webRoot.name, value: root, expected: "a folder containing Public/ (and Demo/)")
            }
            webRoot = root
        }
        if try environment.bool(Self.devMode) {
            let secret = environment.string(Self.devTokenSecret)
            guard secret.utf8.count >= 32 else {
                throw ConfigurationError(variable: Self.devTokenSecret.name, value: secret.isEmpty ? "" : "(hidden)",
                                         expected: "the registry's HS256 secret (≥ 32 bytes) when DEV_MODE=1")
            }
            devTokenSecret = secret
        }
    }
}

/// `dom-relay`: the public edge. WebSockets for sharers and viewers; stateless beyond its
/// sockets, with one exclusive queue per instance whose bindings follow the sockets.
public enum DOMRelayService {
    public static let definition = ServiceDefinition(
        name: "dom-relay",
        defaultHTTPPort: 8080,
        topology: CobrowseTopology.domRelay,
        variables: RelayConfiguration.variables,
        start: start
    )

    static func start(_ configuration: ServiceConfiguration, logger: Logger) async throws -> ServiceParts {
        let relay = try RelayConfiguration(configuration.environment)
        let hub = SocketHub()
        let ingest = IngestBatcher(limits: relay.ingest, shardCount: relay.ingestShards, logger: logger)
        var routes = SocketRoutes(hub: hub, allowedOrigins: relay.allowedOrigins, maxFrameBytes: relay.maxFrameBytes,
                                       sharerBudget: relay.sharerBudget, viewerBudget: relay.viewerBudget,
                                       firstMessageTimeout: relay.firstMessageTimeout, servesTLS: configuration.tls != nil,
                                       attempts: AttemptLimiter(relay.wrongAttempts), clientAddresses: relay.clientAddresses,
                                       ingest: ingest, logger: logger)
        routes.testHooks = relay.devTokenSecret != nil
        let endpoints = routes
        var devTokens: ContactCenterTokens?
        if let secret = relay.devTokenSecret {
            logger.warning("DEV_MODE=1: serving /demo/ and token endpoints that sign as the contact center; never in production")
            devTokens = await ContactCenterTokens.hs256(secret)
        }
        let rules = try MaskingRulesConfiguration.load(configuration.environment)
        let web = AssetRoutes(rules: rules, logger: logger, allowsOrigin: endpoints.allows(origin:host:), devTokens: devTokens,
                                 webRoot: relay.webRoot, consoleEmbedders: relay.consoleEmbedders)
        let editor = RulesEditorRoutes(rules: rules, adminToken: relay.adminToken, devMode: relay.devTokenSecret != nil,
                                       maxFrameBytes: relay.maxFrameBytes, broker: { await hub.connectedBroker() }, logger: logger)
        return ServiceParts(
            addRoutes: { router in
                endpoints.addRefusals(to: router)
                endpoints.addCustomerEnd(to: router)
                editor.add(to: router)
                VoiceCodeRoutes(broker: { await hub.connectedBroker() }, logger: logger).add(to: router)
                SupervisionRoutes(broker: { await hub.connectedBroker() }, logger: logger).add(to: router)
                web.add(to: router)
            },
            addWebSocketRoutes: { router in endpoints.add(to: router) },
            maxWebSocketFrame: relay.maxFrameBytes,
            work: { connection in
                try await IngestShards.check(relay.ingestShards, on: connection, logger: logger)
                // What the sockets send the filter, published a batch per shard at a time.
                let publisher = Task { await ingest.run(on: connection) }
                defer { publisher.cancel() }
                // Rules reload beside the sockets (the relay hands each page its current rules).
                let watcher = Task { await rules.watch(logger: logger) }
                defer { watcher.cancel() }
                let reporter = Task {
                    await reportActivity(of: hub, every: relay.activityReportInterval, as: "\(configuration.instanceID)",
                                         on: connection, logger: logger)
                }
                defer { reporter.cancel() }
                let events = connection.events()
                let recovery = Task {
                    for await event in events {
                        switch event {
                        case .disconnected: await hub.brokerConnection(up: false)
                        case .reconnected:
                            await hub.brokerConnection(up: true)
                            await relearn(hub, endpoints: endpoints, on: connection, logger: logger)
                        default: break
                        }
                    }
                }
                defer { recovery.cancel() }
                // This instance's own queue: a slow relay drops its oldest frames (viewers resync)
                // rather than growing without bound.
                let queue = try await connection.declare(QueueDeclaration.serverNamedExclusive(arguments: [
                    "x-max-length": 100_000, "x-overflow": "drop-head",
                ]))
                await hub.attach(connection: connection, queue: queue.name)
                // Acknowledged in batches (the broker's cost per message is most of the live
                // path's); a timer settles the rest, so a quiet queue holds nothing unacknowledged.
                let acks = BatchedAcknowledger(every: 100)
                let flusher = Task {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .milliseconds(500))
                        acks.flush()
                    }
                }
                defer { flusher.cancel() }
                for try await delivery in try await connection.consume(queue: queue.name, prefetch: 1000) {
                    await hub.deliver(exchange: delivery.exchange, routingKey: delivery.routingKey, body: delivery.body,
                                      receivedAt: delivery.properties.headers[CobrowseTopology.receivedAtHeader]?.intValue)
                    acks.processed(delivery)
                }
            })
    }

    /// After a reconnect the relay may have missed lifecycle events and stream frames (its queue
    /// died with the connection): it asks the registry about every session it holds sockets for,
    /// closes the ended ones with the reason, and asks the sharers of the others for a snapshot.
    static func relearn(_ hub: SocketHub, endpoints: SocketRoutes, on connection: AMQPConnection, logger: Logger) async {
        let registry = RegistryClient(connection: connection)
        // The queue is back (the reconnect recovered it before saying so).
        let reconnectedAt = Date().millisecondsSince1970
        let sessions = await hub.sessionsHere
        await withTaskGroup(of: Void.self) { group in
            for (id, hasViewers) in sessions {
                group.addTask {
                    do {
                        // At once, not after the registry's answer: in a cluster that answer may
                        // wait for a quorum queue's new leader, and the filter, which may have
                        // asked for a snapshot itself meanwhile, counts a late request as another.
                        // (For a session that turns out ended, the request is dropped unread.)
                        if hasViewers { try endpoints.requestSnapshot("the relay reconnected", session: id, reconnectedAt: reconnectedAt) }
                        let view = try await registry.send(.get(session: id)).get()
                        if view.state == .ended { await hub.deliverEnded(view) }
                    } catch let refusal as RegistryRefusal where refusal.code == .unknownSession {
                        logger.warning("a session with sockets here is unknown to the registry", metadata: ["session": "\(id)"])
                    } catch {
                        logger.warning("cannot re-learn a session after reconnecting", metadata: ["session": "\(id)", "error": "\(error)"])
                    }
                }
            }
        }
        logger.info("re-learned the sessions held here after reconnecting", metadata: ["sessions": "\(sessions.count)"])
    }

    /// Tells `interaction-watch` who is connected and how idle each session is, in one message
    /// per interval (not per event), with no session too: that says the relay is alive. A lost
    /// report only delays a timeout.
    static func reportActivity(of hub: SocketHub, every interval: Duration, as relay: String,
                               on connection: AMQPConnection, logger: Logger) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            guard hub.brokerConnected else { continue }
            let report = await hub.activityReport(relay: relay)
            do {
                try await connection.publishUnconfirmed(
                    AMQPMessage(body: try JSONEncoder.cobrowse.encode(report), properties: AMQPProperties(contentType: "application/json")),
                    exchange: CobrowseTopology.activityExchange, routingKey: "relay.\(relay)")
                await hub.reported()
            } catch {
                logger.debug("activity report not sent", metadata: ["error": "\(error)"])
            }
        }
    }
}
