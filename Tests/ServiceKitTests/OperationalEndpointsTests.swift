import AMQP
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceKit
import Testing

@Suite struct OperationalEndpointsTests {
    private func application(readiness: Readiness) -> some ApplicationProtocol {
        let router = Router()
        OperationalEndpoints.add(to: router, service: "test-service", readiness: readiness, registry: ServiceMetrics.registry)
        return Application(router: router)
    }

    @Test func healthAnswersWhileNotReady() async throws {
        let readiness = Readiness(waitingFor: ["broker", "topology"])
        try await application(readiness: readiness).test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func readyIs503NamingWhatItWaitsForThen200() async throws {
        let readiness = Readiness(waitingFor: ["broker", "topology"])
        try await application(readiness: readiness).test(.router) { client in
            try await client.execute(uri: "/ready", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(String(buffer: response.body).contains(#""waitingFor":"broker,topology""#))
            }
            readiness.met("broker")
            readiness.met("topology")
            try await client.execute(uri: "/ready", method: .get) { response in
                #expect(response.status == .ok)
            }
            readiness.lost("broker")
            try await client.execute(uri: "/ready", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
            }
        }
    }

    @Test func metricsAreInPrometheusTextFormat() async throws {
        let readiness = Readiness(waitingFor: [])
        _ = ServiceMetrics.registry
        let counter = Counter(label: "servicekit_test_total")
        counter.increment(by: 3)
        try await application(readiness: readiness).test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
                #expect(String(buffer: response.body).contains("servicekit_test_total 3"))
            }
        }
    }
}

import Foundation
import Metrics

@Suite struct ServiceConfigurationTests {
    @Test func defaultsApplyWhenNothingIsSet() throws {
        let configuration = try ServiceConfiguration(serviceName: "svc", defaultHTTPPort: 8088, environment: ServiceEnvironment([:]))
        #expect(configuration.httpPort == 8088)
        #expect(configuration.httpHost == "0.0.0.0")
        #expect(configuration.logLevel == .info)
        #expect(configuration.amqp.host == "localhost" && configuration.amqp.port == 5672)
        #expect(configuration.amqp.connectionName?.hasPrefix("svc ") == true)
    }

    @Test func badValuesNameTheVariable() {
        #expect(throws: ConfigurationError(variable: "HTTP_PORT", value: "eighty", expected: "an integer in 0...65535")) {
            try ServiceConfiguration(serviceName: "svc", defaultHTTPPort: 1, environment: ServiceEnvironment(["HTTP_PORT": "eighty"]))
        }
        #expect {
            try ServiceConfiguration(serviceName: "svc", defaultHTTPPort: 1, environment: ServiceEnvironment(["LOG_LEVEL": "loud"]))
        } throws: { ($0 as? ConfigurationError)?.variable == "LOG_LEVEL" }
    }

    @Test func anyVariableCanComeFromAFileWhichWins() throws {
        let path = NSTemporaryDirectory() + "secret-\(UUID())"
        try "from-the-file\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let secret = EnvironmentVariable("SOME_SECRET", default: "", "a secret")
        let environment = try ServiceEnvironment(["SOME_SECRET": "from-the-environment", "SOME_SECRET_FILE": path])
            .resolvingFiles(for: [secret])
        #expect(environment.string(secret) == "from-the-file")
        #expect(throws: ConfigurationError(variable: "SOME_SECRET_FILE", value: "/no/such/file", expected: "a readable file holding SOME_SECRET")) {
            try ServiceEnvironment(["SOME_SECRET_FILE": "/no/such/file"]).resolvingFiles(for: [secret])
        }
    }

    @Test func logFormatIsTextOrJSON() throws {
        let json = try ServiceConfiguration(serviceName: "svc", defaultHTTPPort: 1, environment: ServiceEnvironment(["LOG_FORMAT": "json"]))
        #expect(json.logFormat == .json)
        #expect {
            try ServiceConfiguration(serviceName: "svc", defaultHTTPPort: 1, environment: ServiceEnvironment(["LOG_FORMAT": "xml"]))
        } throws: { ($0 as? ConfigurationError)?.variable == "LOG_FORMAT" }
    }

    @Test func badBrokerURLIsAConfigurationErrorWithoutThePassword() {
        #expect {
            try ServiceConfiguration(serviceName: "svc", defaultHTTPPort: 1,
                                     environment: ServiceEnvironment(["AMQP_URL": "amqp://u:hunter2@h/?bogus=1"]))
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.variable == "AMQP_URL" && !error.description.contains("hunter2")
        }
    }
}
