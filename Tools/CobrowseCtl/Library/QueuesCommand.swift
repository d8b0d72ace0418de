import AMQP
import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// `queues`: the queues of the AMQP URL's virtual host with their depth, consumers and rates,
/// from the RabbitMQ management API (AMQP itself cannot list queues).
struct QueuesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queues",
        abstract: "Show the virtual host's queues: messages, consumers, rates (management API).")

    @OptionGroup var options: CommonOptions
    @Flag(help: "Print the rows as a JSON array.") var json = false
    @Option(help: ArgumentHelp("Management API user (default: the AMQP URL's).", valueName: "user"))
    var managementUser: String?
    @Option(help: ArgumentHelp("Management API password (default: the AMQP URL's).", valueName: "password"))
    var managementPassword: String?

    /// One queue as printed.
    struct Row: Codable, Equatable {
        var name: String
        var messages: Int
        var ready: Int
        var unacked: Int
        var consumers: Int
        var publishRate: Double
        var deliverRate: Double
    }

    /// The fields used from the API's answer; counts are missing until the broker first
    /// reports a queue's statistics, and rates until a message moved.
    private struct Queue: Decodable {
        struct Stats: Decodable {
            struct Rate: Decodable { var rate: Double? }
            var publish_details: Rate?
            var deliver_get_details: Rate?
        }

        var name: String
        var messages: Int?
        var messages_ready: Int?
        var messages_unacknowledged: Int?
        var consumers: Int?
        var message_stats: Stats?
    }

    func run() async throws {
        let amqp = try AMQPConfiguration(url: options.amqpURL)
        let user = managementUser ?? amqp.user
        // Unreserved characters only: "/" must become %2F, the default vhost's spelling.
        let vhost = amqp.virtualHost.addingPercentEncoding(
            withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"))!
        var base = options.managementURL
        while base.hasSuffix("/") { base.removeLast() }
        guard let url = URL(string: "\(base)/api/queues/\(vhost)") else { throw CtlError("bad management URL \(base)") }

        var request = HTTPClientRequest(url: url.absoluteString)
        let credentials = Data("\(user):\(managementPassword ?? amqp.password)".utf8).base64EncodedString()
        request.headers.add(name: "Authorization", value: "Basic \(credentials)")
        let timeout = TimeAmount.milliseconds(Int64(options.timeout * 1000))
        let status: Int, data: Data
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: timeout)
            status = Int(response.status.code)
            data = Data(buffer: try await response.body.collect(upTo: 64 << 20))
        } catch {
            throw CtlError("cannot reach the management API at \(base): \(error)")
        }
        switch status {
        case 200: break
        case 401: throw CtlError("the management API at \(base) refused user '\(user)' (401): wrong user or password?")
        case 403: throw CtlError("user '\(user)' may not read the management API at \(base) (403): needs the monitoring or management tag")
        case 404: throw CtlError("the management API at \(base) knows no virtual host '\(amqp.virtualHost)' (404)")
        default: throw CtlError("the management API at \(base) answered \(status) for \(url.path)")
        }
        let queues: [Queue]
        do {
            queues = try JSONDecoder().decode([Queue].self, from: data)
        } catch {
            throw CtlError("unexpected answer from the management API at \(base): \(error)")
        }
        let rows = queues.map {
            Row(name: $0.name, messages: $0.messages ?? 0, ready: $0.messages_ready ?? 0,
                unacked: $0.messages_unacknowledged ?? 0, consumers: $0.consumers ?? 0,
                publishRate: $0.message_stats?.publish_details?.rate ?? 0,
                deliverRate: $0.message_stats?.deliver_get_details?.rate ?? 0)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
        } else if rows.isEmpty {
            print("no queues on virtual host '\(amqp.virtualHost)'")
        } else {
            func rate(_ value: Double) -> String { String(format: "%.1f", value) }
            print(table(["NAME", "MESSAGES", "READY", "UNACKED", "CONSUMERS", "PUBLISH/S", "DELIVER/S"], rows.map {
                [$0.name, "\($0.messages)", "\($0.ready)", "\($0.unacked)", "\($0.consumers)", rate($0.publishRate), rate($0.deliverRate)]
            }))
        }
    }
}
