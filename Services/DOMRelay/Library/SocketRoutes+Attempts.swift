import AMQP
import CobrowseBroker
import CobrowseProtocol
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import Metrics
import ServiceKit
import Synchronization

/// Wrong session ids, keys and tokens: counted per client address (and per agent), answered
/// alike whatever was wrong, throttled past the limit.
extension SocketRoutes {
    /// What a wrong attempt was: a sharer's `resume`, a `POST /cobrowse/end`, an agent's `join`.
    enum AttemptKind: String, Sendable {
        case resume, end, join
        /// A sharer's start with a voice code.
        case code
    }

    /// The one answer for "no such session" and "not yours": it says nothing about whether the id exists.
    static let noSuchSession = RegistryRefusal(.unknownSession, "no session with this id for these credentials")

    /// The keys an attempt counts against: the client's address, and the agent once the registry verified its token.
    static func addressKey(_ client: String) -> String { "address \(client)" }
    static func agentKey(_ agent: String) -> String { "agent \(agent)" }

    /// A refusal (with the seconds to wait) if one of `keys` made too many wrong attempts lately;
    /// then the request goes no further (the registry is not asked).
    func throttled(_ keys: [String], _ kind: AttemptKind, client: String) -> (refusal: RegistryRefusal, retryAfter: Int)? {
        for key in keys {
            guard let throttled = attempts.check(key) else { continue }
            let seconds = AttemptLimiter.seconds(throttled.retryAfter)
            RelayMetrics.throttled(kind.rawValue)
            if throttled.first {
                // Once per key and spell over the limit, not per request; never a token or key.
                logger.warning("too many wrong session ids, keys or codes: refusing for a while", metadata: [
                    "client": "\(client)", "kind": "\(kind.rawValue)", "by": "\(key.hasPrefix("agent ") ? "agent" : "address")",
                    "limit": "\(attempts.limits.limit) per \(attempts.limits.window)", "retry-after": "\(seconds)",
                ])
            }
            return (RegistryRefusal(.tooManyAttempts, "too many wrong session ids, keys or codes; try again in \(seconds) s"), seconds)
        }
        return nil
    }

    /// Counts a refusal that says the id and credential do not go together, and gives the answer
    /// the client sees: "unknown" and "not yours" answer alike where no credential proves more.
    /// `agent`: the agent a join's token names (counted only when the registry verified the token).
    func answer(_ refusal: RegistryRefusal, _ kind: AttemptKind, client: String, agent: String? = nil) -> RegistryRefusal {
        let wrong: Bool, verified: Bool, unified: Bool
        switch (kind, refusal.code) {
        case (.resume, .unknownSession), (.resume, .notAllowed), (.end, .unknownSession), (.end, .notAllowed):
            (wrong, verified, unified) = (true, false, true)
        case (.join, .unknownSession), (.join, .sessionTaken), (.join, .notActive):
            (wrong, verified, unified) = (true, true, true)
        case (.join, .sessionEnded):
            // Kept as it is: a reloaded console of the session's own lead needs it.
            (wrong, verified, unified) = (true, true, false)
        case (.join, .invalidToken):
            // The token proves nothing: it counts against the address only.
            (wrong, verified, unified) = (true, false, false)
        case (.code, .codeUnknown), (.code, .codeExpired), (.code, .codeUsed):
            // Guessing codes is guessing sessions: counted like wrong ids. Kept as they are, so the
            // customer hears whether to check the digits or ask for a new code.
            (wrong, verified, unified) = (true, false, false)
        default:
            return refusal
        }
        if wrong {
            RelayMetrics.wrongAttempt(kind.rawValue)
            attempts.record(Self.addressKey(client))
            if verified, let agent { attempts.record(Self.agentKey(agent)) }
        }
        return unified ? Self.noSuchSession : refusal
    }

    /// The agent an agent token names (its `agent_id` claim), unverified: only a key for counting,
    /// counted only after the registry verified the same token (a forged one never counts
    /// against a real agent).
    static func agent(ofToken token: String) -> String? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1].count <= 8192 else { return nil }
        var base64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64),
              let claims = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
        return claims["agent_id"] as? String
    }

    func refuseThrottled(_ outbound: WebSocketOutboundWriter, _ throttled: (refusal: RegistryRefusal, retryAfter: Int)) async throws {
        try await outbound.write(.text(RelayMessage.encode([
            "t": "error", "code": throttled.refusal.code.rawValue, "message": throttled.refusal.message, "retryAfter": throttled.retryAfter,
        ])))
        try await outbound.close(.policyViolation, reason: "too many wrong attempts")
    }
}
