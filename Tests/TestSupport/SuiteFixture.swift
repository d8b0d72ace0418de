import CobrowseProtocol
import CobrowseTokens
import Foundation

/// The whole path on one virtual host: a registry, a masking filter and two relays (and an
/// interaction watch, when a test starts one).
public final class SuiteFixture: @unchecked Sendable {
    public let url: String
    public private(set) var processes: [ServiceProcess] = []
    public private(set) var relays: [ServiceProcess] = []
    public let tokens: ContactCenterTokens
    /// The running interaction watch, if the test started one.
    public private(set) var watch: ServiceProcess?

    public init(_ name: String, relayEnvironment: [String: String] = [:], filterEnvironment: [String: String] = [:]) async throws {
        url = try await TestBroker.isolatedVirtualHost(name)
        tokens = await ContactCenterTokens.hs256()
        let database = NSTemporaryDirectory() + "relay-\(UUID()).sqlite"
        try await start("session-registry", ["REGISTRY_DATABASE": database, "TOKEN_HS256_SECRET": ContactCenterTokens.secret])
        // Shedding is for an overloaded filter, and a test run loads this machine: limits that
        // shed no frame a test waits for.
        try await start("masking-filter", ["SHED_CURSORS_AFTER": "5", "SHED_FRAMES_AFTER": "20"].merging(filterEnvironment) { $1 })
        // The test WebSocket client presents the origin ws://127.0.0.1 (a listed site here).
        for index in 0..<2 {
            relays.append(try await start("dom-relay", ["ALLOWED_ORIGINS": "ws://127.0.0.1"]
                .merging(relayEnvironment) { $1 }.merging(["INSTANCE_ID": "relay-\(index)"]) { $1 }))
        }
    }

    @discardableResult
    private func start(_ executable: String, _ environment: [String: String]) async throws -> ServiceProcess {
        let process = try await ServiceProcess.ready(executable, environment: environment.merging(["AMQP_URL": url]) { $1 })
        processes.append(process)
        return process
    }

    /// Starts an `interaction-watch` (stopping a running one first, politely).
    @discardableResult
    public func startWatch(_ environment: [String: String] = [:]) async throws -> ServiceProcess {
        if let watch, watch.process.isRunning { _ = await watch.terminate() }
        let started = try await start("interaction-watch", environment)
        watch = started
        return started
    }

    /// A customer starts sharing on `relay`: the socket and the `started` reply.
    public func share(on relay: Int = 0, interaction: String = "ix-\(UUID().uuidString.prefix(8))",
                      channel: InteractionChannel = .chat) async throws -> (socket: SocketPeer, started: [String: Any]) {
        // The token first: a relay closes a socket whose opening message is late
        // (FIRST_MESSAGE_TIMEOUT), and signing may wait on a loaded machine.
        let token = try await tokens.interaction(interaction, channel: channel)
        let sharer = socket(relay, "/ws/share")
        sharer.send(["t": "start", "interactionToken": token])
        guard let started = await sharer.next(type: "started") else { throw TestBroker.Failure("no 'started' for a new share") }
        return (sharer, started)
    }

    /// An agent's console joins `session` on `relay`; throws unless it joined.
    public func join(_ session: String, on relay: Int = 1, agent: String = "agent-\(UUID().uuidString.prefix(8))",
                     role: AgentRole = .agent) async throws -> SocketPeer {
        let token = try await tokens.agent(agent, role: role)
        let viewer = socket(relay, "/ws/view")
        viewer.send(["t": "join", "agentToken": token, "sessionId": session])
        guard await viewer.next(type: "joined") != nil else { throw TestBroker.Failure("agent \(agent) could not join \(session)") }
        return viewer
    }

    public func socket(_ relay: Int, _ path: String, origin: String? = nil, maxFrameSize: Int = 8 << 20,
                       headers: [String: String] = [:]) -> SocketPeer {
        SocketPeer("ws://127.0.0.1:\(relays[relay].httpPort)\(path)", origin: origin, maxFrameSize: maxFrameSize, headers: headers)
    }

    public func stop() async {
        for process in processes where process.process.isRunning { _ = await process.terminate() }
    }
}

public func frame(_ object: [String: Any]) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
}

