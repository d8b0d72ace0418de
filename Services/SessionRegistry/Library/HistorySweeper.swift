import Foundation
import Logging
import Metrics
import ServiceKit

/// How long ended sessions' records are kept (`HISTORY_RETENTION_DAYS`), and how often the
/// registry looks for older ones.
public struct HistoryRetention: Sendable, Equatable {
    public static let days = EnvironmentVariable(
        "HISTORY_RETENTION_DAYS", default: "365",
        "Days an ended session's record (history, visits, masking record) is kept after its end, then deleted; decimals allowed, `0` keeps everything. Ids are never issued again either way.")
    public static let sweepInterval = EnvironmentVariable(
        "HISTORY_SWEEP_INTERVAL", default: "3600", "Seconds between the registry's searches for records past `HISTORY_RETENTION_DAYS`.")
    public static let variables = [days, sweepInterval]

    /// nil: kept forever.
    public var period: Duration?
    public var sweepInterval: Duration

    public init(_ environment: ServiceEnvironment) throws {
        let text = environment.string(Self.days)
        guard let days = Double(text), days >= 0, days <= 36_500 else {
            throw ConfigurationError(variable: Self.days.name, value: text, expected: "days from 0 (keep everything) to 36500, decimals allowed")
        }
        period = days == 0 ? nil : .milliseconds(Int64(days * 86_400_000))
        sweepInterval = try environment.seconds(Self.sweepInterval, in: 0.1...86_400)
    }
}

/// Deletes what retention says is too old, at start and then every `sweepInterval`, a batch per
/// transaction so no sweep holds the store for long.
public struct HistorySweeper: Sendable {
    static let batch = 1000
    private static let deleted = Counter(label: "cobrowse_registry_history_deleted_total")
    let store: any SessionStoring
    /// Records of sessions ended longer ago than this go.
    let period: Duration
    let interval: Duration
    let logger: Logger

    public init(store: any SessionStoring, period: Duration, interval: Duration, logger: Logger) {
        self.store = store
        self.period = period
        self.interval = interval
        self.logger = logger
    }

    /// Sweeps until cancelled.
    public func run() async throws {
        while !Task.isCancelled {
            do {
                let removed = try await sweep(before: Date() - period.timeInterval)
                if removed > 0 { logger.info("deleted ended sessions past retention", metadata: ["sessions": "\(removed)"]) }
            } catch {
                logger.error("history sweep failed", metadata: ["error": "\(error)"])
            }
            try await Task.sleep(for: interval)
        }
    }

    /// Deletes every session that ended before `cutoff`; returns how many.
    func sweep(before cutoff: Date) async throws -> Int {
        var total = 0
        while true {
            let removed = try await store.deleteHistory(endedBefore: cutoff, limit: Self.batch)
            total += removed
            Self.deleted.increment(by: removed)
            if removed < Self.batch { return total }
        }
    }
}
