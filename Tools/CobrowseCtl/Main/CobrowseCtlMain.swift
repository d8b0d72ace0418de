import CobrowseCtl

/// Runs the command and exits. `@main` rather than top-level code: from top-level code the
/// compiler picks ParsableCommand's synchronous `main()`, which refuses async subcommands.
@main
enum CobrowseCtlMain {
    static func main() async {
        await CobrowseCtlCommand.main()
    }
}
