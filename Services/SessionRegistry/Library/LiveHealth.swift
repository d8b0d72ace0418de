import CobrowseProtocol
import Foundation
import Synchronization

/// The masking filters' health reports on each live session (`reportHealth`), for supervisors
/// (`superviseLive`): the newest report, and the snapshots asked for within the last
/// `resyncHorizon`. In the active registry's memory only: it is a live reading, not history
/// (the session's masking record keeps its whole resync count), and a registry that takes over
/// has it again with the filters' next reports.
public final class LiveHealth: Sendable {
    /// How far back the resync count of a session's reading goes.
    public static let resyncHorizon: TimeInterval = 60

    /// What a supervisor is told of one session.
    struct Reading: Equatable {
        /// The newest report.
        var latest: SessionHealth
        /// Snapshots asked for within `resyncHorizon` of the newest report.
        var recentResyncs: Int
    }

    private struct Entry {
        var latest: SessionHealth
        /// Each report's resyncs, when it was made (newest last), back to `resyncHorizon`.
        var resyncs: [(at: Date, count: Int)] = []
    }

    private let entries = Mutex([SessionID: Entry]())

    /// An empty board.
    public init() {}

    /// Takes reports: the newest per session is kept (one that comes late does not replace a
    /// newer one, but its resyncs count), and sessions without a report for
    /// `HealthStatus.reportFreshness` are forgotten (the filter stopped, the session ended).
    func record(_ reports: [SessionHealth], now: Date) {
        entries.withLock { entries in
            for report in reports {
                var entry = entries[report.sessionID] ?? Entry(latest: report)
                if entry.latest.at < report.at { entry.latest = report }
                if report.resyncs > 0 { entry.resyncs.append((report.at, report.resyncs)) }
                entry.resyncs.removeAll { entry.latest.at.timeIntervalSince($0.at) > Self.resyncHorizon }
                entries[report.sessionID] = entry
            }
            entries = entries.filter { now.timeIntervalSince($0.value.latest.at) <= HealthStatus.reportFreshness }
        }
    }

    /// The reading on `session`, if a report came.
    func reading(of session: SessionID) -> Reading? {
        entries.withLock { entries in
            entries[session].map { Reading(latest: $0.latest, recentResyncs: $0.resyncs.reduce(0) { $0 + $1.count }) }
        }
    }
}
