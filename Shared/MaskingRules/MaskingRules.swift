import Crypto
import Foundation

/// The masking rules file (`deploy/masking/rules.json`; see docs/masking.md): rule sets per
/// site and URL pattern. Parsed and checked whole at load; a bad selector refuses the file.
public struct MaskingRules: Sendable {
    /// One rule set as written in the file.
    public struct RuleSet: Sendable, Codable, Equatable {
        /// The page's origin (`https://shop.example`), or `*` (the default) for every site.
        public var site: String?
        /// Patterns for the URL's path and query, `*` matching anything (default: every page).
        public var urls: [String]?
        public var mask: [String]?
        public var maskImages: [String]?
        public var block: [String]?
        public var noAgent: [String]?
        public var maskPage: Bool?
        /// `private`: every text and value is masked unless an `unmask` selector allows it;
        /// `public` (the default): only what the rules name is masked.
        public var mode: String?
        /// In private mode, the elements (with what is inside) whose text and values are shown,
        /// unless a `mask` rule or a built-in masks them anyway.
        public var unmask: [String]?
        /// PII detectors turned on (`true`) or off (`false`) by name; the others stay as they are
        /// (all on by default).
        public var detectors: [String: Bool]?
    }

    struct File: Codable {
        var version: Int?
        /// Whether `placeholder` attributes of masked elements are masked too.
        var maskPlaceholders: Bool?
        /// The CSS declarations marking masked fields on the customer's page, or `none`.
        var customerMark: String?
        var rules: [RuleSet]?
    }

    public static let defaultCustomerMark = BuiltInTables.defaultCustomerMark

    let sets: [RuleSet]
    let maskPlaceholders: Bool
    let customerMark: String
    /// The SHA-256 (hex) of the file's bytes, as `sha256sum` prints it; `built-in` without a file.
    /// Sessions' masking records name the rules they were masked under by it.
    public let sourceHash: String

    /// No rules file: the built-ins only (markers, always-masked fields, no-agent defaults).
    public static let builtIn = MaskingRules(sets: [], maskPlaceholders: false, customerMark: defaultCustomerMark, sourceHash: "built-in")

    init(sets: [RuleSet], maskPlaceholders: Bool, customerMark: String, sourceHash: String) {
        self.sets = sets
        self.maskPlaceholders = maskPlaceholders
        self.customerMark = customerMark
        self.sourceHash = sourceHash
    }

