import AMQP
import ArgumentParser
import Foundation
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

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

        var request = URLRequest(url: url, timeoutInterval: options.timeout)
        let credentials = Data("\(user):\(managementPassword ?? amqp.password)".utf8).base64EncodedString()
        request.setValue("Basic \(credentials)", forHTTPHeaderField: "Authorization")
        let declined = DeclineChallenges()
        let session = URLSession(configuration: .ephemeral, delegate: declined, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        let data: Data, response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch where declined.challenged {
            throw CtlError("the management API at \(base) refused user '\(user)' (401): wrong user or password?")
        } catch {
            throw CtlError("cannot reach the management API at \(base): \(error.localizedDescription)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
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

/// Answers the management API's `401` challenge by giving up, so the request ends. Without a
/// delegate, swift-corelibs-foundation (6.3.1) leaves a task that met `WWW-Authenticate` with
/// no credential to offer suspended forever (fixed upstream in swift-corelibs-foundation#5457).
private final class DeclineChallenges: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    private let seen = Mutex(false)
    var challenged: Bool { seen.withLock { $0 } }

    func urlSession(_ session: URLSession, task: URLSessionTask, didReceive challenge: URLAuthenticationChallenge,
                    completionHandler: @escaping @Sendable (URLSession.AuthChallengeDisposition, URLCredential?) -> Void) {
        seen.withLock { $0 = true }
        completionHandler(.cancelAuthenticationChallenge, nil)
    }
}
