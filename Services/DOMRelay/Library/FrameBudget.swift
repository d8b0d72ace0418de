import CobrowseProtocol

/// How much one socket may send: messages and bytes per second, each a token bucket that holds
/// `burst` seconds' worth, so a page's burst (a snapshot, a flurry of mutations) passes while a
/// flood does not. A socket over its budget for `closeAfter` seconds in a row is closed.
struct FrameBudget: Sendable {
    struct Limits: Sendable, Equatable {
        var framesPerSecond: Double
        var bytesPerSecond: Double
        /// Seconds of allowance a quiet socket saves up.
        var burst: Double = 2
        /// Consecutive seconds with something dropped after which the socket is closed (1008).
        var closeAfter: Int = 5
        /// A single message as large as this always fits the byte bucket when it is full.
        var largestMessage: Int = 0
    }

    /// What to do with one message.
    enum Verdict: Equatable {
        case pass
        /// Over the budget: drop it (and count it).
        case drop
        /// Over the budget for `closeAfter` seconds in a row: close the socket.
        case close
    }

    let limits: Limits
    private var frames: Double
    private var bytes: Double
    private var refilledAt: ContinuousClock.Instant
    private let origin: ContinuousClock.Instant
    /// The last whole second (since `origin`) in which something was dropped, and how many
    /// seconds in a row had drops up to it.
    private var lastDropSecond = Int.min
    private var secondsWithDrops = 0

    init(_ limits: Limits, now: ContinuousClock.Instant = .now) {
        self.limits = limits
        frames = framesCapacity(limits)
        bytes = bytesCapacity(limits)
        refilledAt = now
        origin = now
    }

    mutating func admit(bytes size: Int, now: ContinuousClock.Instant = .now) -> Verdict {
        let elapsed = max(0, (now - refilledAt).timeInterval)
        refilledAt = now
        frames = min(framesCapacity(limits), frames + elapsed * limits.framesPerSecond)
        bytes = min(bytesCapacity(limits), bytes + elapsed * limits.bytesPerSecond)
        if frames >= 1, bytes >= Double(size) {
            frames -= 1
            bytes -= Double(size)
            return .pass
        }
        let second = Int((now - origin).timeInterval)
        if second != lastDropSecond {
            secondsWithDrops = second == lastDropSecond + 1 ? secondsWithDrops + 1 : 1
            lastDropSecond = second
        }
        return secondsWithDrops >= limits.closeAfter ? .close : .drop
    }
}

private func framesCapacity(_ limits: FrameBudget.Limits) -> Double {
    max(1, limits.framesPerSecond * limits.burst)
}

private func bytesCapacity(_ limits: FrameBudget.Limits) -> Double {
    max(Double(limits.largestMessage), limits.bytesPerSecond * limits.burst)
}
