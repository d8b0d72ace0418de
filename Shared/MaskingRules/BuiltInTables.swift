import Foundation

/// The built-in tables the SDK and the masking filter must agree on, in one place: the filter
/// reads them here, and the relay serves them to the SDK and the console as an ES module
/// (`/sdk/built-in-rules.js`, `javaScriptModule`), so neither side keeps a copy of its own.
public enum BuiltInTables {
    /// Input types whose fields are masked whatever the rules say.
    public static let alwaysMaskedInputTypes = ["password", "hidden"]
    /// `autocomplete` tokens whose fields are masked whatever the rules say.
    public static let alwaysMaskedAutocomplete = ["cc-number", "cc-csc", "current-password", "new-password", "one-time-code"]
    /// Parts of an input's `name`, `id` or `autocomplete` that make it sound like a secret
    /// (`BuiltInRules.isSecretNamed`): its value is masked whatever the rules say.
    public static let secretFieldHints = ["pass", "pwd", "pin", "otp", "cvc", "cvv", "secret"]
    /// Attributes that carry an element's content: `****` on masked elements (as `data-*` are).
    public static let maskedAttributes = [
        "value", "title", "alt", "aria-label", "label", "aria-description", "aria-valuetext", "aria-placeholder",
    ]
    /// Attributes not sent at all from masked elements: a control's choice, and URLs (they name
    /// accounts, photos, documents). A stylesheet's `href` stays: a masked page keeps its look.
    public static let droppedWhenMasked = [
        "checked", "selected", "href", "src", "srcset", "poster", "action", "formaction", "background", "xlink:href",
        "ping", "cite", "data",
    ]
    /// All a blocked element keeps: it shows as a box of its size.
    public static let blockedKeeps = ["id", "class", "style", "width", "height", "data-cobrowse-block"]
    /// What a masked image loses: its sources.
    public static let imageSourceAttributes = ["src", "srcset", "sizes"]
    /// Attributes holding a URL the agent's browser would follow or load: never a script URL.
    public static let urlAttributes = [
        "href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "ping", "srcset", "cite",
    ]
    /// The URL attributes the SDK makes absolute, so the agent's copy loads the same files.
    public static let resolvedURLAttributes = ["href", "src", "action", "formaction", "poster", "background"]
    /// Elements dropped with everything inside: they run code or replace the page. SVG
    /// animation elements can set any attribute of their target, `href` to a script URL included.
    public static let droppedElements = [
        "script", "object", "embed", "applet", "base", "portal", "set", "animate", "animatemotion", "animatetransform",
    ]
    /// Elements whose content a page never shows: the SDK does not send it, the console shows none.
    public static let unrenderedElements = ["noscript", "template"]
    /// Input types an agent may not type into (in write mode): their value is a choice, a file,
    /// a secret or a button, not text.
    public static let untypableInputTypes = ["checkbox", "radio", "file", "hidden", "password", "submit", "image", "reset", "button"]

    /// Page markers that need no rules file: masked, blocked, and no agent action.
    public static let maskMarkers = ["[data-cobrowse-mask]", ".cobrowse-mask"]
    public static let blockMarkers = ["[data-cobrowse-block]", ".cobrowse-block"]
    public static let noAgentMarkers = ["[data-cobrowse-noagent]", ".cobrowse-noagent"]
    /// The customer can always submit; the agent never does it for them. Disabled and read-only
    /// controls take no action from the agent either (the SDK refuses them), and the console
    /// frames them green like any no-agent element. (`type` values match in any case: HTML's
    /// selectors compare them so, and so does `CSSSelector`.)
    public static let noAgentDefaults = [
        "input[type=submit]", "input[type=image]", "button[type=submit]", "form button:not([type])",
        "input[disabled]", "button[disabled]", "select[disabled]", "textarea[disabled]", "input[readonly]", "textarea[readonly]",
    ]
    /// How the customer sees the fields the agent does not, unless the rules file says otherwise.
    public static let defaultCustomerMark = "outline: 2px dashed rgba(124,58,237,.55); outline-offset: 2px"

