import CobrowseProtocol
import MaskingRules

/// The filter's copy of one session's node tree: every node's tag, attributes and text as the
/// sharer sent them, where it sits, and what the masking rules make of it. Nodes enter only
/// through `admit`, which sanitizes and masks them on the way in, so anything dropped (a
/// script, the inside of a blocked element) is unknown here and later frames about it are
/// dropped too. What leaves is always the masked form.
struct MaskedTree {
    struct Entry {
        var type: DOMNode.Kind
        var tag: String?
        var attrs: [String: String] = [:]
        /// Text of text and comment nodes; a form control's current value.
        var text: String?
        var value: String?
        var parent: Int?
        var children: [Int] = []
        /// What the rules say about the element itself.
        var own = ElementRules()
        /// Masked by its own rules or an ancestor's, or by private mode.
        var masked = false
        /// Masked by a rule, a marker or a built-in (its own or an ancestor's): an `unmask`
        /// selector cannot undo that, only private mode's default.
        var ruleMasked = false
        /// Inside (or itself) an element whose images are all masked.
        var imagesMasked = false
    }

    private(set) var entries: [Int: Entry] = [:]
    /// Ids that were ever always-masked (password, hidden, card fields) on this page: a
    /// "show password" toggle, a move or a later snapshot on the same connection does not
    /// unmask them. Cleared by a snapshot on another connection.
    private var everAlwaysMasked: Set<Int> = []
    private var loadedStream: String?
    var rules = CompiledPageRules(PageRules())
    /// Elements masked, blocked or image-masked so far (for metrics).
    private(set) var maskedElements = 0
    /// What each PII detector masked so far, by name (for metrics and the session's record).
    private(set) var detectorHits: [String: Int] = [:]
    /// Form values (field values and typed input) sent as `****` so far.
    private(set) var maskedValues = 0

    var count: Int { entries.count }

    func contains(_ id: Int) -> Bool { entries[id] != nil }

    func isMasked(_ id: Int) -> Bool { entries[id]?.masked ?? false }

    /// Whether a node's value is masked: it is masked, or an input named like a secret.
    func isValueMasked(_ id: Int) -> Bool { entries[id].map { $0.masked || $0.own.valueMasked } ?? false }

    /// Whether the page's `<title>` is masked (by a rule, a marker or a whole-page mask).
    var isTitleMasked: Bool {
        rules.page.maskPage || entries.values.contains { entry in
            // The page's own <title> (html > head > title), not an SVG's or a frame's.
            guard entry.tag == "title", entry.masked, let head = entry.parent.flatMap({ entries[$0] }), head.tag == "head",
                  let html = head.parent.flatMap({ entries[$0] }) else { return false }
            return html.parent == nil
        }
    }

    /// The link a click on a node follows: the nearest `<a>`/`<area>` with an `href`, with its
    /// `target`.
    func link(around id: Int) -> (href: String, target: String?)? {
        var current: Int? = id
        while let node = current, let entry = entries[node] {
            if entry.tag == "a" || entry.tag == "area", let href = entry.attrs["href"] { return (href, entry.attrs["target"]) }
            current = entry.parent
        }
        return nil
    }

    /// Whether agents may not act on a node: it, or an element it is inside, is a no-agent
    /// element (a click on the label inside a submit button is a click on the button).
    func isNoAgent(_ id: Int) -> Bool {
        var current: Int? = id
        while let node = current, let entry = entries[node] {
            if entry.own.noAgent { return true }
            current = entry.parent
        }
        return false
    }

    /// Replaces the tree with a snapshot's; returns the sanitized root (nil if it is dropped).
    /// `stream`: the sharer connection the snapshot came on. Another snapshot on the same one (a
    /// resync, an observer joining) is the same page with the same node ids, so the fields that
    /// ever were password fields stay masked; a new connection may be a new page, whose ids mean
    /// other nodes, so the record starts again (the SDK keeps its own for the page's life).
    mutating func load(_ root: DOMNode, rules: CompiledPageRules, stream: String? = nil) -> DOMNode? {
        entries = [:]
        if stream == nil || stream != loadedStream { everAlwaysMasked = [] }
        loadedStream = stream
        self.rules = rules
        return admit(root, parent: nil)
    }

    /// Adds a subtree under a known parent; returns what may be sent, or nil.
    mutating func add(_ node: DOMNode, parent: Int, before next: Int?) -> DOMNode? {
        guard let parentEntry = entries[parent], !parentEntry.own.blocked, entries[node.id] == nil else { return nil }
        guard let admitted = admit(node, parent: parent) else { return nil }
        if let next, let index = entries[parent]?.children.firstIndex(of: next) {
            entries[parent]?.children.insert(node.id, at: index)
        } else {
            entries[parent]?.children.append(node.id)
        }
        return admitted
    }