    public init(json: Data) throws(MaskingRulesError) {
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: json)
        } catch {
            throw MaskingRulesError("not a rules file: \(error)")
        }
        guard (file.version ?? 1) == 1 else { throw MaskingRulesError("unsupported version \(file.version ?? 0) (expected 1)") }
        for (index, set) in (file.rules ?? []).enumerated() {
            if let mode = set.mode, mode != "private", mode != "public" {
                throw MaskingRulesError("rules[\(index)].mode: '\(mode)' is neither private nor public")
            }
            for (field, selectors) in [("mask", set.mask), ("maskImages", set.maskImages), ("block", set.block), ("noAgent", set.noAgent),
                                       ("unmask", set.unmask)] {
                for selector in selectors ?? [] {
                    do {
                        _ = try CSSSelector(selector)
                    } catch {
                        throw MaskingRulesError("rules[\(index)].\(field): \(error)")
                    }
                }
            }
            for name in (set.detectors ?? [:]).keys where !BuiltInTables.detectors.contains(where: { $0.name == name }) {
                throw MaskingRulesError("rules[\(index)].detectors: unknown detector '\(name)' (known: "
                    + BuiltInTables.detectors.map(\.name).joined(separator: ", ") + ")")
            }
            if let site = set.site, site != "*", URL(string: site)?.host == nil {
                throw MaskingRulesError("rules[\(index)].site: '\(site)' is neither * nor an origin such as https://shop.example")
            }
        }
        self.init(sets: file.rules ?? [], maskPlaceholders: file.maskPlaceholders ?? false,
                  customerMark: file.customerMark ?? Self.defaultCustomerMark,
                  sourceHash: SHA256.hash(data: json).map { String(format: "%02x", $0) }.joined())
    }

    /// A page URL as the rules see it: its origin (`site`), and its path with the query (`urls`).
    public static func address(of url: String) -> (origin: String, path: String)? {
        // URLComponents keeps the path as written (URL.path drops a trailing slash).
        guard let parsed = URLComponents(string: url), let host = parsed.host else { return nil }
        let origin = "\(parsed.scheme ?? "https")://\(host)" + (parsed.port.map { ":\($0)" } ?? "")
        let path = (parsed.percentEncodedPath.isEmpty ? "/" : parsed.percentEncodedPath) + (parsed.percentEncodedQuery.map { "?\($0)" } ?? "")
        return (origin, path)
    }

    /// The rule sets that apply to a page, with their place in the file, in file order.
    public func ruleSets(for url: String) -> [(index: Int, set: RuleSet)] {
        guard let (origin, path) = Self.address(of: url) else { return [] }
        return sets.enumerated().filter { _, set in
            ((set.site ?? "*") == "*" || set.site?.lowercased() == origin.lowercased())
                && (set.urls ?? ["*"]).contains(where: { Self.glob($0, matches: path) })
        }.map { (index: $0.offset, set: $0.element) }
    }

    /// The rules for one page: every matching set, united (rules only ever add masking).
    public func page(for url: String) -> PageRules {
        var rules = PageRules(maskPlaceholders: maskPlaceholders, customerMark: customerMark)
        for (_, set) in ruleSets(for: url) {
            rules.mask += set.mask ?? []
            rules.maskImages += set.maskImages ?? []
            rules.block += set.block ?? []
            rules.noAgent += set.noAgent ?? []
            rules.maskPage = rules.maskPage || (set.maskPage ?? false)
            if set.mode == "private" { rules.mode = .private }
            rules.unmask += set.unmask ?? []
            // Later sets override earlier ones, detector by detector.
            for (name, on) in set.detectors ?? [:] {
                if on, !rules.detectors.contains(name) { rules.detectors.append(name) }
                if !on { rules.detectors.removeAll { $0 == name } }
            }
        }
        rules.detectors = BuiltInTables.detectors.map(\.name).filter(rules.detectors.contains)
        return rules
    }

    /// `*` matches any run of characters; everything else itself.
    static func glob(_ pattern: String, matches text: String) -> Bool {
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        guard parts.count > 1 else { return pattern == text }
        guard text.hasPrefix(parts[0]), text.dropFirst(parts[0].count).hasSuffix(parts[parts.count - 1]) else { return false }
        var rest = Substring(text.dropFirst(parts[0].count).dropLast(parts[parts.count - 1].count))
        for part in parts.dropFirst().dropLast() where !part.isEmpty {
            guard let range = rest.range(of: part) else { return false }
            rest = rest[range.upperBound...]
        }
        return true
    }
}

public struct MaskingRulesError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The rules that apply to one page. The selector lists are the file's (what the relay hands
/// the SDK); `classify` adds the built-ins every page gets whatever the file says.
public struct PageRules: Sendable, Equatable, Codable {
    public var mask: [String] = []
    public var maskImages: [String] = []
    public var block: [String] = []
    public var noAgent: [String] = []
    public var maskPage = false
    public var maskPlaceholders: Bool
    public var customerMark: String
    /// The PII detectors that run on this page, by name, in the order they run.
    public var detectors: [String] = BuiltInTables.detectors.map(\.name)
    /// Private: everything is masked but what `unmask` selects (any matching rule set makes a page private).
    public var mode = Mode.public
    public var unmask: [String] = []

    public enum Mode: String, Sendable, Codable {
        case `public`, `private`
    }

    public init(maskPlaceholders: Bool = false, customerMark: String = MaskingRules.defaultCustomerMark) {
        self.maskPlaceholders = maskPlaceholders
        self.customerMark = customerMark
    }
}

/// Page markers and defaults that need no rules file.
public enum BuiltInRules {
    public static let maskMarkers = BuiltInTables.maskMarkers
    public static let blockMarkers = BuiltInTables.blockMarkers
    public static let noAgentMarkers = BuiltInTables.noAgentMarkers
    /// What the agent may never act on without any rule (`BuiltInTables.noAgentDefaults`).
    public static let noAgentDefaults = BuiltInTables.noAgentDefaults
    /// `autocomplete` tokens whose fields are masked whatever the rules say (`BuiltInTables`).
    public static let sensitiveAutocomplete = Set(BuiltInTables.alwaysMaskedAutocomplete)
    /// Parts of an input's `name`, `id` or `autocomplete` (compared in lower case, anywhere in
    /// the value) that make it sound like a secret (`BuiltInTables.secretFieldHints`).
    public static let secretFieldHints = BuiltInTables.secretFieldHints

