import AMQP
import CobrowseBroker
import CobrowseProtocol
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import Metrics
import ServiceKit
import Synchronization

/// The relay's WebSocket routes; see docs/stream-protocol.md ("Relay sockets"). The sharer's side,
/// the viewer's, what both share, the wrong-attempt answers and the origin checks are each in an
/// extension of their own (SocketRoutes+*.swift).
///
/// - `/ws/share`: the customer's SDK. First message `start` (interaction token) or `resume`
///   (session id + customer key); then stream frames, which go to the ingest exchange for the
///   masking filter; resync requests and session events come back.
/// - `/ws/view`: an agent console. First message `join` (agent token + session id); then it
///   receives the masked stream and session events. Joining asks the sharer for a snapshot.
struct SocketRoutes: Sendable {
    let hub: SocketHub
    let allowedOrigins: Set<String>
    let maxFrameBytes: Int
    /// What one customer socket and one agent console may send per second.
    let sharerBudget: FrameBudget.Limits
    let viewerBudget: FrameBudget.Limits
    /// How long a new socket may take to send its opening message.
    let firstMessageTimeout: Duration
    /// The relay serves HTTPS itself (`TLS_CERT_FILE`): its own origin is https.
    let servesTLS: Bool
    /// Wrong session ids and keys per client address (and, for joins, per agent).
    let attempts: AttemptLimiter
    /// Who the client is behind the load balancer (`TRUSTED_PROXIES`).
    let clientAddresses: ClientAddresses
    /// What goes to the masking filter, batched per ingest shard.
    let ingest: IngestBatcher
    let logger: Logger
    /// Dev mode: the SDK's and the console's test hooks (`testOnlyDisableMasking`, `sendRaw`) work
    /// only when the opening reply says `testHooks: true`, which it never does otherwise.
    var testHooks = false

    func add(to router: Router<ServiceWebSocketRequestContext>) {
        router.ws("/ws/share", shouldUpgrade: { request, _ in try checkOrigin(request) }) { inbound, outbound, context in
            try await serveSharer(inbound.messages(maxSize: maxFrameBytes), outbound,
                                  client: client(of: context.request, remote: context.requestContext.remoteIPAddress))
        }
        router.ws("/ws/view", shouldUpgrade: { request, _ in try checkOrigin(request) }) { inbound, outbound, context in
            try await serveViewer(inbound.messages(maxSize: maxFrameBytes), outbound,
                                  client: client(of: context.request, remote: context.requestContext.remoteIPAddress))
        }
    }

    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!

    /// The client's address: the peer's, or what a trusted proxy says it is.
    func client(of request: Request, remote: String?) -> String {
        clientAddresses.client(peer: remote, forwardedFor: request.headers[values: Self.forwardedFor])
    }
}
