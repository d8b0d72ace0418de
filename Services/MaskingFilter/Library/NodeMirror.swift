import CobrowseProtocol

/// The filter's copy of one session's node tree: enough to know, for any later frame, which
/// node it touches, whether that node is sensitive, and what lies under it. Nodes enter the
/// mirror only through `admit`, which sanitizes them on the way in, so anything dropped (a
/// script, say) is unknown here and every later frame about it is dropped too.
struct NodeMirror {
    struct Entry {
        var tag: String?
        var parent: Int?
        var children: [Int] = []
        /// Masked from the moment it is (or once was) a password field: a "show password"
        /// toggle that changes `type` must not reveal the value.
        var sensitive: Bool
    }

    private(set) var entries: [Int: Entry] = [:]
    /// Ids that were ever password fields on this page: a node removed and added again (a
    /// move) keeps its mask. Cleared only by a new snapshot.
    private var everSensitive: Set<Int> = []

    var count: Int { entries.count }

    func contains(_ id: Int) -> Bool { entries[id] != nil }

    func isSensitive(_ id: Int) -> Bool { entries[id]?.sensitive ?? false }

    /// Replaces the tree with a snapshot's; returns the sanitized root (nil if it is dropped).
    mutating func load(_ root: DOMNode) -> DOMNode? {
        entries = [:]
        everSensitive = []
        return admit(root, parent: nil)
    }

    /// Adds a subtree under a known parent; returns what may be sent, or nil.
    mutating func add(_ node: DOMNode, parent: Int, before next: Int?) -> DOMNode? {
        guard entries[parent] != nil, entries[node.id] == nil else { return nil }
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

    /// Applies an attribute change; returns the value to send (masked if needed), or nil to drop it.
    mutating func setAttribute(_ id: Int, name: String, value: String?) -> String?? {
        guard let entry = entries[id], StreamSanitizer.allows(attribute: name, value: value) else { return nil }
        if entry.tag == "input", name.lowercased() == "type", value?.lowercased() == "password" {
            entries[id]?.sensitive = true
            everSensitive.insert(id)
        }
        if entries[id]?.sensitive == true, StreamSanitizer.valueAttributes.contains(name.lowercased()) {
            return .some(StreamSanitizer.masked(value))
        }
        return .some(value)
    }

    private mutating func admit(_ node: DOMNode, parent: Int?) -> DOMNode? {
        guard node.type != .element || !StreamSanitizer.drops(tag: node.tag, attrs: node.attrs) else { return nil }
        // Ids are unique per page; a repeated one would overwrite (and unmask) another node.
        guard entries[node.id] == nil else { return nil }
        let tag = node.tag?.lowercased()
        let sensitive = StreamSanitizer.isSensitive(tag: tag, attrs: node.attrs) || everSensitive.contains(node.id)
        if sensitive { everSensitive.insert(node.id) }
        entries[node.id] = Entry(tag: tag, parent: parent, sensitive: sensitive)
        var clean = node
        clean.attrs = StreamSanitizer.clean(node.attrs, sensitive: sensitive)
        if sensitive { clean.value = StreamSanitizer.masked(node.value) }
        clean.children = node.children.map { admit($0, under: node.id) }
        clean.shadow = node.shadow.map { admit($0, under: node.id) }
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
}
