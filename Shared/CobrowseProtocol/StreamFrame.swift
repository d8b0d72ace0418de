import Foundation

/// What the sharer SDK sends, frame by frame; see docs/stream-protocol.md.
public enum StreamEvent: Sendable, Equatable {
    /// The whole page (`snapshot`); it starts a new sequence.
    public struct Snapshot: Sendable, Codable, Equatable {
        /// The page's URL.
        public var url: String
        /// The document's title.
        public var title: String?
        /// The doctype's name (`html`), nil when the document has none.
        public var doctype: String?
        /// The customer's viewport when the snapshot was taken.
        public var viewport: Viewport
        /// The page's scroll position.
        public var scroll: Point
        /// The document's root element.
        public var root: DOMNode
        /// CSS of the document's adopted (constructed) stylesheets.
        public var adoptedStyles: [String]?
        /// The sharer connection this sequence belongs to (a new one per socket): a relay's
        /// `paused` for an old connection must not pause the sequence of a newer one.
        public var stream: String?

        /// A snapshot; `adoptedStyles` and `stream` start nil.
        /// - Parameters:
        ///   - url: The page's URL.
        ///   - title: The document's title.
        ///   - doctype: The doctype's name.
        ///   - viewport: The customer's viewport.
        ///   - scroll: The page's scroll position.
        ///   - root: The root element.
        public init(url: String, title: String? = nil, doctype: String? = "html", viewport: Viewport, scroll: Point = Point(x: 0, y: 0),
                    root: DOMNode) {
            self.url = url
            self.title = title
            self.doctype = doctype
            self.viewport = viewport
            self.scroll = scroll
            self.root = root
        }
    }

    /// One MutationObserver callback's changes (`mutations`); or adds only: blocked elements and
    /// masked images, sent once laid out (with their `rect`).
    public struct Mutations: Sendable, Codable, Equatable {
        /// A node added.
        public struct Add: Sendable, Codable, Equatable {
            /// The new parent's id.
            public var parent: Int
            /// The sibling the node goes before; nil: appended.
            public var next: Int?
            /// The node, with its subtree.
            public var node: DOMNode

            /// An addition.
            /// - Parameters:
            ///   - parent: The new parent's id.
            ///   - next: The sibling it goes before; nil to append.
            ///   - node: The node.
            public init(parent: Int, next: Int? = nil, node: DOMNode) {
                self.parent = parent
                self.next = next
                self.node = node
            }
        }

        /// A node removed, with its subtree.
        public struct Remove: Sendable, Codable, Equatable {
            /// The removed node's id.
            public var id: Int
            /// A removal.
            /// - Parameter id: The removed node's id.
            public init(id: Int) { self.id = id }
        }

        /// An attribute set or removed.
        public struct Attribute: Sendable, Codable, Equatable {
            /// The element's id.
            public var id: Int
            /// The attribute's name.
            public var name: String
            /// nil: removed.
            public var value: String?

            /// An attribute change.
            /// - Parameters:
            ///   - id: The element's id.
            ///   - name: The attribute's name.
            ///   - value: Its new value; nil when removed.
            public init(id: Int, name: String, value: String?) {
                self.id = id
                self.name = name
                self.value = value
            }
        }

        /// A text or comment node's new text.
        public struct Text: Sendable, Codable, Equatable {
            /// The text or comment node's id.
            public var id: Int
            /// Its new text.
            public var text: String
            /// A text change.
            /// - Parameters:
            ///   - id: The node's id.
            ///   - text: Its new text.
            public init(id: Int, text: String) {
                self.id = id
                self.text = text
            }
        }

        /// Nodes added.
        public var adds: [Add]
        /// Nodes removed.
        public var removes: [Remove]
        /// Attributes changed.
        public var attrs: [Attribute]
        /// Texts changed.
        public var texts: [Text]

        /// A set of changes.
        /// - Parameters:
        ///   - adds: Nodes added.
        ///   - removes: Nodes removed.
        ///   - attrs: Attributes changed.
        ///   - texts: Texts changed.
        public init(adds: [Add] = [], removes: [Remove] = [], attrs: [Attribute] = [], texts: [Text] = []) {
            self.adds = adds
            self.removes = removes
            self.attrs = attrs
            self.texts = texts
        }
    }

