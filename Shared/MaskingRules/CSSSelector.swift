/// An element as selectors see it: a lower-case tag, attributes, and a parent element.
public protocol SelectableElement {
    var tagName: String { get }
    func attribute(_ name: String) -> String?
    var parentElement: Self? { get }
}

/// A parsed CSS selector list, restricted to what the masking rules need: type, `*`, `#id`,
/// `.class`, `[attr]`, `[attr=v]`, `[attr^=v]`, `[attr$=v]`, `[attr*=v]`, `[attr~=v]`, the
/// descendant and child combinators, `:not(…)` and selector lists. Anything else is refused
/// when parsed, so a rule never silently matches less than its author meant.
public struct CSSSelector: Sendable, Equatable, CustomStringConvertible {
    public let description: String
    let alternatives: [Complex]

    public init(_ text: String) throws(SelectorError) {
        var parser = SelectorParser(text)
        alternatives = try parser.selectorList()
        description = text
    }

    /// The attributes whose values can change what this selector matches.
    public var referencedAttributes: Set<String> {
        func attributes(_ compound: Compound) -> Set<String> {
            compound.conditions.reduce(into: []) { names, condition in
                switch condition {
                case .id: names.insert("id")
                case .className: names.insert("class")
                case let .attribute(name, _): names.insert(name)
                case let .not(compounds): names.formUnion(compounds.flatMap(attributes))
                }
            }
        }
        return alternatives.reduce(into: []) { names, complex in
            names.formUnion(attributes(complex.subject))
            for ancestor in complex.ancestors { names.formUnion(attributes(ancestor.compound)) }
        }
    }

    /// Attributes whose values HTML's selectors compare in any case (the HTML Standard's list,
    /// "case-sensitivity of selectors"), so that the filter matches them as the SDK's browser does.
    static let caseInsensitiveValues: Set<String> = [
        "accept", "accept-charset", "align", "alink", "axis", "bgcolor", "charset", "checked", "clear", "codetype", "color",
        "compact", "declare", "defer", "dir", "direction", "disabled", "enctype", "face", "frame", "hreflang", "http-equiv",
        "lang", "language", "link", "media", "method", "multiple", "nohref", "noresize", "noshade", "nowrap", "readonly",
        "rel", "rev", "rules", "scope", "scrolling", "selected", "shape", "target", "text", "type", "valign", "valuetype",
        "vlink",
    ]

    /// Whether `element` matches any selector of the list.
    public func matches<Element: SelectableElement>(_ element: Element) -> Bool {
        alternatives.contains { $0.matches(element) }
    }

    /// A compound selector and how it relates to the one before it, right to left.
    struct Complex: Sendable, Equatable {
        enum Combinator: Sendable, Equatable { case descendant, child }
        /// The rightmost compound, which the element itself must match.
        let subject: Compound
        /// The compounds to its left, nearest first, each with the combinator joining it to the right.
        let ancestors: [(compound: Compound, combinator: Combinator)]

        static func == (lhs: Complex, rhs: Complex) -> Bool {
            lhs.subject == rhs.subject && lhs.ancestors.count == rhs.ancestors.count
                && zip(lhs.ancestors, rhs.ancestors).allSatisfy { $0.compound == $1.compound && $0.combinator == $1.combinator }
        }

        func matches<Element: SelectableElement>(_ element: Element) -> Bool {
            subject.matches(element) && matchAncestors(from: 0, below: element)
        }

        /// Backtracks over descendant combinators: `a b c` may find `b` at several depths.
        private func matchAncestors<Element: SelectableElement>(from index: Int, below element: Element) -> Bool {
            guard index < ancestors.count else { return true }
            let (compound, combinator) = ancestors[index]
            var candidate = element.parentElement
            while let current = candidate {
                if compound.matches(current), matchAncestors(from: index + 1, below: current) { return true }
                if combinator == .child { return false }
                candidate = current.parentElement
            }
            return false
        }
    }

    /// Conditions on one element, all of which must hold.
    struct Compound: Sendable, Equatable {
        var tag: String?
        var conditions: [Condition] = []

