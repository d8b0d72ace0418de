import CobrowseProtocol

/// What may never reach an agent's browser, and how masked values look. Pure functions over
/// serialized nodes; the mirror decides which nodes are sensitive.
public enum StreamSanitizer {
    /// Every masked value, whatever its length: no length, no word shape.
    public static let mask = "****"

    /// Elements dropped with everything inside: they run code or replace the page. SVG
    /// animation elements can set any attribute of their target, `href` to a script URL included.
    static let droppedElements: Set<String> = [
        "script", "object", "embed", "applet", "base", "portal", "set", "animate", "animatemotion", "animatetransform",
    ]
    /// Attributes holding a URL the agent's browser would follow or load.
    static let urlAttributes: Set<String> = [
        "href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "ping", "srcset", "cite",
    ]
    /// Attributes that carry a password input's value.
    static let valueAttributes: Set<String> = ["value"]

    /// Whether an element is dropped entirely (scripts, plugins, `<base>`, refresh meta).
    public static func drops(tag: String?, attrs: [String: String]?) -> Bool {
        guard let tag = tag?.lowercased() else { return false }
        if droppedElements.contains(tag) { return true }
        if tag == "meta", attrs?.first(where: { $0.key.lowercased() == "http-equiv" })?.value.lowercased() == "refresh" {
            return true
        }
        return false
    }

    /// Whether an attribute may pass: no event handlers, no `srcdoc`, no script URLs.
    public static func allows(attribute name: String, value: String?) -> Bool {
        let name = name.lowercased()
        if name.hasPrefix("on") || name == "srcdoc" { return false }
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

    /// Whether an element's value is always masked (passwords, whatever any rule says).
    public static func isSensitive(tag: String?, attrs: [String: String]?) -> Bool {
        guard tag?.lowercased() == "input" else { return false }
        return attrs?.first(where: { $0.key.lowercased() == "type" })?.value.lowercased() == "password"
    }

    static func masked(_ value: String?) -> String? {
        guard let value else { return nil }
        return value.isEmpty ? value : mask
    }

    /// Cleans one attribute set; a sensitive element's value attributes are masked.
    static func clean(_ attrs: [String: String]?, sensitive: Bool) -> [String: String]? {
        guard let attrs else { return nil }
        var result: [String: String] = [:]
        for (name, value) in attrs where allows(attribute: name, value: value) {
            result[name] = sensitive && valueAttributes.contains(name.lowercased()) ? masked(value) ?? "" : value
        }
        return result
    }
}