    /// A form control's current value (`input`): one of `value`, `checked` or `selected`.
    public struct Input: Sendable, Codable, Equatable {
        /// The form control's id.
        public var id: Int
        /// A text field's or select's value (`****` when masked).
        public var value: String?
        /// A checkbox's or radio button's state.
        public var checked: Bool?
        /// A `<select>`'s selected options, by index.
        public var selected: [Int]?

        /// An input event.
        /// - Parameters:
        ///   - id: The control's id.
        ///   - value: A text field's value (`****` when masked).
        ///   - checked: A checkbox's or radio button's state.
        ///   - selected: A select's selected option indexes.
        public init(id: Int, value: String? = nil, checked: Bool? = nil, selected: [Int]? = nil) {
            self.id = id
            self.value = value
            self.checked = checked
            self.selected = selected
        }
    }

    /// A scroll position (`scroll`), throttled by the SDK.
    public struct Scroll: Sendable, Codable, Equatable {
        /// The scrolled element's id; 0 for the page.
        public var id: Int
        /// The horizontal scroll offset, in CSS pixels.
        public var x: Double
        /// The vertical scroll offset, in CSS pixels.
        public var y: Double

        /// A scroll position.
        /// - Parameters:
        ///   - id: The scrolled element's id; 0 for the page.
        ///   - x: Horizontal offset.
        ///   - y: Vertical offset.
        public init(id: Int, x: Double, y: Double) {
            self.id = id
            self.x = x
            self.y = y
        }
    }

    /// The customer's cursor (`cursor`) or a click (`click`), in page coordinates.
    public struct Pointer: Sendable, Codable, Equatable {
        /// Horizontal, in page coordinates.
        public var x: Double
        /// Vertical, in page coordinates.
        public var y: Double
        /// The element under the pointer (clicks).
        public var id: Int?

        /// A pointer position.
        /// - Parameters:
        ///   - x: Horizontal, in page coordinates.
        ///   - y: Vertical, in page coordinates.
        ///   - id: The element under the pointer, for clicks.
        public init(x: Double, y: Double, id: Int? = nil) {
            self.x = x
            self.y = y
            self.id = id
        }
    }

    /// Where the sharer was (`paused`, `resumed`).
    public struct Location: Sendable, Codable, Equatable {
        /// The page, when the sender knows it (a relay pausing a vanished sharer does not).
        public var url: String?
        /// The sharer connection that went away (its snapshot's `stream`).
        public var stream: String?

        /// A location.
        /// - Parameters:
        ///   - url: The page, if known.
        ///   - stream: The sharer connection that went away.
        public init(url: String?, stream: String? = nil) {
            self.url = url
            self.stream = stream
        }
    }

    /// The whole page.
    case snapshot(Snapshot)
    /// Changes to the page.
    case mutations(Mutations)
    /// A form control's value.
    case input(Input)
    /// A scroll position.
    case scroll(Scroll)
    /// The viewport resized, or the visual viewport moved or zoomed.
    case viewport(Viewport)
    /// The customer's cursor moved.
    case cursor(Pointer)
    /// The customer clicked.
    case click(Pointer)
    /// The sharer's socket went away (sent by its relay; refused from a sharer).
    case paused(Location)
    /// Reserved, and refused from a sharer: a snapshot after `paused` resumes the view.
    case resumed(Location)
    /// The filter dropped an agent action (view stream only; never accepted from a sharer).
    case actionDropped(DroppedAction)
    /// What the SDK's PII detectors masked since its last `detected` (sharer → filter only:
    /// counted in the session's masking record, never passed to viewers).
    case detected(Detected)

    /// The `detected` frame's content.
    public struct Detected: Sendable, Codable, Equatable {
        /// Detector name → values masked.
        public var hits: [String: Int]

        /// A detector report.
        /// - Parameter hits: Detector name → values masked.
        public init(hits: [String: Int]) { self.hits = hits }
    }

    /// The `action-dropped` frame's content: what the agent is told.
    public struct DroppedAction: Sendable, Codable, Equatable {
        /// The action's type (`click`, `type`, …).
        public var action: String
        /// Why it was dropped.
        public var reason: ActionRefusal
        /// A sentence for the agent (`ActionRefusal.message`).
        public var message: String