        func matches<Element: SelectableElement>(_ element: Element) -> Bool {
            if let tag, tag != element.tagName { return false }
            return conditions.allSatisfy { $0.holds(for: element) }
        }
    }

    indirect enum Condition: Sendable, Equatable {
        case id(String)
        case className(String)
        case attribute(String, AttributeTest)
        case not([Compound])

        func holds<Element: SelectableElement>(for element: Element) -> Bool {
            switch self {
            case let .id(id):
                return element.attribute("id") == id
            case let .className(name):
                return element.attribute("class")?.split(whereSeparator: \.isWhitespace).contains { $0 == name } ?? false
            case let .attribute(name, test):
                guard let value = element.attribute(name) else { return false }
                // As browsers match HTML documents: `[type=submit]` selects `type="SUBMIT"` too.
                if CSSSelector.caseInsensitiveValues.contains(name) { return test.lowercased.holds(for: value.lowercased()) }
                return test.holds(for: value)
            case let .not(compounds):
                return !compounds.contains { $0.matches(element) }
            }
        }
    }

    enum AttributeTest: Sendable, Equatable {
        case present
        case equals(String)
        case prefix(String)
        case suffix(String)
        case contains(String)
        /// One of the whitespace-separated words.
        case word(String)

        /// The same test of a lower-cased operand.
        var lowercased: AttributeTest {
            switch self {
            case .present: .present
            case let .equals(operand): .equals(operand.lowercased())
            case let .prefix(operand): .prefix(operand.lowercased())
            case let .suffix(operand): .suffix(operand.lowercased())
            case let .contains(operand): .contains(operand.lowercased())
            case let .word(operand): .word(operand.lowercased())
            }
        }

        func holds(for value: String) -> Bool {
            switch self {
            case .present: true
            case let .equals(expected): value == expected
            // Per CSS, an empty operand never matches these three.
            case let .prefix(expected): !expected.isEmpty && value.hasPrefix(expected)
            case let .suffix(expected): !expected.isEmpty && value.hasSuffix(expected)
            case let .contains(expected): !expected.isEmpty && value.contains(expected)
            case let .word(expected): value.split(whereSeparator: \.isWhitespace).contains { $0 == expected }
            }
        }
    }
}

/// Why a selector was refused, with where.
public struct SelectorError: Error, Equatable, CustomStringConvertible {
    public let selector: String
    public let reason: String

    public var description: String { "selector '\(selector)': \(reason)" }
}

/// A small recursive-descent parser over the selector's characters.
struct SelectorParser {
    private let text: String
    private let characters: [Character]
    private var position = 0

    init(_ text: String) {
        self.text = text
        characters = Array(text)
    }

    mutating func selectorList() throws(SelectorError) -> [CSSSelector.Complex] {
        var list = [try complex()]
        while peek() == "," {
            position += 1
            list.append(try complex())
        }
        skipWhitespace()
        if let character = peek() { throw failure("unexpected '\(character)'") }
        return list
    }

    private mutating func complex() throws(SelectorError) -> CSSSelector.Complex {
        skipWhitespace()
        var compounds = [try compound()]
        var combinators: [CSSSelector.Complex.Combinator] = []
        while true {
            let hadSpace = skipWhitespace()
            guard let next = peek(), next != "," else { break }
            switch next {
            case ">":
                position += 1
                skipWhitespace()
                combinators.append(.child)
            case "+", "~":
                throw failure("the '\(next)' combinator is not supported (only descendant and '>')")
            default:
                guard hadSpace else { throw failure("unexpected '\(next)'") }
                combinators.append(.descendant)
            }
            compounds.append(try compound())
        }
        let subject = compounds.removeLast()
        let ancestors = Array(zip(compounds.reversed(), combinators.reversed()).map { (compound: $0, combinator: $1) })
        return CSSSelector.Complex(subject: subject, ancestors: ancestors)
    }

