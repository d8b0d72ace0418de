@testable import DOMRelay
import Synchronization
import Testing

/// The wrong-attempt limiter alone, with a clock moved by hand.
@Suite struct AttemptLimiterTests {
    final class Clock: Sendable {
        let start = ContinuousClock.now
        let offset = Mutex<Duration>(.zero)
        var now: ContinuousClock.Instant { start + offset.withLock { $0 } }
        func advance(_ by: Duration) { offset.withLock { $0 += by } }
    }

    @Test func theLimitthAttemptThrottlesUntilTheOldestLeavesTheWindow() {
        let clock = Clock()
        let limiter = AttemptLimiter(.init(limit: 3, window: .seconds(60)), now: { clock.now })
        for _ in 0..<2 { limiter.record("a"); clock.advance(.seconds(10)) }
        #expect(limiter.check("a") == nil)
        limiter.record("a") // at 20 s: three in the window (0, 10, 20 s)
        let throttled = limiter.check("a")
        #expect(throttled == .init(retryAfter: .seconds(40), first: true))
        #expect(limiter.check("a")?.first == false, "reported once per spell, not per request")
        #expect(limiter.check("b") == nil, "keys are separate")
        clock.advance(.seconds(39))
        #expect(limiter.check("a")?.retryAfter == .seconds(1))
        clock.advance(.seconds(1)) // 60 s: the first attempt left the window
        #expect(limiter.check("a") == nil)
        limiter.record("a") // 60 s: 10, 20, 60 → throttled until 10 s leaves, at 70 s
        #expect(limiter.check("a") == .init(retryAfter: .seconds(10), first: true))
    }

    @Test func theWindowSlidesAndExpiredKeysAreSwept() {
        let clock = Clock()
        let limiter = AttemptLimiter(.init(limit: 2, window: .seconds(5)), sweepAbove: 3, now: { clock.now })
        for step in 0..<10 {
            // One attempt every 3 s: two of them in every 5 s window from the second on.
            limiter.record("steady")
            if step > 0 { #expect(limiter.check("steady") != nil) }
            clock.advance(.seconds(3))
        }
        let slow = AttemptLimiter(.init(limit: 2, window: .seconds(5)), now: { clock.now })
        for _ in 0..<10 {
            slow.record("slow")
            #expect(slow.check("slow") == nil, "one attempt every 6 s stays under 2 per 5 s")
            clock.advance(.seconds(6))
        }
        for key in ["a", "b", "c", "d"] { limiter.record(key) }
        clock.advance(.seconds(6))
        limiter.record("e")
        #expect(limiter.trackedKeys <= 2, "expired keys are dropped once there are many")
    }

    @Test func retryTimesRoundUpToWholeSeconds() {
        #expect(AttemptLimiter.seconds(.milliseconds(1)) == 1)
        #expect(AttemptLimiter.seconds(.seconds(40)) == 40)
        #expect(AttemptLimiter.seconds(.milliseconds(40_001)) == 41)
        #expect(AttemptLimiter.seconds(.zero) == 1)
    }

    @Test func forwardedForCountsOnlyFromTrustedProxies() throws {
        let none = try ClientAddresses(trusted: "")
        #expect(none.client(peer: "10.0.0.5", forwardedFor: ["203.0.113.7"]) == "10.0.0.5")
        let lb = try ClientAddresses(trusted: "10.0.0.0/8, 192.168.1.1")
        #expect(lb.client(peer: "10.0.0.5", forwardedFor: ["203.0.113.7"]) == "203.0.113.7")
        // A client's own X-Forwarded-For comes first; the proxy appends what it saw.
        #expect(lb.client(peer: "10.0.0.5", forwardedFor: ["1.2.3.4, 203.0.113.7"]) == "203.0.113.7")
        #expect(lb.client(peer: "192.168.1.1", forwardedFor: ["203.0.113.7", "10.1.2.3"]) == "203.0.113.7")
        #expect(lb.client(peer: "172.16.0.1", forwardedFor: ["203.0.113.7"]) == "172.16.0.1")
        #expect(lb.client(peer: "10.0.0.5", forwardedFor: []) == "10.0.0.5")
        #expect(throws: ClientAddressError.self) { try ClientAddresses(trusted: "10.0.0.0/33") }
    }
}
