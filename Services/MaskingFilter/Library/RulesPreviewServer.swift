import AMQP
import CobrowseBroker
import CobrowseProtocol
import Foundation
import Logging
import MaskingRules
import ServiceKit

/// Answers the rules editor's previews (`RulesPreview`): masks a page snapshot under draft
/// rules with the very code that masks sessions (`SessionStream`), so the administrator sees
/// what an agent would. Nothing is kept: each request is a stream of one snapshot.
struct RulesPreviewServer: Sendable {
    /// The rules this filter enforces: each answer names them, so the editor knows when a
    /// saved file is in force.
    let rulesInForce: MaskingRulesSource

    /// Answers one request from the queue.
    func reply(to request: Data) -> AMQPMessage {
        var result = Self.answer(request)
        result.rulesInForce = rulesInForce.rules.sourceHash
        return result.message
    }

    /// Masks one request: the snapshot frame with its `rules` field.
    static func answer(_ request: Data) -> RulesPreview.Result {
        let source: String
        let frame: StreamFrame
        do {
            guard let rules = try FrameCoding.topLevelString(RulesPreview.rulesField, in: request) else {
                return RulesPreview.Result(maskedFrame: nil, rulesHash: nil, error: "the preview carries no `rules` (the draft rules file, as a string)")
            }
            source = rules
            frame = try FrameCoding.decode(request)
        } catch {
            return RulesPreview.Result(maskedFrame: nil, rulesHash: nil, error: "the preview is not a snapshot frame: \(error)")
        }
        let rules: MaskingRules
        do {
            rules = try MaskingRules(json: Data(source.utf8))
        } catch {
            return RulesPreview.Result(maskedFrame: nil, rulesHash: nil, error: "the draft rules are refused: \(error)")
        }
        guard case .snapshot = frame.event else {
            return RulesPreview.Result(maskedFrame: nil, rulesHash: rules.sourceHash, error: "a preview masks a snapshot frame, not '\(frame.event.type)'")
        }
        var stream = SessionStream()
        let outputs = stream.process(frame, rules: { CompiledPageRules(rules.page(for: $0)) })
        guard case let .view(masked)? = outputs.first(where: { if case .view = $0 { true } else { false } }),
              let body = try? FrameCoding.encode(masked) else {
            return RulesPreview.Result(maskedFrame: nil, rulesHash: rules.sourceHash, error: "the filter refused the page's root element")
        }
        let counts = stream.takeMaskingIncrement()
        return RulesPreview.Result(maskedFrame: body, rulesHash: rules.sourceHash, maskedElements: counts.maskedElements,
                                   maskedValues: counts.maskedValues, detectorHits: counts.detectorHits)
    }

    /// Serves the preview queue until the connection closes (a filter among many: any may answer).
    func serve(on connection: AMQPConnection, logger: Logger) async throws {
        // The queue may have died with its node: declare it again each time the consumer ends.
        _ = try await connection.declare(CobrowseTopology.rulesPreviewDeclaration)
        try await connection.serveRPC(queue: CobrowseTopology.rulesPreviewQueue, prefetch: 4, logger: logger) { request in
            reply(to: request.body)
        }
    }
}
