import Foundation
@testable import ServiceKit
import TestSupport
import Testing

/// Every service counts and times its HTTP requests per route (Hummingbird's MetricsMiddleware),
/// under Prometheus names.
@Suite struct HTTPMetricsTests {
    @Test func aServiceCountsAndTimesEachRouteItAnswers() async throws {
        let url = try await TestBroker.isolatedVirtualHost("http-metrics")
        let relay = try await ServiceProcess.ready("dom-relay", environment: ["AMQP_URL": url])
        defer { Task { _ = await relay.terminate() } }
        for _ in 0..<3 { #expect(await relay.get("/health")?.status == 200) }
        #expect(await relay.get("/no-such-page")?.status == 404)
        let metrics = try #require(await relay.get("/metrics")?.body)
        let health = metrics.split(separator: "\n").filter { $0.hasPrefix("hb_requests{") && $0.contains(#"http_route="/health""#) }
        #expect(health.count == 1 && health[0].hasSuffix(" 3"), "three /health requests, counted once per route:\n\(health)")
        #expect(metrics.contains(#"http_server_request_duration_bucket{"#), "request durations as a histogram")
        #expect(metrics.contains(#"http_response_status_code="404""#), "a refused request is counted with its status")
    }

    @Test func namesPrometheusRefusesAreWrittenWithUnderscores() {
        #expect(prometheusName("http.server.request.duration") == "http_server_request_duration")
        #expect(prometheusName("cobrowse_relay_sockets") == "cobrowse_relay_sockets")
        #expect(prometheusName("9lives-ü") == "_lives__")
    }
}
