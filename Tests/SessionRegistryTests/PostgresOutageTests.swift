import CobrowseProtocol
import CobrowseTokens
import Foundation
import Logging
import PostgresNIO
@testable import SessionRegistry
import Synchronization
import TestSupport
import Testing

/// A TCP forwarder to a real server that a test can cut, as a network outage would: every
/// connection closed and new ones refused, until restored on the same port.
final class TCPCut: Sendable {
    let port: Int
    private let upstreamHost: String
    private let upstreamPort: Int
    private let channels = Mutex<(server: (any Channel)?, open: [any Channel])>((nil, []))

    init(to host: String, port upstreamPort: Int) async throws {
        upstreamHost = host
        self.upstreamPort = upstreamPort
        port = try ServiceProcess.freePort()
        try await restore()
    }

    /// Closes every forwarded connection and stops listening: connecting is refused.
    func cut() async {
        let (server, open) = channels.withLock { channels in
            defer { channels = (nil, []) }
            return channels
        }
        try? await server?.close()
        for channel in open { try? await channel.close() }
    }

    /// Listens again (on the same port) and forwards new connections.
    func restore() async throws {
        let (host, upstreamPort) = (upstreamHost, self.upstreamPort)
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // Nothing is read from a client before its server side is connected.
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { [weak self] inbound in
                ClientBootstrap(group: inbound.eventLoop)
                    .channelInitializer { outbound in outbound.pipeline.addHandler(Forward(to: inbound)) }
                    .connect(host: host, port: upstreamPort)
                    .flatMap { outbound in
                        self?.channels.withLock { $0.open += [inbound, outbound] }
                        return inbound.pipeline.addHandler(Forward(to: outbound)).flatMap {
                            inbound.setOption(.autoRead, value: true)
                        }
                    }
            }
            .bind(host: "127.0.0.1", port: port).get()
        channels.withLock { $0.server = server }
    }

    /// Writes what one side reads to the other, and closes the other when one closes.
    private final class Forward: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let partner: any Channel

        init(to partner: any Channel) { self.partner = partner }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            partner.writeAndFlush(unwrapInboundIn(data), promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            partner.close(promise: nil)
            context.fireChannelInactive()
        }
    }
}

@Suite struct PostgresOutageTests {
    // A command that never returns (the failure this guards against) fails the test instead of stalling the run.
    @Test(.timeLimit(.minutes(3)))
    func whilePostgreSQLIsUnreachableCommandsAreRefusedUnavailableAndNothingIsLost() async throws {
        let database = try await TestDatabase.make(.postgres)
        defer { Task { await database.remove() } }
        var location = try #require(database.postgresLocation)
        let cut = try await TCPCut(to: location.host, port: location.port)
        location.port = cut.port
        let store = try await PostgresSessionStore(location, instanceID: "outage", logger: TestPostgres.logger,
                                                   connectTimeout: .seconds(2), leaseTimeout: .seconds(2))
        let running = Task { await store.run() }
        defer { running.cancel() }
        let tokens = await ContactCenterTokens.hs256()
        let handler = RegistryHandler(store: store, verifier: try await TokenVerifier(key: .hs256(secret: ContactCenterTokens.secret)),
                                      rules: SessionRules(), logger: Logger(label: "outage"))
        func send(_ command: RegistryCommand) async throws -> RegistryReply {
            await handler.reply(to: try JSONEncoder.cobrowse.encode(RegistryRequest(command)))
        }
        let before = try await send(.create(interactionToken: tokens.interaction("ix-before"))).get()

        await cut.cut()
        // The pool's open connection breaks, and no new one can be made: each command is refused.
        for command in [RegistryCommand.create(interactionToken: try await tokens.interaction("ix-during")),
                        .join(session: before.id, agentToken: try await tokens.agent("ana")),
                        .get(session: before.id)] {
            let refusal = try await send(command).refusal
            #expect(refusal?.code == .unavailable, "\(command.name): \(String(describing: refusal))")
        }

        try await cut.restore()
        // The pool reconnects by itself (after its backoff).
        let back = await eventually(within: .seconds(60)) {
            (try? await send(.get(session: before.id)).session) != nil
        }
        #expect(back, "the store did not reconnect")
        #expect(try await send(.get(session: before.id)).get() == before, "the session changed during the outage")
        #expect(try await store.sessions(.interaction("ix-during")).isEmpty, "a refused create left a session")
        #expect(try await store.outboxCount() == 1, "only the create before the outage left an event")
        #expect(try await send(.join(session: before.id, agentToken: tokens.agent("ana"))).get().state == .active)
    }
}
