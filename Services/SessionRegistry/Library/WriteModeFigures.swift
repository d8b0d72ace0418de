import CobrowseProtocol
import Foundation

/// What a session's mode changes add up to: write-mode requests, approvals, and the time spent
/// in write mode (each approval to its revocation), for its timeline and for reports alike.
struct WriteModeFigures: Sendable, Equatable {
    var requests = 0
    var approvals = 0
    /// Milliseconds in write mode.
    var time: Int64 = 0

    /// The figures of `changes`; a write mode never revoked lasts until `openUntil` (the session's
    /// end, or now for a live one), or is not counted when that is nil.
    init(_ changes: [ModeChange], openUntil: Date?) {
        var since: Date?
        for change in changes.sorted(by: { $0.at < $1.at }) {
            switch change.kind {
            case .requested: requests += 1
            case .approved:
                approvals += 1
                since = since ?? change.at
            case .revoked:
                if let start = since { time += start.milliseconds(to: change.at) }
                since = nil
            case .denied, .timedOut: break
            }
        }
        if let start = since, let openUntil { time += start.milliseconds(to: openUntil) }
    }
}

extension Date {
    /// Whole milliseconds from this instant to a later one (0 if it is not later), as timelines and reports count them.
    func milliseconds(to later: Date) -> Int64 {
        max(0, later.millisecondsSince1970 - millisecondsSince1970)
    }
}
