import AMQP
import CobrowseBroker
import CobrowseProtocol
import Foundation
import Logging
import Metrics
import ServiceKit
import ServiceLifecycle

/// What the registry reads from its environment, beyond what every service reads.
public struct RegistryConfiguration: Sendable {
    public static let database = EnvironmentVariable(
        "REGISTRY_DATABASE", default: "session-registry.sqlite",
        "Where the sessions are kept: a SQLite file (WAL) for registries on one host (an active and a standby may share it), "
            + "or a PostgreSQL URL `postgres://user:password@host:port/database?sslmode=…` for registries on several hosts "
            + "(`sslmode`: `disable`, `prefer` (the default), `require`, `verify-full` with `sslrootcert=` a CA file). "
            + "Logs show the password as `****`.")
    public static let hs256Secret = EnvironmentVariable(
        "TOKEN_HS256_SECRET", default: "", "Shared secret (≥ 32 bytes) of the contact center's HS256 tokens (this or the next is required).")
    public static let rs256PublicKeyFile = EnvironmentVariable(
        "TOKEN_RS256_PUBLIC_KEY_FILE", default: "", "PEM file of the contact center's RS256 public key.")
    public static let issuer = EnvironmentVariable("TOKEN_ISSUER", default: "", "If set, tokens must carry this `iss`.")
    public static let writeModeEnabled = EnvironmentVariable(
        "WRITE_MODE_ENABLED", default: "true", "`false` refuses every request for write mode.")
    public static let writeRequestTimeout = EnvironmentVariable(
        "WRITE_REQUEST_TIMEOUT", default: "30", "Seconds a write-mode request waits for the customer's answer.")
    public static let adminToken = EnvironmentVariable(
        "ADMIN_TOKEN", default: "", "Bearer token of the reporting/admin HTTP API; unset turns the API off.")

    public static let variables = [database] + DatabaseEncryption.variables
        + [hs256Secret, rs256PublicKeyFile, issuer, writeModeEnabled, writeRequestTimeout, adminToken] + HistoryRetention.variables

    public var database: RegistryDatabase
    public var encryption: DatabaseEncryption
    public var tokenKey: TokenVerifier.Key
    public var issuer: String?
    public var rules: SessionRules
    public var adminToken: String?
    public var retention: HistoryRetention

    public init(_ environment: ServiceEnvironment) throws {
        let database = environment.string(Self.database)
        do {
            self.database = try RegistryDatabase(database)
        } catch {
            throw ConfigurationError(variable: Self.database.name, value: PostgresLocation.redacted(database),
                                     expected: "a SQLite file or postgres://user:password@host:port/database[?sslmode=…] (\(error))")
        }
        encryption = try DatabaseEncryption(environment, database: self.database)
        let secret = environment.string(Self.hs256Secret)
        let keyFile = environment.string(Self.rs256PublicKeyFile)
        switch (secret.isEmpty, keyFile.isEmpty) {
        case (false, true):
            // RFC 7518: an HS256 key is at least as long as the hash (32 bytes).
            guard secret.utf8.count >= 32 else {
                throw ConfigurationError(variable: Self.hs256Secret.name, value: "<\(secret.utf8.count) bytes>",
                                         expected: "a secret of at least 32 bytes")
            }
            tokenKey = .hs256(secret: secret)
        case (true, false):
            guard let pem = try? String(contentsOfFile: keyFile, encoding: .utf8) else {
                throw ConfigurationError(variable: Self.rs256PublicKeyFile.name, value: keyFile, expected: "a readable PEM file")
            }
            tokenKey = .rs256(publicKeyPEM: pem)
        default:
            throw ConfigurationError(variable: "\(Self.hs256Secret.name) / \(Self.rs256PublicKeyFile.name)",
                                     value: secret.isEmpty ? "neither set" : "both set", expected: "exactly one of them")
        }
        let issuer = environment.string(Self.issuer)
        self.issuer = issuer.isEmpty ? nil : issuer
        rules = SessionRules(writeModeEnabled: try environment.bool(Self.writeModeEnabled),
                             writeRequestTimeout: try environment.seconds(Self.writeRequestTimeout, in: 1...3600))
        let admin = environment.string(Self.adminToken)
        adminToken = admin.isEmpty ? nil : admin
        retention = try HistoryRetention(environment)
    }
}

