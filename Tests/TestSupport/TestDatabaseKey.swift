import Foundation

/// The registry database key the tests use: one random key per test run, in a file of its own.
public enum TestDatabaseKey {
    /// The key as its file holds it: 64 hex characters.
    public static let hex: String = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()

    /// The key file's path (written once, readable only by its owner, as a real key file is).
    public static func file() throws -> String {
        try written.get()
    }

    private static let written = Result<String, any Error> {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cobrowse-test-\(ProcessInfo.processInfo.processIdentifier).key").path
        try Data("\(hex)\n".utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        return path
    }
}
