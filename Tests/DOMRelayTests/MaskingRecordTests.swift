import AMQP
import CobrowseBroker
import CobrowseProtocol
import Foundation
import ServiceKit
import TestSupport
import Testing

/// A session's masking record, end to end: the masking filter counts what it masked and
/// refused, and the registry keeps it in the session's history (real broker, real services).
@Suite struct MaskingRecordTests {
    @Test func theRegistryKeepsWhatTheFilterMaskedAndWhichAgentActionsItDropped() async throws {
        let suite = try await SuiteFixture("masking-record")
        defer { Task { await suite.stop() } }
        let (sharer, started) = try await suite.share()
        let id = try #require(started["sessionId"] as? String)
        let agent = try await suite.join(id)
        _ = try #require(await sharer.next(type: "resync"))
        // As a client that is not the SDK would send it: nothing masked yet.
        sharer.send(frame([
            "t": "snapshot", "seq": 1, "url": "https://shop.example/account?email=ada%40example.com", "viewport": ["w": 1280, "h": 800],
            "scroll": ["x": 0, "y": 0],
            "root": ["id": 1, "type": "element", "tag": "html", "children": [
                ["id": 2, "type": "element", "tag": "body", "children": [
                    ["id": 3, "type": "element", "tag": "input", "attrs": ["type": "password"], "value": "hunter2"],
                    ["id": 4, "type": "element", "tag": "p", "children": [["id": 5, "type": "text", "text": "Card 4111 1111 1111 1111"]]],
                    ["id": 6, "type": "element", "tag": "input", "attrs": ["id": "name"], "value": ""],
                ]],
            ]],
        ]))
        // What the SDK's own detectors masked, as it reports it.
        sharer.send(frame(["t": "detected", "seq": 2, "hits": ["email": 3]]))
        let snapshot = try #require(await agent.next(type: "snapshot"))
        #expect(!frame(snapshot).contains("4111") && !frame(snapshot).contains("hunter2"))
        // Pointer mode: typing is refused; a click annotation is passed on, and the cursor's moves
        // are not recorded.
        agent.send(["t": "type", "id": 6, "value": "Ada"])
        #expect(await agent.next(type: "action-dropped")?["reason"] as? String == "pointer-mode")
        agent.send(["t": "pointer", "x": 10, "y": 10])
        agent.send(["t": "annotate", "x": 20, "y": 30])
        #expect((await sharer.next(type: "action")?["action"] as? [String: Any])?["t"] as? String == "pointer")
        #expect((await sharer.next(type: "action")?["action"] as? [String: Any])?["t"] as? String == "annotate")

        // The filter reports every 2 s; the registry adds it to the session.
        let connection = try await AMQPConnection.connect(url: suite.url)
        defer { Task { await connection.close() } }
        let registry = RegistryClient(connection: connection)
        var record: MaskingRecord?
        let reported = await eventually(within: .seconds(60)) {
            record = try? await registry.send(.get(session: SessionID(id)!)).get().masking
            return (record?.droppedActionsTotal ?? 0) >= 1 && (record?.detectorHits["card"] ?? 0) >= 1
                && (record?.sdkDetectorHits["email"] ?? 0) >= 1 && (record?.forwardedActionsTotal ?? 0) >= 1
        }
        #expect(reported, "the registry has no masking record of the session: \(String(describing: record))")
        #expect(record?.rulesHashes == ["built-in"], "masked under the built-in rules (no rules file)")
        #expect((record?.maskedElements ?? 0) >= 1, "the password field")
        #expect(record?.maskedValues == 1, "hunter2")
        #expect(record?.detectorHits == ["card": 1])
        #expect(record?.sdkDetectorHits == ["email": 3], "the SDK's own detections")
        #expect(record?.droppedActions.map(\.action) == ["type"])
        #expect(record?.droppedActions.map(\.reason) == ["pointer-mode"])
        #expect(record?.forwardedActions.map(\.action) == ["annotate"] && record?.forwardedActionsTotal == 1)
        // The page, without its query (where the customer's e-mail address was).
        #expect(record?.pages.map(\.url) == ["https://shop.example/account"] && record?.pagesTotal == 1)
        let text = String(decoding: try JSONEncoder.cobrowse.encode(record), as: UTF8.self)
        #expect(!text.contains("4111") && !text.contains("hunter2") && !text.contains("Ada") && !text.contains("example.com"),
                "page content in the record: \(text)")
    }
}
