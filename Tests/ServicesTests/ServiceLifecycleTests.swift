import AMQP
import CobrowseBroker
import Foundation
import ServiceKit
import TestSupport
import Testing

/// Each executable, as a real process against the private broker: it becomes ready, answers its
/// operational endpoints, and stops cleanly on SIGTERM.
@Suite struct ServiceLifecycleTests {
    static let executables = ["session-registry", "dom-relay", "masking-filter", "interaction-watch"]

    @Test(arguments: executables)
    func startsBecomesReadyAndStopsCleanlyOnSIGTERM(executable: String) async throws {
        let service = try ServiceProcess(executable, environment: [
            "AMQP_URL": try await TestBroker.isolatedVirtualHost(executable), "INSTANCE_ID": "test-\(executable)",
            "TOKEN_HS256_SECRET": "lifecycle-test-secret-of-32-bytes-or-more", "REGISTRY_DATABASE": NSTemporaryDirectory() + "lifecycle-\(UUID()).sqlite",
        ])
        let ready = await eventually(within: .seconds(60)) { await service.get("/ready")?.status == 200 }
        #expect(ready, "never ready; log:\n\(service.log)")
        #expect(await service.get("/health")?.status == 200)
        let metrics = await service.get("/metrics")
        #expect(metrics?.status == 200)
        #expect(metrics?.body.contains("amqp_connected") == true, "metrics:\n\(metrics?.body ?? "none")")
        #expect(service.log.contains("ready"))

        let status = await service.terminate()
        #expect(status == 0, "exit status \(String(describing: status)); log:\n\(service.log)")
        #expect(service.log.contains("AMQP connection closed"))
    }

    @Test func serviceWithoutABrokerIsAliveButNotReadyAndSaysWhy() async throws {
        let closedPort = try ServiceProcess.freePort()
        let service = try ServiceProcess("dom-relay", environment: ["AMQP_URL": "amqp://guest:guest@127.0.0.1:\(closedPort)/%2F"])
        #expect(await eventually { await service.get("/health")?.status == 200 })
        let ready = await service.get("/ready")
        #expect(ready?.status == 503)
        #expect(ready?.body.contains("broker") == true)
        #expect(await eventually { service.log.contains("broker not usable yet; retrying") })
        #expect(await service.terminate() == 0, "log:\n\(service.log)")
    }

    /// swift-service-lifecycle logs each service's description at debug; the broker password
    /// never appears, in either log format (no broker needed: the service keeps retrying).
    @Test(arguments: ["text", "json"])
    func debugLogsNeverShowTheBrokerPassword(format: String) async throws {
        let closedPort = try ServiceProcess.freePort()
        let password = "s3cret-\(UUID().uuidString.prefix(8))"
        let service = try ServiceProcess("dom-relay", environment: [
            "AMQP_URL": "amqp://cobrowse-relay:\(password)@127.0.0.1:\(closedPort)/%2F", "LOG_LEVEL": "debug", "LOG_FORMAT": format,
        ])
        #expect(await eventually { service.log.contains("Starting service lifecycle") && service.log.contains("broker not usable yet") },
                "log:\n\(service.log)")
        #expect(await service.terminate() == 0)
        #expect(!service.log.contains(password), "the password was logged:\n\(service.log)")
        #expect(service.log.contains("cobrowse-relay:****@127.0.0.1"), "log:\n\(service.log)")
    }

    @Test func jsonLogsAreOneObjectPerLineWithTheInstance() async throws {
        let service = try await ServiceProcess.ready("masking-filter", environment: [
            "AMQP_URL": try await TestBroker.isolatedVirtualHost("json-logs"), "LOG_FORMAT": "json", "INSTANCE_ID": "filter-json",
        ])
        #expect(await service.terminate() == 0)
        let lines = service.log.split(separator: "\n")
        #expect(lines.count >= 3)
        for line in lines {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["msg"] is String && object?["level"] is String && object?["ts"] is String, "not a JSON log line: \(line)")
            #expect(object?["instance"] as? String == "filter-json")
        }
    }

    @Test func invalidConfigurationExitsAtOnceNamingTheVariable() async throws {
        let service = try ServiceProcess("masking-filter", environment: ["AMQP_URL": "http://not-amqp"])
        let status = await service.waitForExit()
        #expect(status == 2)
        #expect(service.log.contains("AMQP_URL"))
    }

    @Test func declaredTopologyIsOnTheBrokerOnceReady() async throws {
        let url = try await TestBroker.isolatedVirtualHost("watch-topology")
        let service = try await ServiceProcess.ready("interaction-watch", environment: ["AMQP_URL": url])
        let connection = try await AMQPConnection.connect(url: url)
        let queue = try await connection.inspectQueue(CobrowseTopology.interactionsQueue)
        #expect(queue.name == CobrowseTopology.interactionsQueue)
        await connection.close()
        #expect(await service.terminate() == 0)
    }

    @Test func registryRefusesAShortTokenSecretAtStart() async throws {
        let service = try ServiceProcess("session-registry", environment: [
            "AMQP_URL": try TestBroker.url(), "TOKEN_HS256_SECRET": "short",
            "REGISTRY_DATABASE": NSTemporaryDirectory() + "short-\(UUID()).sqlite",
        ])
        #expect(await service.waitForExit() == 2)
        #expect(await eventually { service.log.contains("TOKEN_HS256_SECRET") }, "the output arrives after the exit")
        #expect(!service.log.contains("short\""), "the secret itself must not be logged")
    }
}
