import ArgumentParser

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
}
