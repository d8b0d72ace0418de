import ArgumentParser
import CobrowseProtocol
import Foundation

/// `end`: ends a session as an administrator, or as the system `cobrowse-ctl` with a system
/// reason (to stand in for a service that should have ended it).
struct EndCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "end",
        abstract: "End a session.",
        discussion: "Reason administrator records the administrator as the one who ended it; any other "
            + "reason records the system cobrowse-ctl.")

    /// The reasons an operator may give. Not every `EndReason`: a customer's or an agent's exit
    /// needs their proof, which an operator does not have.
    enum Reason: String, CaseIterable, ExpressibleByArgument {
        case administrator, inactivity
        case agentAbsent = "agent-absent"
        case customerAbsent = "customer-absent"
        case noAgentJoined = "no-agent-joined"
        case interactionEnded = "interaction-ended"
        case interactionTransferred = "interaction-transferred"
        case interactionConferenced = "interaction-conferenced"
    }

    @OptionGroup var options: CommonOptions
    @Argument(help: ArgumentHelp("The session's nine-digit id.", valueName: "session-id")) var sessionID: String
    @Option(help: "Why the session ends.") var reason: Reason = .administrator

    func validate() throws {
        guard SessionID(sessionID) != nil else { throw ValidationError("'\(sessionID)' is not a session id (nine digits)") }
    }

    func run() async throws {
        let id = SessionID(sessionID)!
        let credential: EndCredential = switch reason {
        case .administrator: .administrator
        // Same spelling by construction (Reason's raw values are EndReason's).
        default: .system(name: "cobrowse-ctl", reason: EndReason(rawValue: reason.rawValue)!)
        }
        let reply = try await options.withConnection { connection in
            try await options.registry(.end(session: id, by: credential), on: connection)
        }
        let session: SessionView
        do {
            session = try reply.get()
        } catch {
            throw CtlError("the registry refused to end session \(id): \(error)")
        }
        print("ended session \(id) (reason \(session.endReason?.rawValue ?? "?"), by \(session.endedBy?.description ?? "?"))")
    }
}
