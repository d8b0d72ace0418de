import CobrowseProtocol
import Foundation
import PostgresNIO

/// Where the registry's PostgreSQL database is and how to reach it, read from a URL:
/// `postgres://user:password@host:port/database?sslmode=…&sslrootcert=…` (`postgresql://` too;
/// the port defaults to 5432, the database to the user's name, as libpq does). Printing it never
/// shows the password.
public struct PostgresLocation: Sendable, Equatable {
    /// libpq's `sslmode`s that the registry supports.
    public enum SSLMode: String, Sendable, CaseIterable {
        /// Plain TCP.
        case disable
        /// TLS if the server offers it, without checking its certificate (libpq's default).
        case prefer
        /// TLS or no connection, without checking the certificate.
        case require
        /// TLS with the certificate chain checked against `sslrootcert` (or the system's roots)
        /// and the host name checked against the certificate.
        case verifyFull = "verify-full"
    }

    /// A URL that is not a usable PostgreSQL location; says what is wrong, never the password.
    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var sslMode: SSLMode
    /// PEM file of the certificate authorities `verify-full` trusts; nil: the system's.
    public var rootCertificateFile: String?

    /// Whether `value` names a PostgreSQL database (by its scheme) rather than a SQLite file.
    public static func isURL(_ value: String) -> Bool {
        let lowered = value.lowercased()
        return lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://")
    }

    public init(url: String) throws(Invalid) {
        guard Self.isURL(url) else { throw Invalid(description: "not a postgres:// or postgresql:// URL") }
        guard let components = URLComponents(string: url) else {
            throw Invalid(description: "not a URL (a password with reserved characters must be percent-encoded)")
        }
        guard let host = components.host, !host.isEmpty else { throw Invalid(description: "no host") }
        guard let user = components.user, !user.isEmpty else { throw Invalid(description: "no user name") }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw Invalid(description: "port \(port) is out of range") }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !path.contains("/") else { throw Invalid(description: "the path names more than a database: '\(path)'") }
        // URLComponents keeps an IPv6 literal's brackets; sockets want the bare address.
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.port = port
        username = user
        password = components.password
        database = path.isEmpty ? user : path
        sslMode = .prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = SSLMode(rawValue: item.value ?? "") else {
                    throw Invalid(description: "sslmode '\(item.value ?? "")' is not one of "
                        + SSLMode.allCases.map(\.rawValue).joined(separator: ", "))
                }
                sslMode = mode
            case "sslrootcert":
                guard let file = item.value, !file.isEmpty else { throw Invalid(description: "sslrootcert names no file") }
                rootCertificateFile = file
            default:
                throw Invalid(description: "unknown parameter '\(item.name)' (known: sslmode, sslrootcert)")
            }
        }
        if rootCertificateFile != nil, sslMode != .verifyFull {
            throw Invalid(description: "sslrootcert is used only with sslmode=verify-full")
        }
    }

    /// `value` with any password replaced by `****`, for logs and errors, even when it is not a
    /// URL this type reads: everything between the user name's colon and the last `@` goes.
    public static func redacted(_ value: String) -> String {
        guard let scheme = value.range(of: "://"), let at = value.range(of: "@", options: .backwards),
              scheme.upperBound <= at.lowerBound,
              let colon = value[scheme.upperBound..<at.lowerBound].firstIndex(of: ":") else { return value }
        return String(value[..<value.index(after: colon)]) + "****" + String(value[at.lowerBound...])
    }

    /// `postgres://user:****@host:port/database?sslmode=…`.
    public var redactedURL: String {
        let name = username.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed) ?? ""
        let address = host.contains(":") ? "[\(host)]" : host
        let database = database.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? ""
        return "postgres://\(name)\(password == nil ? "" : ":****")@\(address):\(port)/\(database)?sslmode=\(sslMode.rawValue)"
    }

    /// The TLS settings of `sslMode`; nil for `disable`. Throws if `sslrootcert` cannot be read.
    func tlsConfiguration() throws -> TLSConfiguration? {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case .disable:
            return nil
        case .prefer, .require:
            tls.certificateVerification = .none
        case .verifyFull:
            tls.certificateVerification = .fullVerification
            if let rootCertificateFile {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(rootCertificateFile))
            }
        }
        return tls
    }

    /// The pool's configuration: at most `maximumConnections` connections, each opened within
    /// `connectTimeout`.
    func clientConfiguration(maximumConnections: Int, connectTimeout: Duration) throws -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS = switch (sslMode, try tlsConfiguration()) {
        case let (.prefer, tls?): .prefer(tls)
        case let (_, tls?): .require(tls)
        case (_, nil): .disable
        }
        var configuration = PostgresClient.Configuration(host: host, port: port, username: username, password: password,
                                                         database: database, tls: tls)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = connectTimeout
        return configuration
    }

    /// One connection's configuration (the schema migration opens one before the pool runs).
    public func connectionConfiguration(connectTimeout: Duration) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS = switch (sslMode, try tlsConfiguration()) {
        case let (.prefer, tls?): .prefer(try NIOSSLContext(configuration: tls))
        case let (_, tls?): .require(try NIOSSLContext(configuration: tls))
        case (_, nil): .disable
        }
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: username, password: password,
                                                             database: database, tls: tls)
        configuration.options.connectTimeout = .nanoseconds(Int64(connectTimeout.timeInterval * 1_000_000_000))
        return configuration
    }
}

/// Printing a location never shows the password (`"\(location)"`, `dump`, service descriptions).
extension PostgresLocation: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { redactedURL }
    public var debugDescription: String { redactedURL }
    public var customMirror: Mirror { Mirror(self, children: ["url": redactedURL]) }
}