    /// The PII detectors, in the order they run (`PIIDetector`; docs/masking.md "PII detectors"):
    /// IBANs before cards, whose pattern would take an IBAN's digits.
    public static let detectors: [PIIDetector] = [
        PIIDetector(name: "iban", pattern: "(?<![A-Za-z0-9_])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9_])", check: .iban),
        PIIDetector(name: "card", pattern: "(?<![A-Za-z0-9_-])[0-9](?:[ -]?[0-9]){12,18}(?![A-Za-z0-9_-])", check: .luhn),
        PIIDetector(name: "ssn",
                    pattern: "(?<![A-Za-z0-9_-])(?!000|666|9[0-9][0-9])[0-9]{3}([- ])(?!00)[0-9]{2}\\1(?!0000)[0-9]{4}(?![A-Za-z0-9_-])",
                    check: nil),
        PIIDetector(name: "email",
                    pattern: "(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}(?![A-Za-z0-9_-])",
                    check: nil),
        PIIDetector(name: "phone",
                    pattern: "(?<![A-Za-z0-9_+])(?:\\+[0-9]{1,3}[ .-]?(?:\\([0-9]{1,4}\\)[ .-]?)?[0-9]{1,4}(?:[ .-]?[0-9]{2,4}){1,4}"
                        + "|\\([0-9]{3}\\)[ .-]?[0-9]{3}[ .-][0-9]{4}|[0-9]{3}[.-][0-9]{3}[.-][0-9]{4})(?![A-Za-z0-9_])",
                    check: .phoneDigits),
    ]

    /// Every table by the name the JavaScript module exports it under.
    public static let byExportName: KeyValuePairs<String, [String]> = [
        "ALWAYS_MASKED_INPUT_TYPES": alwaysMaskedInputTypes,
        "ALWAYS_MASKED_AUTOCOMPLETE": alwaysMaskedAutocomplete,
        "SECRET_FIELD_HINTS": secretFieldHints,
        "MASKED_ATTRIBUTES": maskedAttributes,
        "DROPPED_WHEN_MASKED": droppedWhenMasked,
        "BLOCKED_KEEPS": blockedKeeps,
        "IMAGE_SOURCE_ATTRIBUTES": imageSourceAttributes,
        "URL_ATTRIBUTES": urlAttributes,
        "RESOLVED_URL_ATTRIBUTES": resolvedURLAttributes,
        "DROPPED_ELEMENTS": droppedElements,
        "UNRENDERED_ELEMENTS": unrenderedElements,
        "UNTYPABLE_INPUT_TYPES": untypableInputTypes,
        "MASK_MARKERS": maskMarkers,
        "BLOCK_MARKERS": blockMarkers,
        "NO_AGENT_MARKERS": noAgentMarkers,
        "NO_AGENT_DEFAULTS": noAgentDefaults,
    ]

    /// The ES module the relay serves: one frozen array per table.
    public static let javaScriptModule: String = {
        var lines = ["// Generated by dom-relay from BuiltInTables (Shared/MaskingRules): the tables the masking filter uses too."]
        for (name, table) in byExportName {
            let data = (try? JSONSerialization.data(withJSONObject: table)) ?? Data("[]".utf8)
            lines.append("export const \(name) = Object.freeze(\(String(decoding: data, as: UTF8.self)));")
        }
        let table = Self.detectors.map { ["name": $0.name, "pattern": $0.pattern, "check": $0.check?.rawValue ?? ""] }
        let data = (try? JSONSerialization.data(withJSONObject: table, options: [.sortedKeys])) ?? Data("[]".utf8)
        lines.append("export const PII_DETECTORS = Object.freeze(\(String(decoding: data, as: UTF8.self)));")
        let mark = (try? JSONSerialization.data(withJSONObject: [defaultCustomerMark])).map { String(decoding: $0, as: UTF8.self) } ?? "[\"\"]"
        lines.append("export const DEFAULT_CUSTOMER_MARK = \(mark.dropFirst().dropLast());")
        return lines.joined(separator: "\n") + "\n"
    }()
}
