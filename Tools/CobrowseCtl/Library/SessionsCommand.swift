import ArgumentParser
import CobrowseProtocol
import Foundation

/// `sessions`: the live (idle or active) sessions, oldest first, as the registry has them.
struct SessionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions",
        abstract: "List the live sessions (idle or active), oldest first.")

    @OptionGroup var options: CommonOptions
    @Flag(help: "Print the sessions as a JSON array (the registry's wire format).") var json = false

    func run() async throws {
        let sessions = try await options.withConnection { connection in
            let reply = try await options.registry(.listLive, on: connection)
            do {
                return try reply.list()
            } catch {
                throw CtlError("the registry refused: \(error)")
            }
        }
        if json {
            print(String(decoding: try JSONEncoder.cobrowse.encode(sessions), as: UTF8.self))
        } else if sessions.isEmpty {
            print("no live sessions")
        } else {
            let now = Date()
            print(table(["ID", "STATE", "MODE", "CHANNEL", "INTERACTION", "LEAD AGENT", "CREATED", "AGE"], sessions.map {
                [$0.id.digits, $0.state.rawValue, $0.mode.rawValue, $0.channel.rawValue, $0.interactionID,
                 $0.leadAgentID ?? "-", CobrowseDate.format($0.createdAt), Self.age(now.timeIntervalSince($0.createdAt))]
            }))
        }
    }

    /// The two largest units, as operators read ages at a glance: `42s`, `3m05s`, `2h10m`, `4d03h`.
    static func age(_ interval: TimeInterval) -> String {
        let seconds = max(0, Int(interval))
        let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        if days > 0 { return "\(days)d\(two(hours))h" }
        if hours > 0 { return "\(hours)h\(two(minutes))m" }
        if minutes > 0 { return "\(minutes)m\(two(seconds % 60))s" }
        return "\(seconds)s"
    }
}
