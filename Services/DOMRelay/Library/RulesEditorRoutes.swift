import AMQP
import CobrowseBroker
import CobrowseProtocol
import Foundation
import Hummingbird
import Logging
import MaskingRules
import ServiceKit

/// The rules editor's API (docs/masking.md, "Rules editor"), for administrators only: with
/// `Authorization: Bearer <ADMIN_TOKEN>`, or in dev mode without a token. The editor page
/// itself (`/editor/`) is static; everything it learns or changes goes through here.
///
/// - `GET /cobrowse/editor/rules` — the rules file in force, its hash, and whether it can be saved
/// - `POST /cobrowse/editor/check?url=` — a draft checked (`RulesCheck`), and the rules it gives that page
/// - `POST /cobrowse/editor/preview` — a snapshot masked under a draft by a masking filter
/// - `PUT /cobrowse/rules` — a draft saved as the rules file, in force at once
struct RulesEditorRoutes: Sendable {
    let rules: MaskingRulesSource
    let adminToken: String?
    let devMode: Bool
    /// The largest snapshot a preview carries (`MAX_FRAME_BYTES`).
    let maxFrameBytes: Int
    /// The broker connection, once there is one.
    let broker: @Sendable () async -> AMQPConnection?
    let logger: Logger

    /// What the editor starts from.
    struct RulesInForce: Encodable {
        /// The file's text (an empty rules file when `MASKING_RULES` is not set).
        let source: String
        /// Its SHA-256, as in every session's masking record.
        let hash: String
        /// Where it is read from; nil: the built-ins only.
        let file: String?
        /// Whether `PUT /cobrowse/rules` can write it.
        let writable: Bool

        private enum Key: String, CodingKey { case source, hash, file, writable }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(source, forKey: .source)
            try container.encode(hash, forKey: .hash)
            try container.encode(file, forKey: .file) // null, not absent, without a file
            try container.encode(writable, forKey: .writable)
        }
    }

    /// A draft's check: what `cobrowse-ctl rules check` says, and the rules it gives the page.
    struct DraftCheck: Encodable {
        struct Finding: Encodable {
            let severity: String
            let location: String
            let message: String
        }
        /// Whether the relay and the filter would load it.
        let valid: Bool
        let hash: String?
        let findings: [Finding]
        /// The rules the SDK gets for `url` under the draft (as `/cobrowse/rules` would answer).
        let pageRules: PageRules?
        /// Which entries of the draft's `rules` apply to `url` (indexes, in order).
        let ruleSets: [Int]
    }

    func add(to router: Router<ServiceRequestContext>) {
        let access = AdminTokenMiddleware<ServiceRequestContext>(token: adminToken, openInDevMode: devMode)
        let editor = router.group("cobrowse/editor").add(middleware: access)
        editor.get("rules") { _, _ -> Response in
            var response = jsonResponse(.ok, RulesInForce(source: rules.text, hash: rules.rules.sourceHash, file: rules.path,
                                                          writable: isWritable))
            response.headers[.cacheControl] = "no-store"
            return response
        }
        editor.post("check") { request, _ -> Response in
            let draft = try await request.body.collect(upTo: RulesPreview.maxRulesBytes)
            let url = request.uri.queryParameters["url"].map(String.init)
            return jsonResponse(.ok, check(Data(buffer: draft), url: url))
        }
        editor.post("preview") { request, _ -> Response in
            let body = try await request.body.collect(upTo: maxFrameBytes + RulesPreview.maxRulesBytes)
            return await preview(Data(buffer: body))
        }
        router.group("cobrowse/rules").add(middleware: access).put { request, _ -> Response in
            let draft = Data(buffer: try await request.body.collect(upTo: RulesPreview.maxRulesBytes))
            return save(draft)
        }
    }

    /// Whether the rules file can be replaced (its folder is writable: the file is renamed over).
    private var isWritable: Bool {
        guard let path = rules.path else { return false }
        return FileManager.default.isWritableFile(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    func check(_ draft: Data, url: String?) -> DraftCheck {
        let report = RulesCheck(json: draft, sampleURLs: [])
        let findings = report.findings.map { DraftCheck.Finding(severity: $0.severity.rawValue, location: $0.location, message: $0.message) }
        guard let parsed = try? MaskingRules(json: draft) else {
            return DraftCheck(valid: false, hash: nil, findings: findings, pageRules: nil, ruleSets: [])
        }
        guard let url, URL(string: url)?.host != nil else {
            return DraftCheck(valid: report.errors.isEmpty, hash: parsed.sourceHash, findings: findings, pageRules: nil, ruleSets: [])
        }
        return DraftCheck(valid: report.errors.isEmpty, hash: parsed.sourceHash, findings: findings, pageRules: parsed.page(for: url),
                          ruleSets: parsed.ruleSets(for: url).map(\.index))
    }

    func preview(_ request: Data) async -> Response {
        guard let connection = await broker() else {
            return jsonResponse(.serviceUnavailable, ["error": "the relay is not connected to the broker; try again"])
        }
        let result: RulesPreview.Result
        do {
            result = try await RulesPreview.ask(request, on: connection)
        } catch {
            logger.warning("rules preview not answered", metadata: ["error": "\(error)"])
            return jsonResponse(.serviceUnavailable, ["error": "no masking filter answered the preview; is one running?"])
        }
        guard let frame = result.maskedFrame else {
            var response = jsonResponse(.unprocessableContent, ["error": result.error ?? "the filter masked nothing"])
            if let inForce = result.rulesInForce { response.headers[HeaderName("X-Rules-In-Force")!] = inForce }
            return response
        }
        var response = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: frame)))
        response.headers[.contentType] = "application/json"
        response.headers[.cacheControl] = "no-store"
        if let hash = result.rulesHash { response.headers[HeaderName("X-Rules-Hash")!] = hash }
        if let inForce = result.rulesInForce { response.headers[HeaderName("X-Rules-In-Force")!] = inForce }
        response.headers[HeaderName("X-Masked-Elements")!] = "\(result.maskedElements)"
        response.headers[HeaderName("X-Masked-Values")!] = "\(result.maskedValues)"
        let hits = (try? JSONEncoder.cobrowse.encode(result.detectorHits)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        response.headers[HeaderName("X-Detector-Hits")!] = hits
        return response
    }

    func save(_ draft: Data) -> Response {
        guard rules.path != nil else {
            return jsonResponse(.conflict, ["error": "no rules file to write: the relay runs without MASKING_RULES"])
        }
        let report = check(draft, url: nil)
        guard report.valid else {
            let first = report.findings.first { $0.severity == "error" }.map { "\($0.location): \($0.message)" } ?? "not a rules file"
            return jsonResponse(.unprocessableContent, SaveRefusal(error: "the rules were not saved: \(first)", findings: report.findings))
        }
        do {
            try rules.replace(with: draft, logger: logger)
        } catch {
            logger.error("rules editor could not save the rules", metadata: ["error": "\(error)"])
            return jsonResponse(.internalServerError, ["error": "the rules were not saved: \(error)"])
        }
        logger.notice("rules saved from the rules editor", metadata: ["hash": "\(rules.rules.sourceHash)"])
        return jsonResponse(.ok, ["hash": rules.rules.sourceHash, "file": rules.path ?? ""])
    }

    /// HTTPTypes' field name (Hummingbird exports `HTTPFields`, not its element's type).
    typealias HeaderName = HTTPFields.Element.Name

    struct SaveRefusal: Encodable {
        let error: String
        let findings: [DraftCheck.Finding]
    }
}
