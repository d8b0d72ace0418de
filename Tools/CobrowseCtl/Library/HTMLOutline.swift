import MaskingRules

/// The elements of an HTML file, enough to match the masking rules' selectors against it
/// (`rules explain --html`): tags, attributes and nesting. A lenient reader, not a browser:
/// comments, doctypes and the text of scripts and styles are skipped, void elements close
/// themselves, an end tag closes up to its element, and one that matches no open element is
/// ignored.
final class HTMLElement: SelectableElement {
    let tagName: String
    let attributes: [(name: String, value: String)]
    private(set) weak var parentElement: HTMLElement?
    private(set) var children: [HTMLElement] = []

    init(tagName: String, attributes: [(name: String, value: String)], parent: HTMLElement?) {
        self.tagName = tagName
        self.attributes = attributes
        parentElement = parent
        parent?.children.append(self)
    }

    func attribute(_ name: String) -> String? {
        attributes.first { $0.name == name.lowercased() }?.value
    }

    /// `tag#id.class.class` (or `tag[name=…]` for a field without an id), as a person finds it in the page.
    var label: String {
        var text = tagName
        if let id = attribute("id"), !id.isEmpty {
            text += "#\(id)"
        } else if let name = attribute("name"), !name.isEmpty {
            text += "[name=\(name)]"
        }
        for name in (attribute("class") ?? "").split(whereSeparator: \.isWhitespace) { text += ".\(name)" }
        return text
    }

    /// This element and every one inside it, in document order.
    var all: [HTMLElement] { [self] + children.flatMap(\.all) }
}

enum HTMLOutline {
    static let voidElements: Set<String> = ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
                                            "track", "wbr"]
    static let rawTextElements: Set<String> = ["script", "style", "textarea", "title"]

    /// Every element of `html`, in document order.
    static func elements(of html: String) -> [HTMLElement] {
        let text = Array(html.unicodeScalars)
        var index = 0
        var roots: [HTMLElement] = []
        var open: [HTMLElement] = []

        func starts(_ prefix: String, at position: Int) -> Bool {
            let scalars = Array(prefix.unicodeScalars)
            guard position + scalars.count <= text.count else { return false }
            return zip(text[position..<position + scalars.count], scalars).allSatisfy { $0.0.properties.lowercaseMapping == String($0.1) }
        }
        func skip(past end: String) {
            while index < text.count, !starts(end, at: index) { index += 1 }
            index = min(text.count, index + end.unicodeScalars.count)
        }
        func isNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
            !(scalar.properties.isWhitespace || scalar == ">" || scalar == "/" || scalar == "=" || scalar == "<")
        }
        func name() -> String {
            let start = index
            while index < text.count, isNameCharacter(text[index]) { index += 1 }
            return String(String.UnicodeScalarView(text[start..<index])).lowercased()
        }
        func skipSpace() { while index < text.count, text[index].properties.isWhitespace { index += 1 } }

        while index < text.count {
            guard text[index] == "<" else {
                index += 1
                continue
            }
            if starts("<!--", at: index) { skip(past: "-->"); continue }
            if starts("<!", at: index) || starts("<?", at: index) { skip(past: ">"); continue }
            if starts("</", at: index) {
                index += 2
                let tag = name()
                skip(past: ">")
                if let position = open.lastIndex(where: { $0.tagName == tag }) { open.removeSubrange(position...) }
                continue
            }
            index += 1
            let tag = name()
            guard !tag.isEmpty else { continue }
            var attributes: [(name: String, value: String)] = []
            var selfClosing = false
            while index < text.count {
                skipSpace()
                guard index < text.count else { break }
                if text[index] == ">" { index += 1; break }
                if text[index] == "/" { selfClosing = true; index += 1; continue }
                let attribute = name()
                guard !attribute.isEmpty else { index += 1; continue }
                skipSpace()
                var value = ""
                if index < text.count, text[index] == "=" {
                    index += 1
                    skipSpace()
                    if index < text.count, text[index] == "\"" || text[index] == "'" {
                        let quote = text[index]
                        index += 1
                        let start = index
                        while index < text.count, text[index] != quote { index += 1 }
                        value = String(String.UnicodeScalarView(text[start..<index]))
                        index += 1
                    } else {
                        let start = index
                        while index < text.count, !text[index].properties.isWhitespace, text[index] != ">" { index += 1 }
                        value = String(String.UnicodeScalarView(text[start..<index]))
                    }
                }
                if !attributes.contains(where: { $0.name == attribute }) { attributes.append((attribute, value)) }
            }
            let element = HTMLElement(tagName: tag, attributes: attributes, parent: open.last)
            if open.isEmpty { roots.append(element) }
            if rawTextElements.contains(tag) {
                skip(past: "</\(tag)")
                skip(past: ">")
            } else if !selfClosing, !voidElements.contains(tag) {
                open.append(element)
            }
        }
        return roots.flatMap(\.all)
    }
}
