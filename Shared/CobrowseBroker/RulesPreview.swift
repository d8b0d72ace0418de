import AMQP
import CobrowseProtocol
import Foundation

/// The rules editor's preview, relay → filter over `cobrowse.filter.preview`: a page snapshot
/// masked by a filter under draft rules, exactly as a session's snapshot would be. One message
/// format on both hops (browser → relay, relay → filter): the snapshot frame as the SDK writes
/// it, with the draft rules file as one more top-level string field, `rules`.
public enum RulesPreview {
    /// The draft rules file, as text, beside the frame's own fields.
    public static let rulesField = "rules"
    /// Largest draft rules file a preview carries (a rules file is a few kilobytes).
    public static let maxRulesBytes = 256 * 1024
    /// How long the relay waits for a filter's answer.
    public static let timeout: Duration = .seconds(10)

    /// Reply headers: the draft's hash, what it masked, and (instead of a frame) why not.
    public static let rulesHashHeader = "x-rules-hash"
    public static let maskedElementsHeader = "x-masked-elements"
    public static let maskedValuesHeader = "x-masked-values"
    /// JSON object: detector name → hits.
    public static let detectorHitsHeader = "x-detector-hits"
    public static let errorHeader = "x-error"
    /// The hash of the rules the answering filter enforces.
    public static let rulesInForceHeader = "x-rules-in-force"

    /// The filter's answer: the masked snapshot frame (JSON), or why there is none.
    public struct Result: Sendable {
        public var maskedFrame: Data?
        public var rulesHash: String?
        public var maskedElements = 0
        public var maskedValues = 0
        public var detectorHits: [String: Int] = [:]
        /// Why nothing was masked: the draft or the frame was refused.
        public var error: String?
        /// The hash of the rules file the answering filter enforces (its sessions' rules).
        public var rulesInForce: String?

        public init(maskedFrame: Data?, rulesHash: String?, maskedElements: Int = 0, maskedValues: Int = 0,
                    detectorHits: [String: Int] = [:], error: String? = nil) {
            self.maskedFrame = maskedFrame
            self.rulesHash = rulesHash
            self.maskedElements = maskedElements
            self.maskedValues = maskedValues
            self.detectorHits = detectorHits
            self.error = error
        }

        /// The reply message a filter sends.
        public var message: AMQPMessage {
            var headers: AMQPTable = [:]
            if let rulesHash { headers[RulesPreview.rulesHashHeader] = .string(rulesHash) }
            if let error { headers[RulesPreview.errorHeader] = .string(error) }
            if let rulesInForce { headers[RulesPreview.rulesInForceHeader] = .string(rulesInForce) }
            headers[RulesPreview.maskedElementsHeader] = .int(Int64(maskedElements))
            headers[RulesPreview.maskedValuesHeader] = .int(Int64(maskedValues))
            let hits = (try? JSONEncoder.cobrowse.encode(detectorHits)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            headers[RulesPreview.detectorHitsHeader] = .string(hits)
            return AMQPMessage(body: maskedFrame ?? Data(), properties: AMQPProperties(contentType: "application/json", headers: headers))
        }

        /// Reads a filter's reply.
        public init(_ reply: AMQPMessage) {
            let headers = reply.properties.headers
            error = headers[RulesPreview.errorHeader]?.stringValue
            maskedFrame = error == nil ? reply.body : nil
            rulesHash = headers[RulesPreview.rulesHashHeader]?.stringValue
            rulesInForce = headers[RulesPreview.rulesInForceHeader]?.stringValue
            maskedElements = Int(headers[RulesPreview.maskedElementsHeader]?.intValue ?? 0)
            maskedValues = Int(headers[RulesPreview.maskedValuesHeader]?.intValue ?? 0)
            detectorHits = headers[RulesPreview.detectorHitsHeader]?.stringValue
                .flatMap { try? JSONDecoder().decode([String: Int].self, from: Data($0.utf8)) } ?? [:]
        }
    }

    /// Asks a filter to mask `request` (a snapshot frame with its `rules` field). Throws
    /// `returned` when no filter has declared the queue, `timedOut` when none answers in time.
    public static func ask(_ request: Data, on connection: AMQPConnection, timeout: Duration = timeout) async throws -> Result {
        // Page content, like every stream frame: transient, and useless once the editor stopped waiting.
        let message = AMQPMessage(body: request, properties: AMQPProperties(
            contentType: "application/json", expiration: "\(Int(timeout.components.seconds) * 1000)"))
        return Result(try await connection.call(message, routingKey: CobrowseTopology.rulesPreviewQueue, timeout: timeout))
    }
}
