import Foundation
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// One of the suite's executables, started as a real process for a test.
public final class ServiceProcess: @unchecked Sendable {
    public let name: String
    public let process = Process()
    private let output = Pipe()
    private let collected = NSMutableData()
    private let lock = NSLock()

    /// A registry the tests start keeps its SQLite file encrypted, as production does
    /// (REGISTRY_DATABASE_ENCRYPTION=required is the default), with the tests' key; on the tests'
    /// PostgreSQL, which has no TLS, encryption is `off`. A test that sets these itself wins.
    static func registryEncryption(_ environment: [String: String]) throws -> [String: String] {
        if environment["REGISTRY_DATABASE"]?.hasPrefix("postgres") == true { return ["REGISTRY_DATABASE_ENCRYPTION": "off"] }
        return ["REGISTRY_DATABASE_KEY_FILE": try TestDatabaseKey.file()]
    }

    /// Starts `name` from `COBROWSE_BIN_DIR` with `environment` added to a minimal one. The
    /// service binds a port the kernel picks (HTTP_PORT=0) and logs it: choosing a free port
    /// here and handing it over would race with every other process starting at once. An
    /// `AMQP_URL` of the harness's administrator becomes the service's own broker user's
    /// (`TestBroker.serviceURL`): services run with their production permissions.
    public init(_ name: String, environment: [String: String] = [:]) throws {
        self.name = name
        let binDir = try TestBroker.environment("COBROWSE_BIN_DIR")
        process.executableURL = URL(fileURLWithPath: binDir).appendingPathComponent(name)
        var env = ["PATH": "/usr/bin:/bin", "HTTP_PORT": "0", "HTTP_HOST": "127.0.0.1", "LOG_LEVEL": "info"]
        if name == "session-registry" { env.merge(try Self.registryEncryption(environment)) { $1 } }
        env.merge(environment) { $1 }
        if let url = env["AMQP_URL"] { env["AMQP_URL"] = TestBroker.serviceURL(for: name, url) }
        process.environment = env
        process.standardOutput = output
        process.standardError = output
        PipeReader.read(output.fileHandleForReading) { [weak self] data in
            guard let self else { return }
            self.lock.withLock { self.collected.append(data) }
        }
        process.terminationHandler = { [weak self] process in
            // A crash says so in the test output (CI shows only its failures and tail).
            guard let self, process.terminationReason == .uncaughtSignal, process.terminationStatus != SIGKILL else { return }
            let tail = self.log.split(separator: "\n").suffix(15).joined(separator: "\n")
            FileHandle.standardError.write(Data("error: service \(name) exited on signal \(process.terminationStatus); its last lines:\n\(tail)\n".utf8))
        }
        try process.run()
        Self.started(process.processIdentifier)
    }

    /// The HTTP port the service bound (from its `listening` log line); 0 until it has.
    public var httpPort: Int {
        // `http-port=8080` in text logs, `"http-port":"8080"` in JSON ones.
        guard let range = log.range(of: #"http-port"?[=:]"?[0-9]+"#, options: .regularExpression) else { return 0 }
        return Int(log[range].filter(\.isNumber)) ?? 0
    }

    deinit {
        if process.isRunning { process.terminate() }
    }

    /// Every service a test started, so none outlives the test process: tests stop theirs in
    /// unawaited cleanup tasks that may never run once the last test returns.
    private static let children = Mutex<Set<pid_t>>([])

    private static func started(_ pid: pid_t) {
        let first = children.withLock { pids in
            defer { pids.insert(pid) }
            return pids.isEmpty
        }
        if first { atexit { ServiceProcess.children.withLock { pids in pids.forEach { kill($0, SIGTERM) } } } }
    }

    /// Everything the process wrote so far (stdout and stderr).
    public var log: String {
        lock.withLock { String(decoding: collected as Data, as: UTF8.self) }
    }

    /// GET a path on the service's HTTP port; nil if it does not answer.
    public func get(_ path: String, headers: [String: String] = [:]) async -> (status: Int, body: String)? {
        await request("GET", path, headers: headers)
    }

    /// Any method, with an optional body; nil if the service does not answer.
    public func request(_ method: String, _ path: String, headers: [String: String] = [:],
                        body: String? = nil) async -> (status: Int, body: String)? {
        await exchange(method, path, headers: headers, body: body.map { Data($0.utf8) }).map { ($0.status, $0.body) }
    }

    /// Any method and body, with the answer's headers (names lower case); nil if the service
    /// does not answer within `timeout`.
    public func exchange(_ method: String, _ path: String, headers: [String: String] = [:], body: Data? = nil,
                         timeout: TimeInterval = 5) async -> (status: Int, headers: [String: String], body: String)? {
        let port = httpPort
        guard port > 0, let url = URL(string: "http://127.0.0.1:\(port)\(path)") else { return nil }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = timeout
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        guard let (data, response) = try? await URLSession.shared.data(for: request),
              let http = response as? HTTPURLResponse else { return nil }
        var fields: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { fields[name.lowercased()] = value }
        }
        return (http.statusCode, fields, String(decoding: data, as: UTF8.self))
    }

    /// Starts `name` and waits (bounded) until it answers `/ready`; throws with its log if not.
    public static func ready(_ name: String, environment: [String: String] = [:],
                             within limit: Duration = .seconds(60)) async throws -> ServiceProcess {
        let service = try ServiceProcess(name, environment: environment)
        guard await eventually(within: limit, { await service.get("/ready")?.status == 200 }) else {
            throw TestBroker.Failure("\(name) never became ready; log:\n\(service.log)")
        }
        return service
    }

    /// Sends SIGTERM and waits (bounded) for the exit; returns the exit status, nil if it hung.
    public func terminate(within limit: Duration = .seconds(20)) async -> Int32? {
        kill(process.processIdentifier, SIGTERM)
        return await waitForExit(within: limit)
    }

    public func waitForExit(within limit: Duration = .seconds(20)) async -> Int32? {
        let exited = await eventually(within: limit) { !process.isRunning }
        guard exited else {
            process.interrupt()
            return nil
        }
        _ = Self.children.withLock { $0.remove(process.processIdentifier) }
        return process.terminationStatus
    }

    /// A TCP port nothing listens on right now.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw TestBroker.Failure("no free TCP port (bind failed)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
