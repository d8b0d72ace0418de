import AMQP
import ArgumentParser
import CobrowseBroker
import CobrowseProtocol
import Foundation
import Logging
import ServiceKit

/// Where the broker and its management API are, and how long to wait: every subcommand's options.
struct CommonOptions: ParsableArguments {
    static let defaultAMQPURL = "amqp://guest:guest@localhost:5672/%2F"
    static let defaultManagementURL = "http://localhost:15672"

    // Optional, resolved below: a default read from the environment would be printed by
    // `--help`, password included.
    @Option(name: .customLong("amqp-url"), help: ArgumentHelp(
        "Broker URL (default: $AMQP_URL, else \(defaultAMQPURL)).", valueName: "url"))
    var amqpURLOption: String?

    @Option(name: .customLong("management-url"), help: ArgumentHelp(
        "RabbitMQ management API (default: $MANAGEMENT_URL, else \(defaultManagementURL)).", valueName: "url"))
    var managementURLOption: String?

    @Option(help: ArgumentHelp("Seconds to wait for the registry's or the management API's answer.", valueName: "seconds"))
    var timeout: Double = 10

    init() {}

    var amqpURL: String { amqpURLOption ?? Self.environment("AMQP_URL") ?? Self.defaultAMQPURL }
    var managementURL: String { managementURLOption ?? Self.environment("MANAGEMENT_URL") ?? Self.defaultManagementURL }
    var timeoutDuration: Duration { .milliseconds(Int((timeout * 1000).rounded())) }

    /// `NAME`, or what the file `NAME_FILE` holds: the services' way of taking secrets.
    private static func environment(_ name: String) -> String? {
        let variable = EnvironmentVariable(name, default: "", "")
        guard let value = try? ServiceEnvironment().resolvingFiles(for: [variable]).string(variable), !value.isEmpty else { return nil }
        return value
    }

    func validate() throws {
        do {
            // An unreadable AMQP_URL_FILE is an error, not a fallback to the default broker.
            _ = try ServiceEnvironment().resolvingFiles(for: [ServiceConfiguration.amqpURL, EnvironmentVariable("MANAGEMENT_URL", default: "", "")])
        } catch {
            throw ValidationError("\(error)")
        }
        do {
            _ = try AMQPConfiguration(url: amqpURL)
        } catch {
            throw ValidationError("\(error)")
        }
        guard let url = URL(string: managementURL), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
              url.host != nil else {
            throw ValidationError("management URL '\(managementURL)' must be http:// or https:// with a host")
        }
        guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be between 0 and 3600 seconds") }
    }

    /// Connects, runs `body` and closes the connection however `body` ends, so the broker does
    /// not wait for a heartbeat to notice the command has gone.
    func withConnection<T>(_ body: (AMQPConnection) async throws -> T) async throws -> T {
        var configuration = try AMQPConfiguration(url: amqpURL)
        // Operators tell connections apart by name in the management UI.
        if configuration.connectionName == nil { configuration.connectionName = "cobrowse-ctl" }
        // The client logs connects and closes at info to stderr; a command reports its own
        // failures in one line, so only the client's errors are worth showing.
        var logger = Logger(label: "cobrowse-ctl.amqp")
        logger.logLevel = .error
        let connection = try await AMQPConnection.connect(configuration, logger: logger)
        do {
            let result = try await body(connection)
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Sends one registry command. Transport failures become sentences an operator can act on;
    /// a refusal comes back in the reply for the caller to judge.
    func registry(_ command: RegistryCommand, on connection: AMQPConnection) async throws -> RegistryReply {
        do {
            return try await RegistryClient(connection: connection, timeout: timeoutDuration).send(command)
        } catch AMQPError.returned {
            throw CtlError("no session registry is running on this virtual host (nothing consumes \(CobrowseTopology.registryRPCQueue))")
        } catch AMQPError.timedOut {
            throw CtlError("the session registry did not answer within \(timeout) s")
        }
    }
}

/// A failure worth one line to an operator. ArgumentParser prints it as `Error: …` on stderr
/// and exits with status 1.
struct CtlError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Lines up columns for a terminal; `sessions` and `queues` print tables.
func table(_ header: [String], _ rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    return all.map { row in
        row.enumerated().map { column, cell in
            column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}