    /// Removes a node and everything under it; false if it was unknown.
    mutating func remove(_ id: Int) -> Bool {
        guard let entry = entries[id] else { return false }
        if let parent = entry.parent { entries[parent]?.children.removeAll { $0 == id } }
        var pending = [id]
        while let next = pending.popLast() {
            if let removed = entries.removeValue(forKey: next) { pending.append(contentsOf: removed.children) }
        }
        return true
    }

    /// What an attribute change sends: the change itself (masked or dropped as needed) and
    /// whatever re-masking it causes below the element.
    struct Effects: Equatable {
        var removes: [Int] = []
        var attrs: [StreamEvent.Mutations.Attribute] = []
        var texts: [StreamEvent.Mutations.Text] = []
        var inputs: [StreamEvent.Input] = []
        /// The change would reveal what was masked or blocked: the stream needs a snapshot.
        var needsSnapshot = false
    }

    mutating func setAttribute(_ id: Int, name rawName: String, value: String?) -> Effects {
        var effects = Effects()
        let name = rawName.lowercased()
        guard let entry = entries[id], entry.type == .element, !Self.isViewMarker(name),
              StreamSanitizer.allows(attribute: name, value: value, on: entry.tag) else { return effects }
        if let value { entries[id]?.attrs[name] = value } else { entries[id]?.attrs[name] = nil }
        if rules.dependsOn(attribute: name) { reclassify(id, into: &effects) }
        guard !effects.needsSnapshot, let updated = entries[id] else { return effects }
        if updated.own.blocked && !Self.blockedKeeps.contains(name) { return effects }
        if updated.own.maskedImage && Self.imageSources.contains(name) { return effects }
        guard let value else {
            effects.attrs.append(.init(id: id, name: rawName, value: nil))
            return effects
        }
        // A masked element's attribute that may not be sent at all is dropped (it never was sent).
        if let sent = rendered(name, value, masked: updated.masked, valueMasked: updated.own.valueMasked, tag: updated.tag) {
            effects.attrs.append(.init(id: id, name: rawName, value: sent))
        }
        return effects
    }

    /// A text or comment node's new content, masked as needed; nil if the node is unknown.
    mutating func setText(_ id: Int, _ text: String) -> String? {
        guard let entry = entries[id] else { return nil }
        entries[id]?.text = text
        if entry.masked { return StreamSanitizer.maskText(text) }
        return entry.type == .text ? redacted(text) : text
    }

    /// Free text with the PII the page's detectors find masked (`PIIRedactor`), counted.
    private mutating func redacted(_ text: String) -> String {
        let (clean, hits) = rules.redactor.redact(text)
        for (name, count) in hits { detectorHits[name, default: 0] += count }
        return clean
    }

    /// A form control's new state, masked as needed; nil if nothing may be sent.
    mutating func input(_ input: StreamEvent.Input) -> StreamEvent.Input? {
        guard let entry = entries[input.id] else { return nil }
        if let value = input.value { entries[input.id]?.value = value }
        if !entry.masked, entry.own.valueMasked, let value = input.value {
            return StreamEvent.Input(id: input.id, value: maskedValue(value), checked: input.checked, selected: input.selected)
        }
        guard entry.masked else {
            var clean = input
            clean.value = input.value.map { redacted($0) }
            return clean
        }
        // A masked control's choice (checked, selected) is not sent at all.
        guard let value = input.value else { return nil }
        return StreamEvent.Input(id: input.id, value: maskedValue(value))
    }

    /// A form value as `****` (empty stays empty), counted.
    private mutating func maskedValue(_ value: String) -> String {
        if !value.isEmpty { maskedValues += 1 }
        return StreamSanitizer.mask(ifNotEmpty: value)
    }

    // MARK: Admission

