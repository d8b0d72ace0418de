import Testing
@testable import AMQP

@Suite struct ConfigurationTests {
    @Test func parsesPlainURLWithEncodedVirtualHost() throws {
        let configuration = try AMQPConfiguration(url: "amqp://alice:s%40cret@broker.example:5673/%2F")
        #expect(configuration.host == "broker.example")
        #expect(configuration.port == 5673)
        #expect(configuration.user == "alice")
        #expect(configuration.password == "s@cret")
        #expect(configuration.virtualHost == "/")
        #expect(configuration.tls == nil)
    }

    @Test func defaultsPortAndVirtualHostByScheme() throws {
        #expect(try AMQPConfiguration(url: "amqp://h").port == 5672)
        #expect(try AMQPConfiguration(url: "amqps://h").port == 5671)
        #expect(try AMQPConfiguration(url: "amqp://h").virtualHost == "/")
        #expect(try AMQPConfiguration(url: "amqp://h/cobrowse").virtualHost == "cobrowse")
    }

    @Test func amqpsTurnsVerificationOnAndReadsCertificateParameters() throws {
        let configuration = try AMQPConfiguration(
            url: "amqps://u:p@localhost/%2F?cacertfile=/ca.pem&certfile=/c.pem&keyfile=/c.key&heartbeat=5&connection_timeout=1500&name=relay-1")
        let tls = try #require(configuration.tls)
        #expect(tls.verifyPeer && tls.verifyHostname)
        #expect(tls.caCertificatePath == "/ca.pem")
        #expect(tls.certificatePath == "/c.pem" && tls.keyPath == "/c.key")
        #expect(configuration.heartbeat == .seconds(5))
        #expect(configuration.connectionTimeout == .milliseconds(1500))
        #expect(configuration.connectionName == "relay-1")
    }

    @Test(arguments: [
        "http://localhost/", "amqp://", "amqp://h:0/", "amqp://h/a/b", "amqp://h/?heartbeat=soon",
        "amqp://h/?cacertfile=/ca.pem", "amqps://h/?certfile=/c.pem", "amqp://h/?colour=blue", "not a url at all",
    ])
    func rejectsUnusableURLsWithAReason(url: String) {
        #expect {
            try AMQPConfiguration(url: url)
        } throws: { error in
            guard case let .invalidURL(_, reason) = error as? AMQPError else { return false }
            return !reason.isEmpty
        }
    }

    @Test func redactsPasswordsForLogs() {
        #expect(AMQPConfiguration.redacted("amqp://u:secret@h/") == "amqp://u:****@h/")
        #expect(!AMQPConfiguration.redacted("amqp://u:secret@h/").contains("secret"))
    }

    /// A service's description (swift-service-lifecycle logs it at debug), `print`, `debugPrint`
    /// and `dump` of a configuration show `****`, never the password.
    @Test func printingAConfigurationNeverShowsThePassword() throws {
        let configuration = try AMQPConfiguration(url: "amqps://cobrowse-relay:Pa55-w0rd-91@broker.example:5671/cobrowse?name=relay-1")
        struct Holder { let configuration: AMQPConfiguration; let other = 1 }
        var dumped = ""
        dump(configuration, to: &dumped)
        var dumpedHolder = ""
        dump(Holder(configuration: configuration), to: &dumpedHolder)
        let printed = ["\(configuration)", String(describing: configuration), String(reflecting: configuration),
                       "\(Holder(configuration: configuration))", "\([configuration])", "\(Optional(configuration) as Any)",
                       dumped, dumpedHolder]
        for text in printed {
            #expect(!text.contains("Pa55-w0rd-91"), "password printed: \(text)")
            #expect(text.contains("****"), "no redaction mark: \(text)")
        }
        #expect("\(configuration)" == "AMQPConfiguration(amqps://cobrowse-relay:****@broker.example:5671/cobrowse)")
        #expect(configuration.redactedURL == "amqps://cobrowse-relay:****@broker.example:5671/cobrowse")
        #expect(try AMQPConfiguration(url: "amqp://u:p@h/%2F").redactedURL == "amqp://u:****@h:5672/%2F")
    }

    @Test func aListOfURLsNamesTheNodesOfOneCluster() throws {
        let configuration = try AMQPConfiguration(
            url: "amqp://u:secret@node-1:5672/%2F?heartbeat=5, amqp://u:secret@node-2:5673/%2F?heartbeat=5,amqp://u:secret@node-3/%2F?heartbeat=5")
        #expect(configuration.endpoints.map(\.description) == ["node-1:5672", "node-2:5673", "node-3:5672"])
        #expect(configuration.heartbeat == .seconds(5))
        let third = configuration.at(configuration.endpoints[2])
        #expect(third.host == "node-3" && third.failoverEndpoints.isEmpty && third.password == "secret")
        #expect(configuration.redactedURL == "amqp://u:****@node-1:5672/%2F,amqp://u:****@node-2:5673/%2F,amqp://u:****@node-3:5672/%2F")
        #expect(!AMQPConfiguration.redacted("amqp://u:secret@a/,amqp://u:secret@b/").contains("secret"))
        #expect(try AMQPConfiguration(url: "amqp://u:p@h/").endpoints.count == 1)
    }

    /// One cluster, one set of credentials: a list whose URLs differ in anything but the node is
    /// a mistake, refused at start rather than discovered at the first failover.
    @Test(arguments: [
        "amqp://u:p@a/,amqp://u:other@b/", "amqp://u:p@a/,amqps://u:p@b/", "amqp://u:p@a/one,amqp://u:p@b/two",
        "amqp://u:p@a/?heartbeat=5,amqp://u:p@b/", "amqp://u:p@a/,,amqp://u:p@b/", "amqp://u:p@a/,amqp://u:p@a:5672/",
        "amqp://u:p@a/,not a url",
    ])
    func rejectsListsWhoseNodesDisagree(url: String) {
        #expect {
            try AMQPConfiguration(url: url)
        } throws: { error in
            guard case let .invalidURL(redacted, reason) = error as? AMQPError else { return false }
            return !reason.isEmpty && !redacted.contains(":p@")
        }
    }

    @Test func reconnectBackoffGrowsAndIsCapped() {
        let policy = AMQPConfiguration.ReconnectPolicy(initialDelay: .milliseconds(100), maxDelay: .seconds(2))
        #expect(policy.delay(attempt: 0) <= .milliseconds(120))
        #expect(policy.delay(attempt: 3) >= .milliseconds(640))
        #expect(policy.delay(attempt: 30) <= .milliseconds(2400))
    }
}
