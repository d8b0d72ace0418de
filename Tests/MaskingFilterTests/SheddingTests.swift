import CobrowseProtocol
import Foundation
@testable import MaskingFilter
import ServiceKit
import Testing

/// What the filter sheds when frames wait too long on their shard, and how a stream goes on.
@Suite struct SheddingTests {
    let policy = SheddingPolicy(frames: .seconds(1), cursors: .milliseconds(250))

    @Test func framesOnTimeAreProcessedAndLateOnesShedCursorsFirst() {
        #expect(policy.verdict(type: "mutations", waited: .milliseconds(900)) == .process)
        #expect(policy.verdict(type: "cursor", waited: .milliseconds(200)) == .process)
        #expect(policy.verdict(type: "cursor", waited: .milliseconds(300)) == .skipCursor)
        #expect(policy.verdict(type: "click", waited: .milliseconds(300)) == .process)
        #expect(policy.verdict(type: "mutations", waited: .milliseconds(1100)) == .shed)
        #expect(policy.verdict(type: "cursor", waited: .seconds(5)) == .skipCursor)
        #expect(policy.threshold == .milliseconds(250))
    }

    @Test func aSnapshotIsNeverShedHoweverLate() {
        #expect(policy.verdict(type: "snapshot", waited: .seconds(30)) == .process)
    }

    @Test func limitsSetToNeverShedNothing() {
        let never = SheddingPolicy(frames: nil, cursors: nil)
        #expect(never.threshold == nil)
        #expect(never.verdict(type: "mutations", waited: .seconds(60)) == .process)
        #expect(never.verdict(type: "cursor", waited: .seconds(60)) == .process)
    }

    @Test func aSkippedCursorKeepsTheStreamInSequence() {
        var stream = SessionStream()
        let now = ContinuousClock.now
        _ = stream.process(StreamFrame(seq: 1, .snapshot(loginPage())), now: now)
        #expect(stream.skipCursor(seq: 2, now: now).isEmpty)
        let next = stream.process(StreamFrame(seq: 3, .cursor(.init(x: 5, y: 5))), now: now)
        #expect(next == [.view(StreamFrame(seq: 2, .cursor(.init(x: 5, y: 5))))], "the viewers' sequence has no hole either")
    }

    @Test func aSkippedCursorOutOfSequenceIsAGap() {
        var stream = SessionStream()
        let now = ContinuousClock.now
        _ = stream.process(StreamFrame(seq: 1, .snapshot(loginPage())), now: now)
        guard case let .resync(reason)? = stream.skipCursor(seq: 4, now: now).first else {
            Issue.record("a gap must ask for a snapshot")
            return
        }
        #expect(reason.contains("gap"))
        #expect(!stream.hasSnapshot)
    }

    @Test func sheddingSettingsAreReadAndBadOnesRefusedByName() throws {
        let defaults = try MaskingFilterService.shedding(ServiceEnvironment([:]))
        #expect(defaults == SheddingPolicy(frames: .seconds(1), cursors: .milliseconds(250)))
        let off = try MaskingFilterService.shedding(ServiceEnvironment(["SHED_FRAMES_AFTER": "0", "SHED_CURSORS_AFTER": "0.5"]))
        #expect(off == SheddingPolicy(frames: nil, cursors: .milliseconds(500)))
        #expect(throws: ConfigurationError.self) { try MaskingFilterService.shedding(ServiceEnvironment(["SHED_FRAMES_AFTER": "soon"])) }
        let refusal = #expect(throws: ConfigurationError.self) {
            try MaskingFilterService.shedding(ServiceEnvironment(["SHED_CURSORS_AFTER": "-1"]))
        }
        #expect(refusal.map { "\($0)" }?.contains("SHED_CURSORS_AFTER") == true)
    }
}
