import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One finished run of a command-line tool of the suite: its exit status and what it wrote.
public struct CommandRun: Sendable, CustomStringConvertible {
    public let status: Int32
    public let stdout: String
    public let stderr: String

    /// Runs `name` from `COBROWSE_BIN_DIR` (or the program at `name`, an absolute path, e.g.
    /// `/usr/bin/curl`) with `arguments` and only `environment` (plus PATH),
    /// so the test runner's own variables (an `AMQP_URL`, say) cannot leak into the run; an
    /// `AMQP_URL` of the harness's administrator becomes the tool's own broker user's
    /// (`TestBroker.serviceURL`: `cobrowse-ctl` runs as `cobrowse-ctl`). A run
    /// still going after `limit` is killed and fails the test with what it wrote so far. It runs
    /// in `workingDirectory` when given.
    public static func run(_ name: String, _ arguments: [String], environment: [String: String] = [:],
                           workingDirectory: String? = nil, within limit: Duration = .seconds(60)) async throws -> CommandRun {
        let process = Process()
        if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
        process.executableURL = name.hasPrefix("/") ? URL(fileURLWithPath: name)
            : URL(fileURLWithPath: try TestBroker.environment("COBROWSE_BIN_DIR")).appendingPathComponent(name)
        process.arguments = arguments
        var environment = environment
        if let url = environment["AMQP_URL"] { environment["AMQP_URL"] = TestBroker.serviceURL(for: name, url) }
        process.environment = ["PATH": "/usr/bin:/bin"].merging(environment) { $1 }
        let (outPipe, errPipe) = (Pipe(), Pipe())
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = FileHandle.nullDevice
        let exited = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { exited.continuation.yield($0.terminationStatus) }
        try process.run()
        let pid = process.processIdentifier

        // Both pipes are drained while the tool runs: one it fills past the pipe buffer would
        // otherwise block it forever.
        async let out = Self.readToEnd(outPipe.fileHandleForReading)
        async let err = Self.readToEnd(errPipe.fileHandleForReading)
        let killed = Mutex(false)
        let watchdog = Task {
            try await Task.sleep(for: limit)
            killed.withLock { $0 = true }
            kill(pid, SIGKILL)
        }
        var statuses = exited.stream.makeAsyncIterator()
        let status = await statuses.next() ?? -1
        watchdog.cancel()
        let run = CommandRun(status: status, stdout: await out, stderr: await err)
        if killed.withLock({ $0 }) {
            throw TestBroker.Failure("\(name) \(arguments.joined(separator: " ")) did not finish within \(limit); \(run)")
        }
        return run
    }

    private static func readToEnd(_ handle: FileHandle) async -> String {
        String(decoding: await PipeReader.readToEnd(handle), as: UTF8.self)
    }

    public var description: String { "exit status \(status)\n--- stdout:\n\(stdout)\n--- stderr:\n\(stderr)" }
}
