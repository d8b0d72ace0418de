import Dispatch
import Foundation
import Logging
import Synchronization

/// The rules file a service works from (`MASKING_RULES`), reloaded when it changes on disk or
/// on SIGHUP. A file that fails to load at start stops the service; one that fails later is
/// refused and logged, and the rules in force stay.
public final class MaskingRulesSource: Sendable {
    public let path: String?
    private let state: Mutex<(rules: MaskingRules, text: String, generation: Int, modified: Date?)>
    /// Compiled rules per page URL, for the current generation.
    private let compiled = Mutex<[String: CompiledPageRules]>([:])

    /// Loads `path` (nil or empty: the built-ins only).
    public init(path: String?) throws(MaskingRulesError) {
        self.path = path?.isEmpty == false ? path : nil
        let (rules, text, modified) = try Self.read(self.path)
        state = Mutex((rules, text, 0, modified))
    }

    public var rules: MaskingRules { state.withLock { $0.rules } }

    /// The file of the rules in force, as it was read (the built-ins: an empty rules file).
    public var text: String { state.withLock { $0.text } }

    /// What a rules file with no rules says: the built-ins only.
    public static let emptyFile = "{\n  \"version\": 1,\n  \"rules\": []\n}\n"

    /// Bumped on every successful reload; streams compare it to know the rules changed.
    public var generation: Int { state.withLock { $0.generation } }

    /// The compiled rules for a page, cached.
    public func compiledRules(for url: String) -> CompiledPageRules {
        if let cached = compiled.withLock({ $0[url] }) { return cached }
        let result = CompiledPageRules(rules.page(for: url))
        compiled.withLock { cache in
            if cache.count > 10_000 { cache.removeAll() } // URLs with per-visit query strings
            cache[url] = result
        }
        return result
    }

    /// Re-reads the file if its modification time changed (or always, if `force`).
    /// Returns whether new rules are in force.
    @discardableResult
    public func reload(force: Bool = false, logger: Logger) -> Bool {
        guard let path else { return false }
        let current = state.withLock { $0.modified }
        if !force, let current, Self.modificationDate(path) == current { return false }
        do {
            let (rules, text, modified) = try Self.read(path)
            state.withLock { $0 = (rules, text, $0.generation + 1, modified) }
            compiled.withLock { $0.removeAll() }
            logger.notice("masking rules reloaded", metadata: ["path": "\(path)"])
            return true
        } catch {
            // Remember the bad file's time so it is not re-read (and re-logged) every tick.
            state.withLock { $0.modified = Self.modificationDate(path) }
            logger.error("masking rules refused; the previous rules stay in force", metadata: ["path": "\(path)", "error": "\(error)"])
            return false
        }
    }

    /// Watches the file (every `interval`) and SIGHUP until cancelled; `changed` runs after
    /// each successful reload.
    public func watch(every interval: Duration = .seconds(2), logger: Logger, changed: @escaping @Sendable () async -> Void = {}) async {
        guard path != nil else { return }
        let (hangups, hangup) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP)
        source.setEventHandler { hangup.yield() }
        source.resume()
        defer { source.cancel() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in hangups where self.reload(force: true, logger: logger) { await changed() }
            }
            group.addTask {
                while (try? await Task.sleep(for: interval)) != nil {
                    if self.reload(logger: logger) { await changed() }
                }
                hangup.finish()
            }
            await group.waitForAll()
        }
    }

    /// Replaces the file with `data` (written beside it, then renamed over it, so a reader never
    /// sees half a file) and puts it in force. Throws, changing nothing, when `data` is not a
    /// valid rules file or there is no file to write.
    public func replace(with data: Data, logger: Logger) throws(MaskingRulesError) {
        guard let path else { throw MaskingRulesError("no rules file to write: MASKING_RULES is not set") }
        _ = try MaskingRules(json: data)
        let file = URL(fileURLWithPath: path)
        let temporary = file.deletingLastPathComponent().appendingPathComponent(".\(file.lastPathComponent).\(UUID().uuidString)")
        do {
            try data.write(to: temporary)
        } catch {
            throw MaskingRulesError("cannot write \(path): \(error.localizedDescription)")
        }
        // rename(2) swaps the file in one step: readers see the old file or the new one.
        guard rename(temporary.path, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw MaskingRulesError("cannot replace \(path): \(reason)")
        }
        guard reload(force: true, logger: logger) else { throw MaskingRulesError("\(path) was written but did not load; see the log") }
    }

    private static func read(_ path: String?) throws(MaskingRulesError) -> (MaskingRules, String, Date?) {
        guard let path else { return (.builtIn, emptyFile, nil) }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw MaskingRulesError("cannot read \(path): \(error.localizedDescription)")
        }
        do {
            return (try MaskingRules(json: data), String(decoding: data, as: UTF8.self), modificationDate(path))
        } catch {
            throw MaskingRulesError("\(path): \(error)")
        }
    }

    private static func modificationDate(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }
}
