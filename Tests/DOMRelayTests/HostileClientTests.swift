import CobrowseProtocol
@testable import DOMRelay
import Logging
import Foundation
import ServiceKit
import TestSupport
import Testing

/// One client must not hurt the others, nor speak for another party: what each side may send,
/// the per-socket budgets, one snapshot per interval however many ask, and the deadline for a
/// socket's opening message. Through the real relays, filter, registry and broker.
@Suite struct HostileClientTests {
    /// A shared session with its lead agent on the other relay, both past the first snapshot.
    func session(_ suite: SuiteFixture) async throws -> (sharer: SocketPeer, agent: SocketPeer, id: String) {
        let (sharer, started) = try await suite.share()
        let id = try #require(started["sessionId"] as? String)
        let agent = try await suite.join(id)
        _ = try #require(await sharer.next(type: "resync"))
        sharer.send(frame(loginSnapshot()))
        _ = try #require(await agent.next(type: "snapshot"))
        return (sharer, agent, id)
    }

    /// Actions the sharer receives until none comes for `quiet`.
    func actions(reaching sharer: SocketPeer, quiet: Duration = .seconds(3)) async -> [[String: Any]] {
        var received: [[String: Any]] = []
        while let action = await sharer.next(type: "action", within: quiet) { received.append(action) }
        return received
    }

    @Test func aCustomerSocketCannotSpeakForTheAgentTheRelayOrTheFilter() async throws {
        let suite = try await SuiteFixture("hostile-sharer-types")
        defer { Task { await suite.stop() } }
        let (sharer, agent, _) = try await session(suite)
        for forged in [
            ["t": "agent", "agent": "mallory", "action": ["t": "pointer", "x": 1, "y": 1]],
            ["t": "paused", "seq": 2], ["t": "action-dropped", "seq": 2, "action": "click", "reason": "pointer-mode"],
            ["t": "presence", "lead": "connected"], ["t": "snapshot-wanted", "reason": "x"], ["t": "action", "seq": 2],
        ] as [[String: Any]] {
            sharer.send(forged)
            let refusal = await sharer.next(type: "error")
            #expect(refusal?["code"] as? String == "not-supported", "\(forged["t"]!) was not refused")
        }
        // The agent's own pointer is the first action the customer's page gets: none was echoed.
        agent.send(["t": "pointer", "x": 42, "y": 43])
        let first = try #require(await sharer.next(type: "action"))
        #expect((first["action"] as? [String: Any])?["x"] as? Int == 42)
        #expect(await agent.nothing(ofType: "action-dropped", within: .milliseconds(500)), "a forged notice reached the agent")
        // And the stream still works.
        sharer.send(frame(["t": "cursor", "seq": 2, "x": 5, "y": 6]))
        #expect(await agent.next(type: "cursor") != nil)
    }

    @Test func aViewersFloodReachesTheCustomerOnlyUpToItsBudget() async throws {
        let perSecond = 20
        let suite = try await SuiteFixture("hostile-viewer-flood", relayEnvironment: [
            "VIEWER_FRAMES_PER_SECOND": "\(perSecond)", "BUDGET_CLOSE_AFTER": "60",
        ])
        defer { Task { await suite.stop() } }
        let (sharer, agent, _) = try await session(suite)
        let began = ContinuousClock.now
        for step in 0..<2000 { agent.send(["t": "pointer", "x": step, "y": step]) }
        let received = await actions(reaching: sharer)
        // The burst (2 s of allowance) plus what refills while the flood is read, with a second of room.
        let seconds = (ContinuousClock.now - began).timeInterval
        let bound = Int(Double(perSecond) * (2 + seconds + 1))
        #expect(!received.isEmpty)
        #expect(received.count <= bound, "\(received.count) of 2,000 pointer actions reached the customer (budget \(bound))")
    }