    private mutating func admit(_ node: DOMNode, parent: Int?) -> DOMNode? {
        guard node.type != .element || !StreamSanitizer.drops(tag: node.tag, attrs: node.attrs) else { return nil }
        // Ids are unique per page; a repeated one would overwrite (and unmask) another node.
        guard entries[node.id] == nil else { return nil }
        var attrs: [String: String] = [:]
        for (name, value) in node.attrs ?? [:] where !Self.isViewMarker(name.lowercased()) { attrs[name.lowercased()] = value }
        entries[node.id] = Entry(type: node.type, tag: node.tag?.lowercased(), attrs: attrs, text: node.text, value: node.value,
                                 parent: parent)
        let inherited = inheritance(from: parent)
        if node.type == .element { classify(node.id, inherited: inherited) } else { inherit(node.id, inherited) }
        guard let entry = entries[node.id] else { return nil }

        var clean = DOMNode(id: node.id, type: node.type, tag: node.tag)
        switch node.type {
        case .text, .comment:
            clean.text = entry.masked ? node.text.map(StreamSanitizer.maskText)
                : node.type == .text ? node.text.map { redacted($0) } : node.text
            return clean
        case .element:
            break
        }
        clean.attrs = renderedAttributes(entry)
        if entry.own.blocked {
            clean.rect = node.rect
            return clean // nothing inside a blocked element is admitted, let alone sent
        }
        if entry.own.maskedImage { clean.rect = node.rect }
        // A <style>'s CSS inserted by scripts travels as the element's text.
        clean.text = entry.masked ? node.text.map(StreamSanitizer.maskText) : node.text
        clean.value = entry.masked || entry.own.valueMasked ? node.value.map { maskedValue($0) } : node.value.map { redacted($0) }
        clean.checked = entry.masked ? nil : node.checked
        clean.scroll = node.scroll
        clean.adoptedStyles = node.adoptedStyles
        clean.children = node.children.map { admit($0, under: node.id) }
        clean.shadow = node.shadow.map { admit($0, under: node.id) }
        // A same-origin frame's document sits under its <iframe>: masked with it, removed with it.
        clean.frame = node.frame.map { admit($0, under: node.id) }
        return clean
    }

    /// Admits a list of children (light DOM or an open shadow root) under `parent`.
    private mutating func admit(_ children: [DOMNode], under parent: Int) -> [DOMNode] {
        children.compactMap { child in
            guard let admitted = admit(child, parent: parent) else { return nil }
            entries[parent]?.children.append(child.id)
            return admitted
        }
    }

    /// What a node inherits from its parent: masked (`masked`), and by a rule (`ruleMasked`).
    private func inheritance(from parent: Int?) -> (masked: Bool, byRule: Bool) {
        guard let entry = parent.flatMap({ entries[$0] }) else { return (false, false) }
        return (entry.masked, entry.ruleMasked)
    }

    /// A text or comment node is masked as its parent is.
    private mutating func inherit(_ id: Int, _ inherited: (masked: Bool, byRule: Bool)) {
        entries[id]?.masked = inherited.masked
        entries[id]?.ruleMasked = inherited.byRule
    }

    /// Applies the rules to an element already in `entries` (its ancestors too).
    private mutating func classify(_ id: Int, inherited: (masked: Bool, byRule: Bool)) {
        var own = rules.classify(MaskedTreeElement(entries: entries, id: id))
        if own.alwaysMasked || everAlwaysMasked.contains(id) {
            own.alwaysMasked = true
            own.masked = true
            everAlwaysMasked.insert(id)
        }
        // Images inside masked content are masked images too, and so are a <picture>'s sources.
        let parentMasksImages = entries[id]?.parent.flatMap { entries[$0]?.imagesMasked } ?? false
        if let tag = entries[id]?.tag, tag == "img" || tag == "source", own.masked || inherited.masked || parentMasksImages {
            own.maskedImage = true
        }
        entries[id]?.imagesMasked = own.masksImagesInside || parentMasksImages
        let before = entries[id]?.own ?? ElementRules()
        if (own.masked && !before.masked) || (own.blocked && !before.blocked) || (own.maskedImage && !before.maskedImage) {
            maskedElements += 1
        }
        entries[id]?.own = own
        // A masked image's describing attributes (alt, title…) are masked with it.
        let byRule = inherited.byRule || own.masked || own.maskedImage
        // Private mode masks from the root down, except under `unmask`; a <style>'s CSS is the
        // page's look, not its content.
        let isRoot = entries[id]?.parent == nil
        let byMode = rules.page.mode == .private && !own.unmasked && entries[id]?.tag != "style" && (isRoot || inherited.masked)
        entries[id]?.ruleMasked = byRule
        entries[id]?.masked = byRule || byMode
    }

    /// The attributes a view gets for an element: sanitized, masked, reduced if blocked,
    /// without image sources if image-masked, plus the view markers the console frames.
    private mutating func renderedAttributes(_ entry: Entry) -> [String: String] {
        var result: [String: String] = [:]
        for (name, value) in entry.attrs where StreamSanitizer.allows(attribute: name, value: value, on: entry.tag) {
            if entry.own.blocked && !Self.blockedKeeps.contains(name) { continue }
            if entry.own.maskedImage && Self.imageSources.contains(name) { continue }
            result[name] = rendered(name, value, masked: entry.masked, valueMasked: entry.own.valueMasked, tag: entry.tag)
        }
        for (marker, on) in markers(entry.own) where on { result[marker] = "" }
        return result
    }

    // MARK: Re-masking after an attribute change

