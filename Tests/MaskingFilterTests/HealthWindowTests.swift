import CobrowseProtocol
import Foundation
@testable import MaskingFilter
import Testing

/// A session's health window: what one report says, and that each report starts afresh.
@Suite struct HealthWindowTests {
    let session = SessionID("123456789")!
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aReportGivesTheMedianTheLongestTheFramesAndTheResyncsOfItsWindow() {
        var window = HealthWindow()
        for (offset, latency) in [40, 3, 7, 5, 900].enumerated() {
            window.framePassed(latencyMilliseconds: latency, at: t0.addingTimeInterval(Double(offset)))
        }
        window.resyncAsked()
        let report = window.close(session, at: t0.addingTimeInterval(5), length: .milliseconds(2000))
        #expect(report.sessionID == session && report.at == t0.addingTimeInterval(5) && report.windowMilliseconds == 2000)
        #expect(report.framesPassed == 5 && report.resyncs == 1)
        #expect(report.latencyP50Milliseconds == 7 && report.latencyMaxMilliseconds == 900)
        #expect(report.lastFrameAt == t0.addingTimeInterval(4))
        #expect(report.isPlausible)
    }

    @Test func theNextWindowStartsEmptyButRemembersTheLastFrame() {
        var window = HealthWindow()
        window.framePassed(latencyMilliseconds: 12, at: t0)
        window.resyncAsked()
        _ = window.close(session, at: t0.addingTimeInterval(1), length: .seconds(2))
        let quiet = window.close(session, at: t0.addingTimeInterval(3), length: .seconds(2))
        #expect(quiet.framesPassed == 0 && quiet.resyncs == 0)
        #expect(quiet.latencyP50Milliseconds == nil && quiet.latencyMaxMilliseconds == nil)
        #expect(quiet.lastFrameAt == t0)
        #expect(quiet.isPlausible)
    }

    @Test func aBusyWindowKeepsABoundedSampleButTheExactLongestAndCount() {
        var window = HealthWindow()
        let frames = HealthWindow.samplesKept * 20
        for index in 0..<frames {
            window.framePassed(latencyMilliseconds: index == frames / 2 ? 5000 : 10 + index % 3, at: t0)
        }
        let report = window.close(session, at: t0, length: .seconds(2))
        #expect(report.framesPassed == frames)
        #expect(report.latencyMaxMilliseconds == 5000)
        #expect((10...12).contains(report.latencyP50Milliseconds ?? -1))
    }

    @Test func aClockThatRanBackwardsCountsAsNoWaitAndAnOddWindowLengthIsBounded() {
        var window = HealthWindow()
        window.framePassed(latencyMilliseconds: -30, at: t0)
        let report = window.close(session, at: t0, length: .seconds(600))
        #expect(report.latencyP50Milliseconds == 0 && report.latencyMaxMilliseconds == 0)
        #expect(report.windowMilliseconds == 60_000 && report.isPlausible)
    }
}
