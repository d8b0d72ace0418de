import AMQP
import CobrowseBroker
import CobrowseProtocol
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import ServiceKit
import Synchronization

/// `POST /interaction-events`: the contact center's events over HTTP, for contact centers that
/// cannot publish to the broker. Signed like Stripe's and Slack's webhooks: the header
/// `X-Cobrowse-Signature: sha256=<hex>` is HMAC-SHA256 over `"<timestamp>.<body>"` with the
/// shared secret, and `X-Cobrowse-Timestamp` (Unix seconds) must be within five minutes, so a
/// captured request cannot be replayed later. Accepted events are published (confirmed,
/// persistent) to `contact.interactions`, where the watch consumes them like any other.
public struct InteractionWebhook: Sendable {
    public static let path = "/interaction-events"
    public static let signatureHeader = HTTPField.Name("X-Cobrowse-Signature")!
    public static let timestampHeader = HTTPField.Name("X-Cobrowse-Timestamp")!
    public static let maxSkew: TimeInterval = 300
    static let maxBody = 64 * 1024

    let secret: SymmetricKey?
    let broker: BrokerSlot
    let logger: Logger
    private static let refused = Counter(label: "cobrowse_watch_webhook_refused_total")

    init(secret: String?, broker: BrokerSlot, logger: Logger) {
        self.secret = secret.map { SymmetricKey(data: Data($0.utf8)) }
        self.broker = broker
        self.logger = logger
    }

    /// The signature header's value for `body` sent at `timestamp` (for senders and tests).
    public static func signature(_ body: Data, timestamp: Int, secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).".utf8) + body, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + mac.hex
    }

    func add(to router: Router<ServiceRequestContext>) {
        router.post(RouterPath(Self.path)) { request, _ -> Response in
            try await accept(request)
        }
    }

    func accept(_ request: Request) async throws -> Response {
        guard let secret else {
            throw HTTPError(.notFound, message: "the webhook is off: set WEBHOOK_SECRET on interaction-watch")
        }
        let body = Data(buffer: try await request.body.collect(upTo: Self.maxBody))
        guard let stamp = request.headers[Self.timestampHeader], let timestamp = Int(stamp),
              abs(Date().timeIntervalSince1970 - Double(timestamp)) <= Self.maxSkew else {
            return refuse("missing, malformed or stale \(Self.timestampHeader) (Unix seconds, within \(Int(Self.maxSkew)) s)")
        }
        guard let header = request.headers[Self.signatureHeader], header.hasPrefix("sha256="),
              let mac = [UInt8](hex: header.dropFirst("sha256=".count)),
              HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Data("\(timestamp).".utf8) + body, using: secret) else {
            return refuse("bad signature: \(Self.signatureHeader) must be sha256=<hex HMAC-SHA256 of \"<timestamp>.<body>\">")
        }
        let event: InteractionEvent
        do {
            event = try InteractionEvent.decode(body)
        } catch {
            throw HTTPError(.badRequest, message: "not an interaction event (docs/interactions.md): \(describeDecodingFailure(error))")
        }
        guard let connection = broker.connection else {
            throw HTTPError(.serviceUnavailable, message: "not connected to the broker; send it again")
        }
        try await connection.publish(
            AMQPMessage(body: try JSONEncoder.cobrowse.encode(event), properties: AMQPProperties(contentType: "application/json", persistent: true)),
            exchange: CobrowseTopology.interactionsExchange, routingKey: event.routingKey, mandatory: true)
        logger.info("webhook event accepted", metadata: ["interaction": "\(event.interactionId)", "type": "\(event.type.rawValue)"])
        return jsonResponse(.accepted, ["result": "accepted", "routingKey": event.routingKey])
    }

    /// A refused request: logged (someone holds a wrong secret, or is forging), answered 401.
    private func refuse(_ why: String) -> Response {
        Self.refused.increment()
        logger.warning("webhook request refused", metadata: ["why": "\(why)"])
        return jsonResponse(.unauthorized, ["error": "unauthorized", "message": why])
    }
}

/// The connection the HTTP side publishes on, once the broker side has one.
final class BrokerSlot: Sendable {
    private let slot = Mutex<AMQPConnection?>(nil)
    var connection: AMQPConnection? { slot.withLock { $0 } }
    func attach(_ connection: AMQPConnection?) { slot.withLock { $0 = connection } }
}
