import Foundation

/// A filter's heartbeat on `cobrowse.filter.presence`: who it is, how many shards it counts
/// (filters that disagree must not share them out), and whether it is leaving.
struct FilterPresence: Codable, Sendable, Equatable {
    var filter: String
    var shards: Int
    var leaving: Bool = false
}
