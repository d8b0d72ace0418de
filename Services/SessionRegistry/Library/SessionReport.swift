import CobrowseProtocol
import Foundation

/// What a report needs of one session (`SessionStoring.reportRows`): its times, channel, lead,
/// end, mode changes and the agent actions the filter dropped, by reason.
public struct ReportRow: Sendable, Equatable {
    public var id: SessionID
    public var createdAt: Date
    public var joinedAt: Date?
    public var endedAt: Date?
    public var channel: InteractionChannel
    public var leadAgentID: String?
    public var endReason: EndReason?
    public var modeChanges: [ModeChange]
    public var droppedActions: [String: Int]
}

/// Where the next page of report rows starts: after this session in creation order.
public struct ReportCursor: Sendable, Equatable {
    public var createdAt: Date
    public var id: SessionID
}

/// Figures for contact-center managers over the sessions created in a period, in one group or
/// grouped by day (UTC), agent or channel: sessions started, joined and ended; median and 90th
/// percentile time to join and session length; end reasons; write-mode requests, approvals and
/// time; agent actions the filter dropped, by reason.
public struct SessionReport: Sendable, Codable, Equatable {
    public enum Grouping: String, Sendable, Codable, CaseIterable {
        case none, day, agent, channel
    }

    /// Median and 90th percentile (nearest rank), in milliseconds.
    public struct Percentiles: Sendable, Codable, Equatable {
        public var median: Int64
        public var p90: Int64
    }

    public struct Group: Sendable, Codable, Equatable {
        /// The day (`2026-12-06`), the lead agent's id (`""`: never joined), the channel, or `all`.
        public var key: String
        public var started = 0
        public var joined = 0
        public var ended = 0
        /// From start to the lead's join, over the joined sessions.
        public var timeToJoin: Percentiles?
        /// From start to end, over the ended sessions.
        public var length: Percentiles?
        public var endReasons: [String: Int] = [:]
        public var writeRequests = 0
        public var writeApprovals = 0
        /// Approvals per request; nil without requests.
        public var writeAcceptanceRate: Double?
        /// Milliseconds in write mode, added up.
        public var writeModeTime: Int64 = 0
        public var droppedActions: [String: Int] = [:]
    }

    public var from: Date
    public var to: Date
    public var by: Grouping
    /// `offset` onwards, at most `limit` of `totalGroups`, in key order.
    public var groups: [Group]
    public var totalGroups: Int
    public var offset: Int

    /// The longest period one report may cover: a bound on what one request reads.
    public static let maxPeriod: TimeInterval = 92 * 86_400

    /// Gathers rows one page at a time (any order), then `report(offset:limit:)` makes the figures.
    public struct Builder: Sendable {
        let from: Date, to: Date, by: Grouping
        private var groups: [String: Accumulator] = [:]

        public init(from: Date, to: Date, by: Grouping) {
            self.from = from
            self.to = to
            self.by = by
        }

        public mutating func add(_ row: ReportRow) {
            let key: String = switch by {
            case .none: "all"
            case .day: Self.day.string(from: row.createdAt)
            case .agent: row.leadAgentID ?? ""
            case .channel: row.channel.rawValue
            }
            // In place (the dictionary's default subscript yields its value): copying a group out
            // and back would copy its arrays for every row.
            groups[key, default: Accumulator(group: Group(key: key))].add(row)
        }

        public func report(offset: Int, limit: Int) -> SessionReport {
            let all = groups.keys.sorted().map { key -> Group in
                let entry = groups[key]!
                var group = entry.group
                group.timeToJoin = Self.percentiles(entry.joins)
                group.length = Self.percentiles(entry.lengths)
                group.writeAcceptanceRate = group.writeRequests == 0 ? nil : Double(group.writeApprovals) / Double(group.writeRequests)
                return group
            }
            return SessionReport(from: from, to: to, by: by, groups: Array(all.dropFirst(offset).prefix(limit)),
                                 totalGroups: all.count, offset: offset)
        }

        static func percentiles(_ values: [Int64]) -> Percentiles? {
            guard !values.isEmpty else { return nil }
            let sorted = values.sorted()
            func rank(_ fraction: Double) -> Int64 { sorted[max(0, Int((fraction * Double(sorted.count)).rounded(.up)) - 1)] }
            return Percentiles(median: rank(0.5), p90: rank(0.9))
        }

        static let day: DateFormatter = {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyy-MM-dd"
            return formatter
        }()
    }

    /// One group's figures so far, and the waits and lengths its percentiles come from.
    struct Accumulator: Sendable {
        var group: Group
        var joins: [Int64] = []
        var lengths: [Int64] = []

        mutating func add(_ row: ReportRow) {
            group.started += 1
            if let joined = row.joinedAt {
                group.joined += 1
                joins.append(row.createdAt.milliseconds(to: joined))
            }
            if let ended = row.endedAt {
                group.ended += 1
                lengths.append(row.createdAt.milliseconds(to: ended))
            }
            if let reason = row.endReason { group.endReasons[reason.rawValue, default: 0] += 1 }
            // A live session's open write mode is not counted: the report is of what is over.
            let write = WriteModeFigures(row.modeChanges, openUntil: row.endedAt)
            group.writeRequests += write.requests
            group.writeApprovals += write.approvals
            group.writeModeTime += write.time
            for (reason, count) in row.droppedActions { group.droppedActions[reason, default: 0] += count }
        }
    }

    /// The report as CSV (RFC 4180): a header, then one line per group; end reasons and dropped
    /// actions as `reason=count` pairs separated by `;`.
    public var csv: String {
        let header = ["from", "to", "group", "started", "joined", "ended", "time_to_join_median_ms", "time_to_join_p90_ms",
                      "length_median_ms", "length_p90_ms", "write_requests", "write_approvals", "write_acceptance_rate",
                      "write_mode_ms", "end_reasons", "dropped_actions"]
        func pairs(_ counts: [String: Int]) -> String { counts.keys.sorted().map { "\($0)=\(counts[$0]!)" }.joined(separator: ";") }
        func field(_ text: String) -> String {
            text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        }
        let (start, end) = (CobrowseDate.format(from), CobrowseDate.format(to))
        let lines = groups.map { group -> String in
            [start, end, group.key, "\(group.started)", "\(group.joined)", "\(group.ended)",
             group.timeToJoin.map { "\($0.median)" } ?? "", group.timeToJoin.map { "\($0.p90)" } ?? "",
             group.length.map { "\($0.median)" } ?? "", group.length.map { "\($0.p90)" } ?? "",
             "\(group.writeRequests)", "\(group.writeApprovals)", group.writeAcceptanceRate.map { String(format: "%.3f", $0) } ?? "",
             "\(group.writeModeTime)", pairs(group.endReasons), pairs(group.droppedActions)].map(field).joined(separator: ",")
        }
        return ([header.joined(separator: ",")] + lines).joined(separator: "\r\n") + "\r\n"
    }
}