    /// Re-applies the rules to an element and everything under it after its attributes
    /// changed. Newly masked content is re-sent masked; content that would be revealed (a
    /// mask or block lifted) makes the stream wait for a snapshot instead.
    private mutating func reclassify(_ id: Int, into effects: inout Effects) {
        var pending = [id]
        while let current = pending.popLast() {
            guard let before = entries[current] else { continue }
            let inherited = inheritance(from: before.parent)
            if before.type == .element {
                classify(current, inherited: inherited)
            } else {
                inherit(current, inherited)
            }
            guard let after = entries[current] else { continue }
            if (before.masked && !after.masked) || (before.own.blocked && !after.own.blocked)
                || (before.own.maskedImage && !after.own.maskedImage)
                || (before.own.valueMasked && !after.own.valueMasked && !after.masked) {
                effects.needsSnapshot = true
                return
            }
            if after.masked && !before.masked {
                remask(after, id: current, into: &effects)
            } else if !after.masked, after.own.valueMasked, !before.own.valueMasked {
                if let value = after.attrs["value"] { effects.attrs.append(.init(id: current, name: "value", value: StreamSanitizer.mask(ifNotEmpty: value))) }
                if let value = after.value { effects.inputs.append(.init(id: current, value: StreamSanitizer.mask(ifNotEmpty: value))) }
            }
            if after.type == .element {
                let was = markers(before.own)
                for (marker, on) in markers(after.own) where on != was[marker] {
                    effects.attrs.append(.init(id: current, name: marker, value: on ? "" : nil))
                }
                if after.own.maskedImage && !before.own.maskedImage {
                    for name in Self.imageSources where after.attrs[name] != nil {
                        effects.attrs.append(.init(id: current, name: name, value: nil))
                    }
                }
            }
            if after.own.blocked && !before.own.blocked {
                // The agent's copy loses everything inside; so does this tree, so that later
                // frames about those nodes are dropped.
                for child in after.children {
                    effects.removes.append(child)
                    _ = remove(child)
                }
                for name in after.attrs.keys where !Self.blockedKeeps.contains(name) {
                    effects.attrs.append(.init(id: current, name: name, value: nil))
                }
                continue
            }
            pending.append(contentsOf: after.children)
        }
    }

    /// Re-sends a node that just became masked in its masked form.
    private mutating func remask(_ entry: Entry, id: Int, into effects: inout Effects) {
        switch entry.type {
        case .text, .comment:
            if let text = entry.text, StreamSanitizer.maskText(text) != text { effects.texts.append(.init(id: id, text: StreamSanitizer.mask)) }
        case .element:
            for (name, value) in entry.attrs where StreamSanitizer.allows(attribute: name, value: value, on: entry.tag) {
                let masked = rendered(name, value, masked: true, tag: entry.tag)
                if masked != value { effects.attrs.append(.init(id: id, name: name, value: masked)) }
            }
            if let value = entry.value {
                effects.inputs.append(.init(id: id, value: StreamSanitizer.mask(ifNotEmpty: value)))
            }
        }
    }

    // MARK: What is masked

    /// An attribute as a view gets it: unchanged on unmasked elements; on masked ones, content
    /// masked, choices and URLs (which name accounts, photos, documents) not sent, and images
    /// in inline styles removed. Nil: not sent.
    private mutating func rendered(_ name: String, _ value: String, masked: Bool, valueMasked: Bool = false, tag: String?) -> String? {
        if valueMasked, name == "value" { return StreamSanitizer.mask(ifNotEmpty: value) }
        guard masked else { return redacted(value) }
        if Self.maskedAttributes.contains(name) || (name == "placeholder" && rules.page.maskPlaceholders)
            || (name.hasPrefix("data-") && !name.hasPrefix("data-cobrowse-")) {
            return StreamSanitizer.mask(ifNotEmpty: value)
        }
        // A stylesheet's address is not content: a masked page keeps its look.
        if Self.droppedWhenMasked.contains(name) && !(name == "href" && tag == "link") { return nil }
        if name == "style" { return StreamSanitizer.withoutURLs(value) }
        return value
    }

    // The tables the SDK applies too (BuiltInTables, served to it by the relay).
    static let maskedAttributes = Set(BuiltInTables.maskedAttributes)
    static let droppedWhenMasked = Set(BuiltInTables.droppedWhenMasked)
    static let blockedKeeps = Set(BuiltInTables.blockedKeeps)
    static let imageSources = Set(BuiltInTables.imageSourceAttributes)

    /// The attributes the console frames masked (purple) and no-agent (green) elements by.
    /// Pages cannot send them: incoming ones are dropped.
    static func isViewMarker(_ name: String) -> Bool { name.hasPrefix("data-cb-") }

    private func markers(_ own: ElementRules) -> [String: Bool] {
        ["data-cb-masked": own.masked, "data-cb-blocked": own.blocked, "data-cb-masked-image": own.maskedImage,
         "data-cb-noagent": own.noAgent]
    }
}
