import CobrowseProtocol
import Foundation

/// One session's figures since its last health report: frames passed on, their latency (the
/// customer's relay receiving a frame to its masked form leaving the filter), snapshots asked
/// for. Closing the window gives the report (`SessionHealth`) and starts the next. Pure.
struct HealthWindow {
    /// Latencies kept for the median: a uniform sample of the window's frames (the longest is
    /// kept apart, exactly), so a busy session costs no more than this.
    static let samplesKept = 256

    private var samples: [Int] = []
    private var longest: Int?
    private var framesPassed = 0
    private var resyncs = 0
    private var lastFrameAt: Date?
    private var sampleGenerator = SystemRandomNumberGenerator()

    /// A masked frame passed on to the viewers at `at`, `latencyMilliseconds` after the
    /// customer's relay got it.
    mutating func framePassed(latencyMilliseconds: Int, at: Date) {
        let latency = max(0, latencyMilliseconds)
        framesPassed += 1
        lastFrameAt = at
        longest = max(longest ?? latency, latency)
        if samples.count < Self.samplesKept {
            samples.append(latency)
        } else {
            // Reservoir sampling: each of the window's frames is kept with the same chance.
            let slot = Int.random(in: 0..<framesPassed, using: &sampleGenerator)
            if slot < Self.samplesKept { samples[slot] = latency }
        }
    }

    /// A snapshot was asked of the customer's page.
    mutating func resyncAsked() {
        resyncs += 1
    }

    /// The report on the window that closes at `at`, `length` long; the next window starts empty
    /// (the last frame's time carries over).
    mutating func close(_ session: SessionID, at: Date, length: Duration) -> SessionHealth {
        let median: Int? = samples.isEmpty ? nil : samples.sorted()[(samples.count - 1) / 2]
        let report = SessionHealth(sessionID: session, at: at,
                                   windowMilliseconds: max(1, min(60_000, Int((length / .milliseconds(1)).rounded()))),
                                   framesPassed: framesPassed, latencyP50Milliseconds: median,
                                   latencyMaxMilliseconds: longest, resyncs: resyncs, lastFrameAt: lastFrameAt)
        self = HealthWindow(lastFrameAt: lastFrameAt)
        return report
    }

    private init(lastFrameAt: Date?) {
        self.lastFrameAt = lastFrameAt
    }

    /// An empty window.
    init() {}
}