        /// A dropped action, with the reason's sentence as its message.
        /// - Parameters:
        ///   - action: The action's type.
        ///   - reason: Why it was dropped.
        public init(action: String, reason: ActionRefusal) {
            self.action = action
            self.reason = reason
            message = reason.message
        }
    }

    /// The frame's `t` for this event (`snapshot`, `action-dropped`, …).
    public var type: String {
        switch self {
        case .snapshot: "snapshot"
        case .mutations: "mutations"
        case .input: "input"
        case .scroll: "scroll"
        case .viewport: "viewport"
        case .cursor: "cursor"
        case .click: "click"
        case .paused: "paused"
        case .resumed: "resumed"
        case .actionDropped: "action-dropped"
        case .detected: "detected"
        }
    }
}

/// A frame on the wire: the event's fields flat, with `t` (its type) and `seq` (the sharer's
/// per-session sequence) or `vseq` (the filter's, on the view exchange).
public struct StreamFrame: Sendable, Equatable, Codable {
    /// The frame's place in its sequence (`seq`).
    public var seq: Int
    /// What the frame says.
    public var event: StreamEvent

    /// A frame.
    /// - Parameters:
    ///   - seq: Its place in the sequence.
    ///   - event: What it says.
    public init(seq: Int, _ event: StreamEvent) {
        self.seq = seq
        self.event = event
    }

    private enum Key: String, CodingKey { case t, seq }

    /// Reads a flat frame: `t`, `seq`, and the event's fields.
    /// - Parameter decoder: The decoder to read from.
    /// - Throws: `DecodingError` for an unknown `t`, or a missing or ill-typed field.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        seq = try c.decode(Int.self, forKey: .seq)
        switch try c.decode(String.self, forKey: .t) {
        case "snapshot": event = .snapshot(try StreamEvent.Snapshot(from: decoder))
        case "mutations": event = .mutations(try StreamEvent.Mutations(from: decoder))
        case "input": event = .input(try StreamEvent.Input(from: decoder))
        case "scroll": event = .scroll(try StreamEvent.Scroll(from: decoder))
        case "viewport": event = .viewport(try Viewport(from: decoder))
        case "cursor": event = .cursor(try StreamEvent.Pointer(from: decoder))
        case "click": event = .click(try StreamEvent.Pointer(from: decoder))
        case "paused": event = .paused(try StreamEvent.Location(from: decoder))
        case "resumed": event = .resumed(try StreamEvent.Location(from: decoder))
        case "action-dropped": event = .actionDropped(try StreamEvent.DroppedAction(from: decoder))
        case "detected": event = .detected(try StreamEvent.Detected(from: decoder))
        case let other: throw DecodingError.dataCorruptedError(forKey: .t, in: c, debugDescription: "unknown frame type '\(other)'")
        }
    }

    /// Writes the frame flat: `t`, `seq`, and the event's fields.
    /// - Parameter encoder: The encoder to write to.
    /// - Throws: What the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(event.type, forKey: .t)
        try c.encode(seq, forKey: .seq)
        switch event {
        case let .snapshot(v): try v.encode(to: encoder)
        case let .mutations(v): try v.encode(to: encoder)
        case let .input(v): try v.encode(to: encoder)
        case let .scroll(v): try v.encode(to: encoder)
        case let .viewport(v): try v.encode(to: encoder)
        case let .cursor(v), let .click(v): try v.encode(to: encoder)
        case let .paused(v), let .resumed(v): try v.encode(to: encoder)
        case let .actionDropped(v): try v.encode(to: encoder)
        case let .detected(v): try v.encode(to: encoder)
        }
    }
}

/// Sent to the sharer's relay on `cobrowse.sharer` when the filter needs a fresh snapshot.
public struct ResyncRequest: Sendable, Codable, Equatable {
    /// The message's type, always `resync`.
    public var t = "resync"
    /// Why a snapshot is needed (a viewer asked, a gap, a filter restarted, the rules changed).
    public var reason: String

    /// A resync request.
    /// - Parameter reason: Why a snapshot is needed.
    public init(reason: String) { self.reason = reason }
}