    /// An input whose `name`, `id` or `autocomplete` contains one of `secretFieldHints`.
    public static func isSecretNamed<Element: SelectableElement>(_ element: Element) -> Bool {
        guard element.tagName == "input" else { return false }
        return ["name", "id", "autocomplete"].contains { attribute in
            guard let value = element.attribute(attribute)?.lowercased() else { return false }
            return secretFieldHints.contains { value.contains($0) }
        }
    }

    /// Password and hidden inputs, and credential or card fields by `autocomplete`.
    public static func isAlwaysMasked<Element: SelectableElement>(_ element: Element) -> Bool {
        if element.tagName == "input", let type = element.attribute("type")?.lowercased(),
           BuiltInTables.alwaysMaskedInputTypes.contains(type) {
            return true
        }
        guard let autocomplete = element.attribute("autocomplete")?.lowercased() else { return false }
        return autocomplete.split(whereSeparator: \.isWhitespace).contains { sensitiveAutocomplete.contains(String($0)) }
    }
}

/// What the rules say about one element by itself (inheritance is the caller's job).
public struct ElementRules: Sendable, Equatable {
    public var masked = false
    /// Masked because it is a password, hidden or card field: stays masked even if its type changes.
    public var alwaysMasked = false
    /// An input named like a secret (`BuiltInRules.secretFieldHints`): its value alone is masked
    /// (the `value` attribute and property, and its input frames), and agents may not type into it.
    public var valueMasked = false
    public var blocked = false
    public var maskedImage = false
    /// Matched by `maskImages` without being an image (a `<picture>`, a gallery): every image
    /// inside is masked.
    public var masksImagesInside = false
    public var noAgent = false
    /// Selected by `unmask` in private mode: it and what is inside are not masked by the mode
    /// (rules and built-ins still mask).
    public var unmasked = false

    public init() {}
}

/// A page's rules compiled for matching, built-ins included.
public struct CompiledPageRules: Sendable {
    public let page: PageRules
    let mask: CSSSelector
    let maskImages: CSSSelector?
    let block: CSSSelector
    let noAgent: CSSSelector
    let unmask: CSSSelector?
    let referencedAttributes: Set<String>
    /// What the page's PII detectors mask in free text.
    public let redactor: PIIRedactor

    /// Selectors were checked when the file loaded; one that fails here is left out.
    public init(_ page: PageRules) {
        self.page = page
        func compile(_ texts: [String]) -> CSSSelector? {
            let valid = texts.filter { (try? CSSSelector($0)) != nil }
            return valid.isEmpty ? nil : try? CSSSelector(valid.joined(separator: ", "))
        }
        // The built-in lists always parse.
        mask = compile(BuiltInRules.maskMarkers + page.mask)!
        maskImages = compile(page.maskImages)
        block = compile(BuiltInRules.blockMarkers + page.block)!
        noAgent = compile(BuiltInRules.noAgentMarkers + BuiltInRules.noAgentDefaults + page.noAgent)!
        unmask = page.mode == .private ? compile(page.unmask) : nil
        var names: Set<String> = ["type", "autocomplete", "name", "id"] // the always-masked and secret-name checks
        for selector in [mask, block, noAgent] + [maskImages, unmask].compactMap({ $0 }) { names.formUnion(selector.referencedAttributes) }
        referencedAttributes = names
        redactor = PIIRedactor(enabled: Set(page.detectors))
    }

    /// Whether changing this attribute can change how any element is classified (a `style`
    /// or `value` change, say, cannot, and needs no re-classification of the subtree).
    public func dependsOn(attribute name: String) -> Bool {
        referencedAttributes.contains(name.lowercased())
    }

    public func classify<Element: SelectableElement>(_ element: Element) -> ElementRules {
        var result = ElementRules()
        result.alwaysMasked = BuiltInRules.isAlwaysMasked(element)
        result.masked = result.alwaysMasked || mask.matches(element) || (page.maskPage && element.tagName == "html")
        result.valueMasked = BuiltInRules.isSecretNamed(element)
        result.blocked = block.matches(element)
        let matchesImageRule = maskImages?.matches(element) == true
        result.maskedImage = element.tagName == "img" && (page.maskPage || matchesImageRule)
        result.masksImagesInside = element.tagName != "img" && matchesImageRule
        result.noAgent = noAgent.matches(element)
        result.unmasked = unmask?.matches(element) == true
        return result
    }
}
