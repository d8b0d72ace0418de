import CobrowseProtocol
import Foundation
import Synchronization

/// Voice codes (docs/registry.md, "Voice codes"): six digits an agent on a call reads out so
/// the customer can start a session bound to the call's interaction without a token. Single
/// use, valid for `lifetime`, at most `perAgent` issued per agent per `window`. They live in the
/// active registry's memory only: a code outlives no failover (the agent asks for another), and
/// nothing of them is written to disk.
public final class VoiceCodes: Sendable {
    public struct Limits: Sendable {
        public var lifetime: TimeInterval
        public var perAgent: Int
        public var window: TimeInterval

        public init(lifetime: TimeInterval = 300, perAgent: Int = 10, window: TimeInterval = 600) {
            self.lifetime = lifetime
            self.perAgent = perAgent
            self.window = window
        }
    }

    fileprivate struct Entry {
        var interactionID: String
        var agentID: String
        var expiresAt: Date
        /// Taken by a start (which may still be refused: then it is released).
        var used = false
        var sessionID: SessionID?
    }

    private struct State {
        var codes: [String: Entry] = [:]
        /// When each agent asked for codes, within the window.
        var issued: [String: [Date]] = [:]
        /// Sessions started with a code, and the agent who may lead each.
        var leads: [SessionID: String] = [:]
    }

    public let limits: Limits
    private let state = Mutex(State())

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// A new code for `agentID`'s call in `interactionID`.
    func issue(interactionID: String, agentID: String, now: Date) throws(RegistryRefusal) -> VoiceCode {
        try state.withLock { state throws(RegistryRefusal) in
            Self.forgetOld(&state, now: now, limits: limits)
            let recent = state.issued[agentID, default: []]
            guard recent.count < limits.perAgent else {
                throw RegistryRefusal(.tooManyCodes, "you asked for \(limits.perAgent) codes in the last \(Int(limits.window / 60)) minutes; use one of them or wait")
            }
            var code: String
            repeat {
                code = String(format: "%06d", Int.random(in: 0...999_999))
            } while state.codes[code] != nil
            let entry = Entry(interactionID: interactionID, agentID: agentID, expiresAt: now.addingTimeInterval(limits.lifetime))
            state.codes[code] = entry
            state.issued[agentID, default: []].append(now)
            return VoiceCode(code: code, interactionID: interactionID, expiresAt: entry.expiresAt)
        }
    }

    /// Takes a code for a new session: its interaction and agent. Refused when unknown, expired
    /// or used; taking it uses it up (`bind` then names the session it started).
    func redeem(_ code: String, now: Date) throws(RegistryRefusal) -> (interactionID: String, agentID: String) {
        try state.withLock { state throws(RegistryRefusal) in
            Self.forgetOld(&state, now: now, limits: limits)
            guard code.count == 6, code.allSatisfy(\.isASCII), code.allSatisfy(\.isNumber), let entry = state.codes[code] else {
                throw RegistryRefusal(.codeUnknown, "this code is not right; check the six digits your adviser read out")
            }
            guard !entry.used else {
                throw RegistryRefusal(.codeUsed, "this code was already used; ask your adviser for a new one")
            }
            guard now < entry.expiresAt else {
                throw RegistryRefusal(.codeExpired, "this code has expired; ask your adviser for a new one")
            }
            state.codes[code]?.used = true
            return (entry.interactionID, entry.agentID)
        }
    }

    /// The session a redeemed code started; its agent alone may lead it.
    func bind(_ code: String, to session: SessionID) {
        state.withLock { state in
            guard let agent = state.codes[code]?.agentID else { return }
            state.codes[code]?.sessionID = session
            state.leads[session] = agent
        }
    }

    /// A code that was taken but started no session (the interaction had ended, say) may be tried again.
    func release(_ code: String) {
        state.withLock { state in
            if state.codes[code]?.sessionID == nil { state.codes[code]?.used = false }
        }
    }

    /// The code as its agent sees it; nil for a code this agent did not ask for (or forgotten).
    func status(_ code: String, agentID: String) -> VoiceCode? {
        state.withLock { state in
            guard let entry = state.codes[code], entry.agentID == agentID else { return nil }
            return VoiceCode(code: code, interactionID: entry.interactionID, expiresAt: entry.expiresAt, sessionID: entry.sessionID)
        }
    }

    /// The agent a code-started session is for, if it was started with a code.
    func lead(of session: SessionID) -> String? {
        state.withLock { $0.leads[session] }
    }

    /// Codes are kept one lifetime past their expiry (so a late try hears "expired", and the
    /// agent's console still learns the session a code started), issue times one window.
    private static func forgetOld(_ state: inout State, now: Date, limits: Limits) {
        state.codes = state.codes.filter { now.timeIntervalSince($0.value.expiresAt) < limits.lifetime }
        state.issued = state.issued.compactMapValues { times in
            let recent = times.filter { now.timeIntervalSince($0) < limits.window }
            return recent.isEmpty ? nil : recent
        }
        if state.leads.count > 100_000 { state.leads.removeAll() } // bounded; leads matter while sessions are young
    }
}
