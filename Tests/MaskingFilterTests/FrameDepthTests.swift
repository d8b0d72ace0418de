import CobrowseProtocol
import Foundation
@testable import MaskingFilter
import Testing

/// A page `depth` + 1 elements deep: nested divs, a password field at the bottom.
func deepPage(_ depth: Int) -> StreamEvent.Snapshot {
    var field = DOMNode.element(depth + 1, "input", ["type": "password", "value": "hunter2"])
    field.value = "hunter2"
    var node = DOMNode.element(depth, "div", ["class": "d\(depth)"], [field, .text(depth + 2, "bottom")])
    for id in stride(from: depth - 1, through: 1, by: -1) { node = .element(id, id == 1 ? "html" : "div", [:], [node]) }
    return StreamEvent.Snapshot(url: "https://shop.example/deep", viewport: Viewport(w: 800, h: 600), root: node)
}

@Suite struct FrameDepthTests {
    @Test func theNestingScanCountsObjectsAndArraysButNotStrings() {
        #expect(FrameCoding.nesting(of: Data(#"{"a":[{"b":"[[{{\"]]"}]}"#.utf8)) == 3)
        #expect(FrameCoding.nesting(of: Data("1".utf8)) == 0)
    }

    @Test func foundationAloneCannotCodeAPage300Deep() throws {
        // The cause of the refusal: Foundation stops at 512 JSON levels, two per element.
        #expect(throws: (any Error).self) { try JSONEncoder().encode(StreamFrame(seq: 1, .snapshot(deepPage(300)))) }
    }

    @Test(arguments: [3, 300, StreamLimits.maxNodeDepth - 1]) // the last: a page exactly at the limit
    func snapshotsUpToTheLimitRoundTrip(depth: Int) throws {
        let frame = StreamFrame(seq: 1, .snapshot(deepPage(depth)))
        #expect(frame.event == .snapshot(deepPage(depth)) && deepPage(depth).root.depth == depth + 1)
        let data = try FrameCoding.encode(frame)
        #expect(FrameCoding.nesting(of: data) <= StreamLimits.maxNesting)
        #expect(try FrameCoding.decode(data) == frame)
        #expect(FrameCoding.head(of: data)?.t == "snapshot" && FrameCoding.head(of: data)?.seq == 1)
    }

    @Test func deepAddsInMutationsRoundTrip() throws {
        let frame = StreamFrame(seq: 2, .mutations(.init(adds: [.init(parent: 1, node: deepPage(400).root),
                                                                 .init(parent: 1, next: 3, node: .text(9999, "x"))])))
        #expect(try FrameCoding.decode(try FrameCoding.encode(frame)) == frame)
    }

    @Test func aSnapshotOverTheLimitIsTooDeep() throws {
        let data = try FrameCoding.encode(StreamFrame(seq: 1, .snapshot(deepPage(StreamLimits.maxNodeDepth))))
        #expect(throws: FrameTooDeep.self) { try FrameCoding.decode(data) }
        #expect("\(FrameTooDeep(nesting: 5000))".hasPrefix("too deep"))
        // A hostile frame nested far deeper: refused by the scan, its head still readable.
        let hostile = Data((#"{"t":"snapshot","seq":1,"x":"# + String(repeating: "[", count: 100_000)).utf8)
        #expect(throws: FrameTooDeep.self) { try FrameCoding.decode(hostile) }
    }

    @Test func aDeepPageIsMaskedLikeAnyOther() throws {
        var stream = SessionStream()
        let data = try FrameCoding.encode(StreamFrame(seq: 1, .snapshot(deepPage(300))))
        let outputs = stream.process(try FrameCoding.decode(data))
        guard case let .view(masked)? = outputs.first else { Issue.record("nothing forwarded: \(outputs)"); return }
        let text = String(decoding: try FrameCoding.encode(masked), as: UTF8.self)
        #expect(!text.contains("hunter2") && text.contains("****"))
    }

    @Test func aTooDeepFrameStopsTheStreamAndAsksForASnapshot() {
        var stream = SessionStream()
        _ = stream.process(StreamFrame(seq: 1, .snapshot(deepPage(3))))
        let outputs = stream.refused("too deep", now: .now)
        #expect(outputs == [.resync(reason: "too deep")])
        #expect(!stream.hasSnapshot)
    }
}
