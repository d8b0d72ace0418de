import CobrowseProtocol
import Foundation
@testable import MaskingFilter
import MaskingRules
import Testing

/// Random pages and random changes, replayed deterministically: whatever a sharer writes
/// inside masked content never comes out of the filter, whichever way it gets there.
@Suite struct MaskingPropertyTests {
    /// A small deterministic generator (SplitMix64), so a failure can be replayed by its seed.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// The sharer's side: its own copy of the tree, to know what is masked where.
    struct Page {
        struct Node {
            var parent: Int?
            var masked: Bool // by its own class
            var isText: Bool
        }

        var nodes: [Int: Node] = [1: Node(parent: nil, masked: false, isText: false), 2: Node(parent: 1, masked: false, isText: false)]
        var nextID = 100
        /// Everything ever written inside masked content.
        var secrets: Set<String> = []
        /// What each node currently carries (text, value, attributes), by node.
        var content: [Int: [String]] = [:]
        var generator: Generator

        func isMasked(_ id: Int) -> Bool {
            var current: Int? = id
            while let node = current.flatMap({ nodes[$0] }) {
                if node.masked { return true }
                current = node.parent
            }
            return false
        }

        var elements: [Int] { nodes.filter { !$0.value.isText }.map(\.key).sorted() }

        /// A fresh token written into `node` (whose masking is decided by `node` and above).
        mutating func token(under node: Int) -> String {
            let token = "T\(nextID)X\(UInt32.random(in: 0...UInt32.max, using: &generator))"
            if isMasked(node) { secrets.insert(token) }
            content[node, default: []].append(token)
            return token
        }

        /// Every token inside a subtree right now.
        func tokens(inside id: Int) -> [String] {
            (content[id] ?? []) + nodes.filter { $0.value.parent == id }.flatMap { tokens(inside: $0.key) }
        }

        /// A random subtree under `parent`: elements, some masked by class, texts, inputs.
        mutating func subtree(under parent: Int, depth: Int = 0) -> DOMNode {
            let id = nextID
            nextID += 1
            let masked = Int.random(in: 0..<5, using: &generator) == 0
            nodes[id] = Node(parent: parent, masked: masked, isText: false)
            if Int.random(in: 0..<4, using: &generator) == 0 {
                var input = DOMNode.element(id, "input", masked ? ["class": "secret"] : [:])
                let value = token(under: id)
                input.value = value
                input.attrs?["value"] = value
                input.attrs?["title"] = token(under: id)
                return input
            }
            var children: [DOMNode] = []
            let note = token(under: id)
            for _ in 0..<Int.random(in: 0...(depth < 3 ? 3 : 0), using: &generator) {
                if Bool.random(using: &generator) {
                    let textID = nextID
                    nextID += 1
                    nodes[textID] = Node(parent: id, masked: false, isText: true)
                    children.append(.text(textID, token(under: textID)))
                } else {
                    children.append(subtree(under: id, depth: depth + 1))
                }
            }
            return .element(id, ["div", "span", "p", "section"].randomElement(using: &generator)!,
                            masked ? ["class": "secret", "data-note": note] : ["data-note": note], children)
        }

        mutating func remove(_ id: Int) {
            for child in nodes.filter({ $0.value.parent == id }).map(\.key) { remove(child) }
            nodes[id] = nil
            content[id] = nil
        }
    }

