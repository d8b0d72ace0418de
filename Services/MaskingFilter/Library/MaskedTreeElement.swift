import MaskingRules

/// An element of the masked tree as the selector matcher sees it.
struct MaskedTreeElement: SelectableElement {
    let entries: [Int: MaskedTree.Entry]
    let id: Int

    var tagName: String { entries[id]?.tag ?? "" }

    func attribute(_ name: String) -> String? {
        let value = entries[id]?.attrs[name.lowercased()]
        // HTML compares `type` case-insensitively (TYPE=PASSWORD is a password field).
        return name.lowercased() == "type" ? value?.lowercased() : value
    }

    var parentElement: MaskedTreeElement? {
        guard let parent = entries[id]?.parent, entries[parent]?.type == .element else { return nil }
        return MaskedTreeElement(entries: entries, id: parent)
    }
}
