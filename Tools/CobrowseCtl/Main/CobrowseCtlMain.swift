import CobrowseCtl

// Runs the command and exits; see CobrowseCtlCommand.main() for why it is not `await …main()`.
CobrowseCtlCommand.main()
