import Foundation
import Hummingbird
import Prometheus

/// `/health` (the process is alive), `/ready` (it can do its job: 200 or 503 naming what it
/// waits for) and `/metrics` (Prometheus text format).
public enum OperationalEndpoints {
    public static func add<Context: RequestContext>(to router: Router<Context>, service: String, readiness: Readiness,
                                                    registry: PrometheusCollectorRegistry) {
        router.get("/health") { _, _ in
            json(.ok, ["status": "ok", "service": service])
        }
        router.get("/ready") { _, _ in
            let waiting = readiness.waitingFor
            if waiting.isEmpty { return json(.ok, ["status": "ready", "service": service]) }
            return json(.serviceUnavailable, ["status": "not ready", "service": service, "waitingFor": waiting.joined(separator: ",")])
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
    }

    static func json(_ status: HTTPResponse.Status, _ fields: [String: String]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
