import AMQP
import ArgumentParser
import BenchmarkReport
import CPlainAMQPLoop
import Foundation

/// Measures the Swift AMQP client against a plain rabbitmq-c loop, in one run, on one broker.
@main
struct AMQPBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "amqp-bench",
        abstract: "Publish and consume throughput of the Swift AMQP client vs. a plain rabbitmq-c loop.")

    @Option(help: "Broker URL (plain amqp://).") var url: String
    @Option(help: "Messages per measurement.") var count = 50_000
    @Option(help: "Rounds per measurement; the median is reported.") var rounds = 3
    @Option(help: "Message sizes in bytes.") var sizes: [Int] = [200, 2048]
    @Option(help: "Confirms in flight at once (both clients).") var window = 1_000
    @Option(help: "Rewrite this Markdown file's amqp-bench section with the results.") var markdown: String?

    struct Row {
        let scenario: String
        let size: Int
        let plain: Double
        let swift: Double
        var ratio: Double { swift / plain }
    }

    func run() async throws {
        let configuration = try AMQPConfiguration(url: url)
        guard configuration.tls == nil else { throw ValidationError("the plain baseline speaks plain TCP: use amqp://") }
        let connection = try await AMQPConnection.connect(configuration)
        let broker = PlainBroker(configuration)
        var rows: [Row] = []
        for size in sizes {
            rows.append(try await measure("publish, no confirms", size: size, connection: connection,
                plain: { queue in try broker.publish(queue: queue, size: size, count: count, confirms: false, window: window) },
                swift: { queue in try await swiftPublish(connection, queue: queue, size: size, confirms: false) }))
            rows.append(try await measure("publish, confirms (pipelined)", size: size, connection: connection,
                plain: { queue in try broker.publish(queue: queue, size: size, count: count, confirms: true, window: window) },
                swift: { queue in try await swiftPublish(connection, queue: queue, size: size, confirms: true) }))
            rows.append(try await measure("consume, manual ack", size: size, connection: connection,
                prepare: { queue in _ = try broker.publish(queue: queue, size: size, count: count, confirms: true, window: window) },
                plain: { queue in try broker.consume(queue: queue, count: count, prefetch: window) },
                swift: { queue in try await swiftConsume(connection, queue: queue) }))
        }
        await connection.close()
        let table = render(rows)
        print(table)
        if let markdown { try MarkdownSection.write(table, section: "amqp-bench", into: markdown) }
    }

    /// Runs both clients `rounds` times, interleaved, each on a fresh queue; medians of msg/s.
    private func measure(_ scenario: String, size: Int, connection: AMQPConnection,
                         prepare: (String) throws -> Void = { _ in },
                         plain: (String) throws -> Double, swift: (String) async throws -> Double) async throws -> Row {
        var plainRates: [Double] = [], swiftRates: [Double] = []
        for round in 0..<rounds {
            for client in round.isMultiple(of: 2) ? ["plain", "swift"] : ["swift", "plain"] {
                let queue = "bench.\(UUID().uuidString.prefix(8))"
                try await connection.declare(QueueDeclaration(queue, durable: false, autoDelete: false))
                try prepare(queue)
                let seconds = client == "plain" ? try plain(queue) : try await swift(queue)
                let rate = Double(count) / seconds
                if client == "plain" { plainRates.append(rate) } else { swiftRates.append(rate) }
                try await connection.deleteQueue(queue)
            }
        }
        let row = Row(scenario: scenario, size: size, plain: median(plainRates), swift: median(swiftRates))
        FileHandle.standardError.write(Data("\(scenario) \(size) B: plain \(Int(row.plain)) msg/s, swift \(Int(row.swift)) msg/s\n".utf8))
        return row
    }

    private func swiftPublish(_ connection: AMQPConnection, queue: String, size: Int, confirms: Bool) async throws -> Double {
        let message = AMQPMessage(body: Data(repeating: UInt8(ascii: "x"), count: size))
        let clock = ContinuousClock()
        let elapsed = try await clock.measure {
            if confirms {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<count {
                        if index >= window { try await group.next() }
                        group.addTask { try await connection.publish(message, exchange: "", routingKey: queue) }
                    }
                    try await group.waitForAll()
                }
            } else {
                for _ in 0..<count { try await connection.publishUnconfirmed(message, exchange: "", routingKey: queue) }
            }
            _ = try await connection.inspectQueue(queue) // the same fence as the plain loop
        }
        return elapsed.seconds
    }

    private func swiftConsume(_ connection: AMQPConnection, queue: String) async throws -> Double {
        let clock = ContinuousClock()
        let consumer = try await connection.consume(queue: queue, prefetch: UInt16(min(window, 65_535)))
        let elapsed = try await clock.measure {
            var received = 0
            for try await delivery in consumer {
                delivery.ack()
                received += 1
                if received == count { break }
            }
        }
        await consumer.cancel()
        return elapsed.seconds
    }

    private func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }

    private func render(_ rows: [Row]) -> String {
        var lines = [
            "| scenario | size | plain rabbitmq-c (msg/s) | Swift client (msg/s) | Swift / plain |",
            "|---|---:|---:|---:|---:|",
        ]
        for row in rows {
            lines.append("| \(row.scenario) | \(row.size) B | \(Int(row.plain)) | \(Int(row.swift)) | \(String(format: "%.0f %%", row.ratio * 100)) |")
        }
        let date = ISO8601DateFormatter().string(from: Date())
        return """
        Measured \(date) on \(ProcessInfo.processInfo.activeProcessorCount) cores: \(count) messages per measurement, \
        median of \(rounds) interleaved rounds, \(window) confirms in flight, one connection per client, non-durable queue.

        \(lines.joined(separator: "\n"))
        """
    }
}

/// The C baseline, on its own connections.
struct PlainBroker {
    let host, user, password, vhost: String
    let port: Int

    init(_ configuration: AMQPConfiguration) {
        host = configuration.host
        port = configuration.port
        user = configuration.user
        password = configuration.password
        vhost = configuration.virtualHost
    }

    private func call(_ body: (UnsafePointer<plain_broker>, UnsafeMutablePointer<CChar>) -> Double) throws -> Double {
        var error = [CChar](repeating: 0, count: 256)
        let seconds = host.withCString { h in user.withCString { u in password.withCString { p in vhost.withCString { v in
            var broker = plain_broker(host: h, port: Int32(port), user: u, password: p, vhost: v)
            return error.withUnsafeMutableBufferPointer { body(&broker, $0.baseAddress!) }
        } } } }
        guard seconds >= 0 else { throw ValidationError("plain loop: " + String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)) }
        return seconds
    }

    func publish(queue: String, size: Int, count: Int, confirms: Bool, window: Int) throws -> Double {
        try call { broker, error in plain_publish(broker, queue, size, count, confirms ? 1 : 0, window, error, 256) }
    }

    func consume(queue: String, count: Int, prefetch: Int) throws -> Double {
        try call { broker, error in plain_consume(broker, queue, count, Int32(prefetch), error, 256) }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