    static let rules = CompiledPageRules(try! MaskingRules(json: Data(#"{"rules": [{"mask": [".secret"]}]}"#.utf8)).page(for: "https://x/"))

    @Test(arguments: 0..<40)
    func nothingWrittenInsideMaskedContentEverLeavesTheFilter(seed: UInt64) throws {
        var page = Page(generator: Generator(state: seed &* 7919 &+ 1))
        var stream = SessionStream()
        var seq = 1
        var out: [String] = []
        var view = View()
        /// Content that became masked, and the first output frame that must not show it.
        var hiddenFrom: [(token: String, frame: Int)] = []
        func process(_ event: StreamEvent) throws {
            for case let .view(frame) in stream.process(StreamFrame(seq: seq, event), rules: { _ in Self.rules }) {
                out.append(String(decoding: try JSONEncoder().encode(frame), as: UTF8.self))
                view.apply(frame.event)
            }
            seq += 1
        }
        let body = page.subtree(under: 2)
        try process(.snapshot(.init(url: "https://x/", viewport: Viewport(w: 1, h: 1),
                                    root: .element(1, "html", [:], [.element(2, "body", [:], [body])]))))
        for _ in 0..<60 {
            let elements = page.elements
            let target = elements.randomElement(using: &page.generator)!
            switch Int.random(in: 0..<5, using: &page.generator) {
            case 0: // a new subtree anywhere
                try process(.mutations(.init(adds: [.init(parent: target, node: page.subtree(under: target))])))
            case 1: // an element becomes masked (never unmasked here: that is a resync, tested elsewhere)
                guard target > 2, !(page.nodes[target]?.masked ?? true) else { continue }
                page.nodes[target]?.masked = true
                hiddenFrom += page.tokens(inside: target).map { ($0, out.count) }
                try process(.mutations(.init(attrs: [.init(id: target, name: "class", value: "secret")])))
            case 2: // text written into an existing text node
                guard let text = page.nodes.filter({ $0.value.isText }).map(\.key).sorted().randomElement(using: &page.generator)
                else { continue }
                page.content[text] = []
                try process(.mutations(.init(texts: [.init(id: text, text: page.token(under: text))])))
            case 3: // an unmasked subtree moves (remove + add under a new parent, new ids, as the SDK does)
                guard target > 2, !page.isMasked(target), let parent = elements.randomElement(using: &page.generator),
                      parent != target, !isInside(parent, target, page) else { continue }
                page.remove(target)
                try process(.mutations(.init(adds: [.init(parent: parent, node: page.subtree(under: parent))], removes: [.init(id: target)])))
            default: // an attribute written on an element
                try process(.mutations(.init(attrs: [.init(id: target, name: "aria-label", value: page.token(under: target))])))
            }
        }
        let everything = out.joined(separator: "\n")
        #expect(!page.secrets.isEmpty && out.count > 10, "the run exercised masking (\(page.secrets.count) secrets, \(out.count) frames)")
        let leaked = page.secrets.filter { everything.contains($0) }
        #expect(leaked.isEmpty, "seed \(seed) leaked \(leaked.sorted().prefix(5))")
        // What was public until its element became masked is not sent again, and is gone from
        // the agent's copy: the agent sees nothing that is masked now.
        let shownAgain = hiddenFrom.filter { hidden in out[hidden.frame...].contains { $0.contains(hidden.token) } }
        #expect(!hiddenFrom.isEmpty, "the run masked existing content")
        #expect(shownAgain.isEmpty, "seed \(seed) sent newly masked content again: \(shownAgain.prefix(3))")
        let maskedNow = page.nodes.keys.filter { page.isMasked($0) }.flatMap { page.content[$0] ?? [] }
        let onShow = view.everything
        let visible = maskedNow.filter { onShow.contains($0) }
        #expect(visible.isEmpty, "seed \(seed): the agent still sees masked content \(visible.prefix(3))")
        let publicNow = page.nodes.keys.filter { !page.isMasked($0) }.flatMap { page.content[$0] ?? [] }
        #expect(publicNow.isEmpty || publicNow.contains { onShow.contains($0) },
                "the agent's copy shows the public content (the model follows the stream)")
    }

    /// The agent's copy as the console keeps it, built from the frames the filter sent: each
    /// node's text, value and attributes by id, and its children.
    struct View {
        struct Node {
            var text: String?
            var value: String?
            var attrs: [String: String] = [:]
            var children: [Int] = []
            var strings: [String] { [text, value].compactMap { $0 } + Array(attrs.values) }
        }

        var nodes: [Int: Node] = [:]

        mutating func load(_ node: DOMNode) {
            nodes[node.id] = Node(text: node.text, value: node.value, attrs: node.attrs ?? [:], children: (node.children ?? []).map(\.id))
            for child in node.children ?? [] { load(child) }
        }

        mutating func remove(_ id: Int) {
            for child in nodes[id]?.children ?? [] { remove(child) }
            nodes[id] = nil
        }

        mutating func apply(_ event: StreamEvent) {
            switch event {
            case let .snapshot(snapshot):
                nodes = [:]
                load(snapshot.root)
            case let .mutations(mutations):
                for remove in mutations.removes { self.remove(remove.id) }
                for add in mutations.adds where nodes[add.parent] != nil {
                    load(add.node)
                    nodes[add.parent]?.children.append(add.node.id)
                }
                for attribute in mutations.attrs { nodes[attribute.id]?.attrs[attribute.name.lowercased()] = attribute.value }
                for text in mutations.texts { nodes[text.id]?.text = text.text }
            case let .input(input):
                if let value = input.value { nodes[input.id]?.value = value }
            default:
                break
            }
        }

        /// Every string the agent sees, anywhere.
        var everything: String { nodes.values.flatMap(\.strings).joined(separator: "\n") }
    }

    func isInside(_ node: Int, _ ancestor: Int, _ page: Page) -> Bool {
        var current: Int? = node
        while let id = current {
            if id == ancestor { return true }
            current = page.nodes[id]?.parent
        }
        return false
    }
}
