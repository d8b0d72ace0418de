import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// The request context of every service's HTTP routes: Hummingbird's basic one, plus the
/// address of the connected peer (the relay limits wrong attempts per client address).
public struct ServiceRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

extension RemoteAddressRequestContext {
    /// The connected peer's IP address (nil for a Unix socket).
    public var remoteIPAddress: String? { remoteAddress?.ipAddress }
}

/// The same for WebSocket routes (the relay's sockets).
public struct ServiceWebSocketRequestContext: RequestContext, WebSocketRequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        remoteAddress = source.channel.remoteAddress
    }
}
