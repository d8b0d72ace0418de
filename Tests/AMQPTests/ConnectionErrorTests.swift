import AMQP
import Foundation
import TestSupport
import Testing

/// Connection failures come back as distinct, readable errors instead of hangs.
@Suite struct ConnectionErrorTests {
    @Test func badURLIsRejectedBeforeAnyNetworkTraffic() async {
        await #expect {
            _ = try await AMQPConnection.connect(url: "amqp//missing-colon")
        } throws: { error in
            if case .invalidURL = error as? AMQPError { true } else { false }
        }
    }

    @Test func wrongPasswordIsAccessRefused() async throws {
        var configuration = try TestBroker.configuration()
        configuration.password = "definitely-wrong"
        await #expect {
            _ = try await AMQPConnection.connect(configuration)
        } throws: { error in
            guard case let .accessRefused(user, _, code, _) = error as? AMQPError else { return false }
            return user == configuration.user && code == 403
        }
    }

    @Test func unknownVirtualHostIsAccessRefused() async throws {
        var configuration = try TestBroker.configuration()
        configuration.virtualHost = "no-such-vhost"
        await #expect {
            _ = try await AMQPConnection.connect(configuration)
        } throws: { error in
            guard case let .accessRefused(_, vhost, _, _) = error as? AMQPError else { return false }
            return vhost == "no-such-vhost"
        }
    }

    @Test func closedPortIsConnectionFailed() async throws {
        var configuration = try TestBroker.configuration()
        configuration.port = 1 // nothing listens on tcpmux
        await #expect {
            _ = try await AMQPConnection.connect(configuration)
        } throws: { error in
            guard case let .connectionFailed(endpoint, reason) = error as? AMQPError else { return false }
            return endpoint.hasSuffix(":1") && !reason.isEmpty
        }
    }

    @Test func unresolvableHostIsConnectionFailed() async throws {
        var configuration = try TestBroker.configuration()
        configuration.host = "no-such-broker.invalid"
        configuration.connectionTimeout = .seconds(2)
        await #expect {
            _ = try await AMQPConnection.connect(configuration)
        } throws: { error in
            if case .connectionFailed = error as? AMQPError { true } else { false }
        }
    }

    @Test func operationsAfterCloseFailWithClosed() async throws {
        let connection = try await TestBroker.connect()
        await connection.close()
        #expect(connection.state == .closed)
        await #expect(throws: AMQPError.closed) {
            try await connection.publish(AMQPMessage("late"), exchange: "", routingKey: "anything")
        }
        await #expect(throws: AMQPError.closed) {
            try await connection.declare(QueueDeclaration("anything"))
        }
    }
}

/// TLS to the private broker's amqps listener (test CA, certificate for `localhost`).
@Suite struct TLSTests {
    @Test func verifiedTLSConnectionCarriesMessages() async throws {
        let connection = try await AMQPConnection.connect(url: TestBroker.tlsURL())
        defer { Task { await connection.close() } }
        let queue = TestBroker.uniqueName("tls")
        try await connection.declare(QueueDeclaration(queue, durable: false, autoDelete: true))
        let consumer = try await connection.consume(queue: queue)
        try await connection.publish(AMQPMessage("over TLS"), exchange: "", routingKey: queue)
        #expect(try await consumer.take(1).first?.body == Data("over TLS".utf8))
    }

    @Test func clientCertificateIsPresentedWhenConfigured() async throws {
        let directory = try TestBroker.tlsDirectory()
        var configuration = try AMQPConfiguration(url: TestBroker.tlsURL())
        configuration.tls?.certificatePath = directory + "/client.pem"
        configuration.tls?.keyPath = directory + "/client.key"
        let connection = try await AMQPConnection.connect(configuration)
        #expect(connection.state == .connected)
        await connection.close()
    }

    @Test func hostnameThatTheCertificateDoesNotNameIsRefused() async throws {
        var configuration = try AMQPConfiguration(url: TestBroker.tlsURL())
        configuration.host = "127.0.0.1" // the certificate names only localhost
        await #expect {
            _ = try await AMQPConnection.connect(configuration)
        } throws: { error in
            if case .tlsFailed = error as? AMQPError { true } else { false }
        }
    }

    @Test func certificateFromAnUnknownCAIsRefused() async throws {
        var configuration = try AMQPConfiguration(url: TestBroker.tlsURL())
        configuration.tls?.caCertificatePath = nil // system trust store: does not know the test CA
        await #expect {
            _ = try await AMQPConnection.connect(configuration)
        } throws: { error in
            if case .tlsFailed = error as? AMQPError { true } else { false }
        }
    }
}
