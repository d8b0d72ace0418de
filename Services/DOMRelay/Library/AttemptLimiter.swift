import Foundation
import Synchronization

/// Counts wrong attempts (an unknown session id, a wrong customer key, a session that is not
/// the agent's) per key — a client address or an agent — in a sliding window; a key with
/// `limit` of them in the last `window` is refused until the oldest one leaves the window.
///
/// Pure logic behind a lock, with the clock injected (tests move it by hand).
final class AttemptLimiter: Sendable {
    struct Limits: Sendable, Equatable {
        var limit: Int
        var window: Duration
    }

    /// Why a key is refused now.
    struct Throttled: Sendable, Equatable {
        /// When the key may try again.
        var retryAfter: Duration
        /// Whether this is the key's first refusal since it went over (to log it once, not per request).
        var first: Bool
    }

    private struct Entry {
        /// The wrong attempts in the window, oldest first.
        var attempts: [ContinuousClock.Instant] = []
        /// A refusal has been reported since the key went over the limit.
        var reported = false
    }

    let limits: Limits
    private let now: @Sendable () -> ContinuousClock.Instant
    private let entries = Mutex<[String: Entry]>([:])
    /// Keys kept before expired ones are swept (each holds at most `limit` instants).
    private let sweepAbove: Int

    init(_ limits: Limits, sweepAbove: Int = 10_000, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.limits = limits
        self.sweepAbove = sweepAbove
        self.now = now
    }

    /// Whether `key` is refused now, and until when.
    func check(_ key: String) -> Throttled? {
        let now = self.now()
        return entries.withLock { entries in
            guard var entry = entries[key] else { return nil }
            entry.attempts.removeAll { now - $0 >= limits.window }
            guard entry.attempts.count >= limits.limit, let oldest = entry.attempts.first else {
                entry.reported = false
                entries[key] = entry.attempts.isEmpty ? nil : entry
                return nil
            }
            let first = !entry.reported
            entry.reported = true
            entries[key] = entry
            return Throttled(retryAfter: oldest + limits.window - now, first: first)
        }
    }

    /// Counts one wrong attempt by `key`.
    func record(_ key: String) {
        let now = self.now()
        entries.withLock { entries in
            if entries.count > sweepAbove {
                entries = entries.filter { $0.value.attempts.contains { now - $0 < limits.window } }
            }
            var entry = entries[key] ?? Entry()
            entry.attempts.removeAll { now - $0 >= limits.window }
            entry.attempts.append(now)
            // Only the newest `limit` matter: the key is refused until the oldest of them expires.
            if entry.attempts.count > limits.limit { entry.attempts.removeFirst(entry.attempts.count - limits.limit) }
            entries[key] = entry
        }
    }

    /// Keys tracked now (for tests of the sweep).
    var trackedKeys: Int { entries.withLock { $0.count } }

    /// Whole seconds to wait, rounded up (at least 1), for `Retry-After` and `retryAfter`.
    static func seconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) + (attoseconds > 0 ? 1 : 0))
    }
}

/// Which client a request comes from: the connected peer, or — when the peer is a trusted
/// proxy (the load balancer, `TRUSTED_PROXIES`) — the nearest address in `X-Forwarded-For`
/// that is not itself a trusted proxy. An `X-Forwarded-For` from anyone else is ignored.
struct ClientAddresses: Sendable {
    /// Exact addresses, and IPv4 networks as (address, prefix length).
    let exact: Set<String>
    let networks: [(base: UInt32, prefix: Int)]

    init(trusted list: String) throws(ClientAddressError) {
        var exact = Set<String>(), networks: [(UInt32, Int)] = []
        for item in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            if let slash = item.firstIndex(of: "/") {
                guard let base = Self.ipv4(String(item[..<slash])), let prefix = Int(item[item.index(after: slash)...]),
                      (0...32).contains(prefix) else { throw ClientAddressError(entry: item) }
                networks.append((base, prefix))
            } else {
                exact.insert(item.lowercased())
            }
        }
        self.exact = exact
        self.networks = networks
    }

    func trusts(_ address: String) -> Bool {
        if exact.contains(address.lowercased()) { return true }
        guard let value = Self.ipv4(address) else { return false }
        return networks.contains { network in
            let mask: UInt32 = network.prefix == 0 ? 0 : ~UInt32(0) << (32 - network.prefix)
            return value & mask == network.base & mask
        }
    }

    /// `peer`: the connected address (nil for a Unix socket); `forwardedFor`: the header's values.
    func client(peer: String?, forwardedFor: [String]) -> String {
        guard let peer else { return "local" }
        guard trusts(peer) else { return peer }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        // Each proxy appends the address it saw: walk back past the trusted ones.
        for hop in hops.reversed() where !trusts(hop) { return hop }
        return hops.first ?? peer
    }

    static func ipv4(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard part.count <= 3, let byte = UInt8(part) else { return nil }
            value = value << 8 | UInt32(byte)
        }
        return value
    }
}

struct ClientAddressError: Error {
    let entry: String
}