    private mutating func compound() throws(SelectorError) -> CSSSelector.Compound {
        var compound = CSSSelector.Compound()
        let start = position
        if peek() == "*" {
            position += 1
        } else if let character = peek(), isIdentifierStart(character) {
            compound.tag = try identifier().lowercased()
        }
        loop: while let character = peek() {
            switch character {
            case "#":
                position += 1
                compound.conditions.append(.id(try identifier()))
            case ".":
                position += 1
                compound.conditions.append(.className(try identifier()))
            case "[":
                compound.conditions.append(try attribute())
            case ":":
                compound.conditions.append(try pseudoClass())
            default:
                break loop
            }
        }
        if position == start {
            throw failure(peek().map { "expected a selector, found '\($0)'" } ?? "expected a selector, found the end")
        }
        return compound
    }

    private mutating func attribute() throws(SelectorError) -> CSSSelector.Condition {
        position += 1 // [
        skipWhitespace()
        let name = try identifier().lowercased()
        skipWhitespace()
        guard let character = peek() else { throw failure("unclosed '['") }
        if character == "]" {
            position += 1
            return .attribute(name, .present)
        }
        let operators: [(String, (String) -> CSSSelector.AttributeTest)] = [
            ("^=", CSSSelector.AttributeTest.prefix), ("$=", CSSSelector.AttributeTest.suffix),
            ("*=", CSSSelector.AttributeTest.contains), ("~=", CSSSelector.AttributeTest.word),
            ("=", CSSSelector.AttributeTest.equals),
        ]
        guard let (symbol, make) = operators.first(where: { hasPrefix($0.0) }) else {
            throw failure("unsupported attribute operator at '\(character)' (use =, ^=, $=, *= or ~=)")
        }
        position += symbol.count
        skipWhitespace()
        let value: String
        if let quote = peek(), quote == "\"" || quote == "'" {
            value = try quoted(quote)
        } else {
            value = try identifier()
        }
        skipWhitespace()
        guard peek() == "]" else { throw failure("expected ']' (flags such as ' i' are not supported)") }
        position += 1
        return .attribute(name, make(value))
    }

    private mutating func pseudoClass() throws(SelectorError) -> CSSSelector.Condition {
        position += 1 // :
        let name = (try? identifier())?.lowercased() ?? ""
        guard name == "not", peek() == "(" else {
            throw failure("the pseudo-class ':\(name)' is not supported (only :not(…))")
        }
        position += 1
        var compounds: [CSSSelector.Compound] = []
        repeat {
            if peek() == "," { position += 1 }
            skipWhitespace()
            compounds.append(try compound())
            skipWhitespace()
        } while peek() == ","
        guard peek() == ")" else { throw failure(":not(…) takes compound selectors only (no combinators)") }
        position += 1
        return .not(compounds)
    }

    private mutating func identifier() throws(SelectorError) -> String {
        let start = position
        while let character = peek(), isIdentifierCharacter(character) { position += 1 }
        if peek() == "\\" { throw failure("escapes are not supported") }
        guard position > start else {
            throw failure(peek().map { "expected a name, found '\($0)'" } ?? "expected a name, found the end")
        }
        return String(characters[start..<position])
    }

    private mutating func quoted(_ quote: Character) throws(SelectorError) -> String {
        position += 1
        let start = position
        while let character = peek(), character != quote {
            if character == "\\" { throw failure("escapes are not supported") }
            position += 1
        }
        guard peek() == quote else { throw failure("unclosed string") }
        defer { position += 1 }
        return String(characters[start..<position])
    }

    @discardableResult
    private mutating func skipWhitespace() -> Bool {
        let start = position
        while let character = peek(), character.isWhitespace { position += 1 }
        return position > start
    }

    private func peek() -> Character? {
        position < characters.count ? characters[position] : nil
    }

    private func hasPrefix(_ prefix: String) -> Bool {
        characters[position...].starts(with: prefix)
    }

    private func isIdentifierStart(_ character: Character) -> Bool {
        character.isLetter || character == "_" || character == "-" || !character.isASCII
    }

    private func isIdentifierCharacter(_ character: Character) -> Bool {
        isIdentifierStart(character) || character.isNumber
    }

    private func failure(_ reason: String) -> SelectorError {
        SelectorError(selector: text, reason: "\(reason) at position \(position + 1)")
    }
}
