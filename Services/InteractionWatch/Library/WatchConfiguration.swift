import CobrowseProtocol
import Foundation
import ServiceKit

/// What the watch reads from its environment, beyond what every service reads.
public struct WatchConfiguration: Sendable {
    public static let inactivityChat = EnvironmentVariable(
        "INACTIVITY_TIMEOUT_CHAT", default: "900", "Seconds without activity after which a web-chat session ends (`0`: never).")
    public static let inactivityMessaging = EnvironmentVariable(
        "INACTIVITY_TIMEOUT_MESSAGING", default: "120", "Seconds without activity after which a web-messaging session ends (`0`: never).")
    public static let inactivityVoice = EnvironmentVariable(
        "INACTIVITY_TIMEOUT_VOICE", default: "0", "Seconds without activity after which a voice session ends (`0`: never).")
    public static let noAgent = EnvironmentVariable(
        "NO_AGENT_TIMEOUT", default: "600", "Seconds a session may wait for an agent to join before it ends.")
    public static let agentGrace = EnvironmentVariable(
        "AGENT_ABSENT_GRACE", default: "60", "Seconds the agent's console may be gone (closed, navigated away) before the session ends.")
    public static let customerGrace = EnvironmentVariable(
        "CUSTOMER_ABSENT_GRACE", default: "30", "Seconds the customer's page may be gone (tab closed, left the site) before the session ends.")
    public static let relaySilence = EnvironmentVariable(
        "RELAY_SILENCE_LIMIT", default: "120",
        "Seconds a relay may send no activity report at all (cut from the broker, or dead) before the absence of the parties it last saw counts; their grace runs after it.")
    public static let webhookSecret = EnvironmentVariable(
        "WEBHOOK_SECRET", default: "",
        "HMAC-SHA256 secret (≥ 32 bytes) of the interaction-event webhook (`POST /interaction-events`); empty: the webhook is off.")
    public static let variables = [inactivityChat, inactivityMessaging, inactivityVoice, noAgent, agentGrace, customerGrace,
                                   relaySilence, webhookSecret]

    public var limits: TimeoutLimits
    /// nil: the webhook is off.
    public var webhookSecret: String?

    public init(_ environment: ServiceEnvironment) throws {
        func seconds(_ variable: EnvironmentVariable) throws -> TimeInterval {
            try environment.seconds(variable, in: 0...(7 * 24 * 3600)).timeInterval
        }
        var inactivity: [InteractionChannel: TimeInterval] = [:]
        for (channel, variable) in [(InteractionChannel.chat, Self.inactivityChat), (.messaging, Self.inactivityMessaging),
                                    (.voice, Self.inactivityVoice)] {
            let limit = try seconds(variable)
            if limit > 0 { inactivity[channel] = limit }
        }
        limits = TimeoutLimits(inactivity: inactivity, noAgent: try seconds(Self.noAgent),
                               agentGrace: try seconds(Self.agentGrace), customerGrace: try seconds(Self.customerGrace),
                               relaySilence: try seconds(Self.relaySilence))
        let secret = environment.string(Self.webhookSecret)
        if !secret.isEmpty, secret.utf8.count < 32 {
            throw ConfigurationError(variable: Self.webhookSecret.name, value: "(hidden)", expected: "a secret of at least 32 bytes")
        }
        webhookSecret = secret.isEmpty ? nil : secret
    }
}
