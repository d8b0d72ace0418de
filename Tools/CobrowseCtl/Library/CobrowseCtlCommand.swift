import ArgumentParser
import Dispatch

/// `cobrowse-ctl`: the operators' command line. Publishes interaction events, lists and ends
/// live sessions through the registry's RPC queue, shows the broker's queues, and checks and
/// explains masking rules files.
public struct CobrowseCtlCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "cobrowse-ctl",
        abstract: "Operate a co-browse deployment: interaction events, live sessions, queues, masking rules.",
        discussion: "Exit status: 0 done, 1 failed or refused (the reason on stderr), 64 bad arguments.",
        subcommands: [PublishEventCommand.self, SessionsCommand.self, EndCommand.self, QueuesCommand.self, RulesCommand.self])

    public init() {}

    /// The entry point `main.swift` calls. From top-level code the compiler picks a synchronous
    /// `main()` over AsyncParsableCommand's async one (swift-argument-parser issues 536, 688),
    /// and ParsableCommand's refuses async subcommands; this one runs them. The main thread
    /// keeps serving the main queue (URLSession on Linux answers an auth challenge there), so
    /// it must not block waiting: it parks in `dispatchMain()` and the task exits the process.
    public static func main() {
        Task {
            do {
                var command = try parseAsRoot()
                if var asyncCommand = command as? any AsyncParsableCommand {
                    try await asyncCommand.run()
                } else {
                    try command.run()
                }
            } catch {
                exit(withError: error)
            }
            exit(withError: nil)
        }
        dispatchMain()
    }
}