    @Test func aSocketThatKeepsExceedingItsBudgetIsClosedWithPolicyViolation() async throws {
        let suite = try await SuiteFixture("hostile-close", relayEnvironment: [
            "SHARER_FRAMES_PER_SECOND": "50", "BUDGET_CLOSE_AFTER": "2",
        ])
        defer { Task { await suite.stop() } }
        let (sharer, _, _) = try await session(suite)
        // 500 frames a second, ten times the budget, until the relay closes the socket.
        var seq = 2
        let flood = Task {
            while !sharer.isClosed, !Task.isCancelled {
                for _ in 0..<50 {
                    sharer.send(frame(["t": "cursor", "seq": seq, "x": seq, "y": 1]))
                    seq += 1
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        defer { flood.cancel() }
        let close = try await sharer.closed()
        #expect(close?.closeCode == .policyViolation)
        #expect(close?.reason?.contains("over budget") == true)
    }

    @Test func aResyncFloodMakesThePageUploadAtMostOneSnapshotAnIntervalAndObserversMayNotAsk() async throws {
        let suite = try await SuiteFixture("hostile-resync")
        defer { Task { await suite.stop() } }
        let (sharer, agent, id) = try await session(suite)
        let observer = try await suite.join(id, on: 0, agent: "sup-\(UUID())", role: .supervisor)
        _ = await sharer.next(type: "resync") // the observer's join asks for a snapshot
        observer.send(["t": "resync"])
        #expect(await observer.next(type: "error")?["code"] as? String == "not-allowed")
        // The lead asks 150 times in a second and a half (within its message budget).
        let began = ContinuousClock.now
        for _ in 0..<15 {
            for _ in 0..<10 { agent.send(["t": "resync"]) }
            try await Task.sleep(for: .milliseconds(100))
        }
        var asked = 0
        while await sharer.next(type: "resync", within: .seconds(4)) != nil { asked += 1 }
        // One per 2 s interval over the flood and the wait for quiet, and one of room.
        let bound = Int((ContinuousClock.now - began).timeInterval / 2) + 2
        #expect(asked >= 1 && asked <= bound, "the page was asked for \(asked) snapshots (bound \(bound))")
    }

    @Test func aSocketThatNeverSendsItsOpeningMessageIsClosed() async throws {
        // Long enough that a loaded machine's delay between the upgrade and a speaking client's
        // first message (the share below) never reaches it; a silent socket still waits it out.
        let suite = try await SuiteFixture("hostile-silent", relayEnvironment: ["FIRST_MESSAGE_TIMEOUT": "5"])
        defer { Task { await suite.stop() } }
        let silentSharer = suite.socket(0, "/ws/share")
        let silentViewer = suite.socket(0, "/ws/view")
        #expect(try await silentSharer.closed()?.closeCode == .policyViolation)
        #expect(try await silentViewer.closed()?.closeCode == .policyViolation)
        // Someone who does speak is served as usual.
        _ = try await suite.share()
    }
}

/// The relay's own origin, when no list is configured: host, port and scheme all count.
@Suite struct OriginCheckTests {
    func endpoints(tls: Bool = false) -> SocketRoutes {
        let limits = FrameBudget.Limits(framesPerSecond: 1, bytesPerSecond: 1024)
        return SocketRoutes(hub: SocketHub(), allowedOrigins: [], maxFrameBytes: 1024, sharerBudget: limits, viewerBudget: limits,
                              firstMessageTimeout: .seconds(1), servesTLS: tls,
                              attempts: AttemptLimiter(.init(limit: 10, window: .seconds(60))),
                              clientAddresses: try! ClientAddresses(trusted: ""), ingest: IngestBatcher(), logger: Logger(label: "test"))
    }

    @Test func theSameHostAndPortAreAllowedWithTheSchemesDefaultPortWhenHostHasNone() {
        let relay = endpoints()
        #expect(relay.allows(origin: "http://shop.example", host: "shop.example"))
        #expect(relay.allows(origin: "https://shop.example", host: "shop.example"), "TLS ended at a load balancer")
        #expect(relay.allows(origin: "http://shop.example", host: "shop.example:80"))
        #expect(relay.allows(origin: "http://shop.example:8080", host: "SHOP.example:8080"))
        #expect(relay.allows(origin: "http://[::1]:8080", host: "[::1]:8080"))
    }

    @Test func anotherPortAnotherSchemeOrAnotherHostIsRefused() {
        let relay = endpoints()
        #expect(!relay.allows(origin: "http://shop.example:9999", host: "shop.example"), "any port was accepted when Host had none")
        #expect(!relay.allows(origin: "https://shop.example", host: "shop.example:80"))
        #expect(!relay.allows(origin: "ftp://shop.example", host: "shop.example"), "the scheme was ignored")
        #expect(!relay.allows(origin: "null", host: "shop.example"))
        #expect(!relay.allows(origin: "http://evil.example", host: "shop.example"))
        #expect(!relay.allows(origin: "http://shop.example.evil.example", host: "shop.example"))
        #expect(!endpoints(tls: true).allows(origin: "http://shop.example", host: "shop.example"), "plain http to a TLS relay")
    }
}
