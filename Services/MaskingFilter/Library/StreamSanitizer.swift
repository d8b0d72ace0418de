import Foundation
import CobrowseProtocol
import MaskingRules

/// What may never reach an agent's browser, and how masked values look. Pure functions over
/// serialized nodes; the masked tree (MaskedTree) decides, with the masking rules, which nodes are masked.
public enum StreamSanitizer {
    /// Every masked value, whatever its length: no length, no word shape.
    public static let mask = "****"

    /// Elements dropped with everything inside (`BuiltInTables.droppedElements`).
    static let droppedElements = Set(BuiltInTables.droppedElements)
    /// Attributes holding a URL the agent's browser would follow or load (`BuiltInTables.urlAttributes`).
    static let urlAttributes = Set(BuiltInTables.urlAttributes)
    /// Whether an element is dropped entirely (scripts, plugins, `<base>`, refresh meta).
    public static func drops(tag: String?, attrs: [String: String]?) -> Bool {
        guard let tag = tag?.lowercased() else { return false }
        if droppedElements.contains(tag) { return true }
        if tag == "meta", attrs?.first(where: { $0.key.lowercased() == "http-equiv" })?.value.lowercased() == "refresh" {
            return true
        }
        return false
    }

    /// Whether an attribute may pass: no event handlers, no `srcdoc`, no script URLs, and no
    /// `src` of nested frames (the agent's browser would load the customer's pages with the
    /// agent's own cookies).
    public static func allows(attribute name: String, value: String?, on tag: String? = nil) -> Bool {
        let name = name.lowercased()
        if name.hasPrefix("on") || name == "srcdoc" { return false }
        if name == "src", tag == "iframe" || tag == "frame" { return false }
        if urlAttributes.contains(name), let value, isScriptURL(value) { return false }
        return true
    }

    /// `javascript:`, `vbscript:` and HTML/SVG `data:` URLs, however they are disguised
    /// (case, leading space or control characters, embedded tabs and newlines).
    public static func isScriptURL(_ value: String) -> Bool {
        let cleaned = String(value.unicodeScalars.filter { $0.value > 0x20 && $0 != "\u{7F}" }).lowercased()
        if cleaned.hasPrefix("javascript:") || cleaned.hasPrefix("vbscript:") { return true }
        if cleaned.hasPrefix("data:") {
            return !(cleaned.hasPrefix("data:image/") && !cleaned.hasPrefix("data:image/svg"))
        }
        return false
    }

    /// A masked value: the placeholder, or empty if it was empty (emptiness is not a secret).
    static func mask(ifNotEmpty value: String) -> String {
        value.isEmpty ? value : mask
    }

    /// An inline style with every `url(…)` replaced by `none` (a background image of a masked
    /// element is masked content too).
    static func withoutURLs(_ style: String) -> String {
        var result = ""
        var rest = Substring(style)
        while let start = rest.range(of: "url(", options: .caseInsensitive) {
            result += rest[..<start.lowerBound] + "none"
            guard let end = rest[start.upperBound...].firstIndex(of: ")") else { return result }
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }

    /// A masked text node: the placeholder when it holds anything but whitespace (layout
    /// whitespace between elements carries nothing and keeps the agent's copy readable).
    static func maskText(_ text: String) -> String {
        text.allSatisfy(\.isWhitespace) ? text : mask
    }
}