/// `session-registry`: owns co-browse sessions, their state machine and mode; serves the
/// registry RPC queue, publishes lifecycle events, answers the reporting API.
public enum SessionRegistryService {
    public static let definition = ServiceDefinition(
        name: "session-registry",
        defaultHTTPPort: 8081,
        topology: CobrowseTopology.sessionRegistry,
        variables: RegistryConfiguration.variables,
        start: start
    )

    static func start(_ configuration: ServiceConfiguration, logger: Logger) async throws -> ServiceParts {
        let registry = try RegistryConfiguration(configuration.environment)
        let store: any SessionStoring, storeServices: [any Service]
        do {
            (store, storeServices) = try await registry.database.open(encryption: registry.encryption, instanceID: configuration.instanceID,
                                                                      logger: logger)
        } catch {
            let expected = switch registry.database {
            case .sqlite: "a writable SQLite file"
            case .postgres: "a reachable PostgreSQL database this registry may log in to and migrate"
            }
            throw ConfigurationError(variable: RegistryConfiguration.database.name, value: registry.database.description,
                                     expected: "\(expected) (\(RegistryDatabase.describe(error)))")
        }
        let verifier: TokenVerifier
        do {
            verifier = try await TokenVerifier(key: registry.tokenKey, issuer: registry.issuer)
        } catch {
            throw ConfigurationError(variable: RegistryConfiguration.rs256PublicKeyFile.name, value: "<PEM>",
                                     expected: "an RSA public key (\(error))")
        }
        let handler = RegistryHandler(store: store, verifier: verifier, rules: registry.rules, logger: logger)
        logger.info("session store open", metadata: ["database": "\(registry.database)", "encrypted": "\(registry.database.isEncrypted(registry.encryption))",
                                                      "writeMode": "\(registry.rules.writeModeEnabled ? "enabled" : "disabled")"])
        return ServiceParts(
            addRoutes: { router in
                ReportingAPI(store: store, handler: handler, adminToken: registry.adminToken).add(to: router)
            },
            services: storeServices,
            work: { connection in
                try await serve(connection: connection, store: store, handler: handler, rules: registry.rules,
                                retention: registry.retention, logger: logger)
            })
    }

    /// Serves RPC requests, publishes the outbox, lapses stale write requests and reports live
    /// counts, until the connection closes.
    static func serve(connection: AMQPConnection, store: any SessionStoring, handler: RegistryHandler, rules: SessionRules,
                      retention: HistoryRetention,
                      logger: Logger) async throws {
        let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let live = [SessionState.idle, .active].map { ($0, Gauge(label: "cobrowse_sessions_live", dimensions: [("state", $0.rawValue)])) }
        let replyProperties = AMQPProperties(contentType: "application/json", type: "registry-reply")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await OutboxPublisher(store: store, connection: connection, logger: logger).run(wakeups: wakeups)
            }
            group.addTask {
                try await WriteRequestSweeper(store: store, rules: rules, logger: logger).run { wake.yield() }
            }
            if let period = retention.period {
                group.addTask {
                    try await HistorySweeper(store: store, period: period, interval: retention.sweepInterval, logger: logger).run()
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    if let counts = try? await store.liveCounts() {
                        for (state, gauge) in live { gauge.record(counts[state] ?? 0) }
                    }
                    try await Task.sleep(for: .seconds(5))
                }
            }
            group.addTask {
                try await connection.serveRPC(queue: CobrowseTopology.registryRPCQueue, logger: logger) { request in
                    let reply = await handler.reply(toQueued: request.body)
                    if reply.refusal == nil { wake.yield() }
                    return AMQPMessage(body: try JSONEncoder.cobrowse.encode(reply), properties: replyProperties)
                }
            }
            // The RPC consumer ends when the connection closes; that ends everything else.
            defer { group.cancelAll() }
            try await group.next()
        }
    }
}
