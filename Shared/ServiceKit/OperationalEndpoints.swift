import CobrowseProtocol
import Foundation
import Hummingbird
import Prometheus

/// `/health` (the process is alive), `/ready` (it can do its job: 200 or 503 naming what it
/// waits for) and `/metrics` (Prometheus text format).
public enum OperationalEndpoints {
    public static func add<Context: RequestContext>(to router: Router<Context>, service: String, readiness: Readiness,
                                                    registry: PrometheusCollectorRegistry) {
        router.get("/health") { _, _ in
            jsonResponse(.ok, ["status": "ok", "service": service])
        }
        router.get("/ready") { _, _ in
            let waiting = readiness.waitingFor
            if waiting.isEmpty { return jsonResponse(.ok, ["status": "ready", "service": service]) }
            return jsonResponse(.serviceUnavailable, ["status": "not ready", "service": service, "waitingFor": waiting.joined(separator: ",")])
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
    }

}

/// A JSON response in the suite's wire format (sorted keys, millisecond ISO 8601 dates).
public func jsonResponse(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
    let data = (try? JSONEncoder.cobrowse.encode(value)) ?? Data("{}".utf8)
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}
