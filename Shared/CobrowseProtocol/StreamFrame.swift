import Foundation

/// One node of a serialized page; `id` is the sharer SDK's mirror id for the live DOM node.
public struct DOMNode: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case element, text, comment
    }

    public var id: Int
    public var type: Kind
    /// Lower-case tag name (elements).
    public var tag: String?
    public var attrs: [String: String]?
    public var children: [DOMNode]?
    /// Text of text and comment nodes, and of `<style>` elements' CSS.
    public var text: String?
    /// A form control's current value (the property, which can differ from the attribute).
    public var value: String?
    public var checked: Bool?
    /// An element's scroll position, when scrolled.
    public var scroll: Point?
    /// Children of an open shadow root.
    public var shadow: [DOMNode]?
    /// A same-origin `<iframe>`'s document: its children (the root element, comments), with
    /// ids from the same mirror, so changes inside name them like any other node.
    public var frame: [DOMNode]?
    /// CSS of the shadow root's adopted (constructed) stylesheets.
    public var adoptedStyles: [String]?
    /// Rendered size, sent for blocked elements and masked images so the agent sees a box
    /// of the same size in their place.
    public var rect: Size?

    public init(id: Int, type: Kind, tag: String? = nil, attrs: [String: String]? = nil, children: [DOMNode]? = nil,
                text: String? = nil, value: String? = nil, checked: Bool? = nil) {
        self.id = id
        self.type = type
        self.tag = tag
        self.attrs = attrs
        self.children = children
        self.text = text
        self.value = value
        self.checked = checked
    }

    public static func element(_ id: Int, _ tag: String, _ attrs: [String: String] = [:], _ children: [DOMNode] = []) -> DOMNode {
        DOMNode(id: id, type: .element, tag: tag, attrs: attrs, children: children)
    }

    public static func text(_ id: Int, _ text: String) -> DOMNode {
        DOMNode(id: id, type: .text, text: text)
    }
}

public struct Point: Sendable, Codable, Equatable {
    public var x: Double
    public var y: Double

    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }
}

public struct Size: Sendable, Codable, Equatable {
    public var w: Double
    public var h: Double

    public init(w: Double, h: Double) {
        self.w = w
        self.h = h
    }
}

/// The customer's viewport: the layout viewport's size and, where the browser reports it, the
/// visual viewport (what a pinch-zoomed or keyboard-shrunk phone screen actually shows).
public struct Viewport: Sendable, Codable, Equatable {
    public var w: Double
    public var h: Double
    public var visual: VisualViewport?

    public init(w: Double, h: Double, visual: VisualViewport? = nil) {
        self.w = w
        self.h = h
        self.visual = visual
    }
}

/// The visual viewport inside the layout viewport: its offset and size in the layout viewport's
/// CSS pixels, and the pinch-zoom scale. Refused when it cannot describe a screen.
public struct VisualViewport: Sendable, Codable, Equatable {
    public var x: Double
    public var y: Double
    public var w: Double
    public var h: Double
    public var scale: Double

    /// Pinch zoom beyond this is not a real screen (browsers stop at 5–10×).
    public static let maximumScale = 100.0

    public init(x: Double, y: Double, w: Double, h: Double, scale: Double) {
        self.x = x
        self.y = y
        self.w = w
        self.h = h
        self.scale = scale
    }

    private enum Key: String, CodingKey { case x, y, w, h, scale }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        self.init(x: try c.decode(Double.self, forKey: .x), y: try c.decode(Double.self, forKey: .y),
                  w: try c.decode(Double.self, forKey: .w), h: try c.decode(Double.self, forKey: .h),
                  scale: try c.decode(Double.self, forKey: .scale))
        guard scale > 0, scale <= Self.maximumScale else {
            throw DecodingError.dataCorruptedError(forKey: .scale, in: c,
                                                   debugDescription: "visual viewport scale must be in (0, \(Self.maximumScale)]")
        }
        guard w > 0, h > 0 else {
            throw DecodingError.dataCorruptedError(forKey: .w, in: c, debugDescription: "visual viewport size must be positive")
        }
    }
}

/// What the sharer SDK sends, frame by frame; see docs/stream-protocol.md.
public enum StreamEvent: Sendable, Equatable {
    public struct Snapshot: Sendable, Codable, Equatable {
        public var url: String
        public var title: String?
        public var doctype: String?
        public var viewport: Viewport
        public var scroll: Point
        public var root: DOMNode
        /// CSS of the document's adopted (constructed) stylesheets.
        public var adoptedStyles: [String]?
        /// The sharer connection this sequence belongs to (a new one per socket): a relay's
        /// `paused` for an old connection must not pause the sequence of a newer one.
        public var stream: String?

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

    public struct Mutations: Sendable, Codable, Equatable {
        public struct Add: Sendable, Codable, Equatable {
            public var parent: Int
            /// The sibling the node goes before; nil: appended.
            public var next: Int?
            public var node: DOMNode

            public init(parent: Int, next: Int? = nil, node: DOMNode) {
                self.parent = parent
                self.next = next
                self.node = node
            }
        }

        public struct Remove: Sendable, Codable, Equatable {
            public var id: Int
            public init(id: Int) { self.id = id }
        }

        public struct Attribute: Sendable, Codable, Equatable {
            public var id: Int
            public var name: String
            /// nil: removed.
            public var value: String?

            public init(id: Int, name: String, value: String?) {
                self.id = id
                self.name = name
                self.value = value
            }
        }

        public struct Text: Sendable, Codable, Equatable {
            public var id: Int
            public var text: String
            public init(id: Int, text: String) {
                self.id = id
                self.text = text
            }
        }

        public var adds: [Add]
        public var removes: [Remove]
        public var attrs: [Attribute]
        public var texts: [Text]

        public init(adds: [Add] = [], removes: [Remove] = [], attrs: [Attribute] = [], texts: [Text] = []) {
            self.adds = adds
            self.removes = removes
            self.attrs = attrs
            self.texts = texts
        }
    }

    public struct Input: Sendable, Codable, Equatable {
        public var id: Int
        public var value: String?
        public var checked: Bool?
        public var selected: [Int]?

        public init(id: Int, value: String? = nil, checked: Bool? = nil, selected: [Int]? = nil) {
            self.id = id
            self.value = value
            self.checked = checked
            self.selected = selected
        }
    }

    public struct Scroll: Sendable, Codable, Equatable {
        /// 0: the page.
        public var id: Int
        public var x: Double
        public var y: Double

        public init(id: Int, x: Double, y: Double) {
            self.id = id
            self.x = x
            self.y = y
        }
    }

    public struct Pointer: Sendable, Codable, Equatable {
        public var x: Double
        public var y: Double
        /// The element under the pointer (clicks).
        public var id: Int?

        public init(x: Double, y: Double, id: Int? = nil) {
            self.x = x
            self.y = y
            self.id = id
        }
    }

    public struct Location: Sendable, Codable, Equatable {
        /// The page, when the sender knows it (a relay pausing a vanished sharer does not).
        public var url: String?
        /// The sharer connection that went away (its snapshot's `stream`).
        public var stream: String?

        public init(url: String?, stream: String? = nil) {
            self.url = url
            self.stream = stream
        }
    }

    case snapshot(Snapshot)
    case mutations(Mutations)
    case input(Input)
    case scroll(Scroll)
    case viewport(Viewport)
    case cursor(Pointer)
    case click(Pointer)
    case paused(Location)
    case resumed(Location)
    /// The filter dropped an agent action (view stream only; never accepted from a sharer).
    case actionDropped(DroppedAction)
    /// What the SDK's PII detectors masked since its last `detected` (sharer → filter only:
    /// counted in the session's masking record, never passed to viewers).
    case detected(Detected)

    public struct Detected: Sendable, Codable, Equatable {
        /// Detector name → values masked.
        public var hits: [String: Int]

        public init(hits: [String: Int]) { self.hits = hits }
    }

    public struct DroppedAction: Sendable, Codable, Equatable {
        /// The action's type (`click`, `type`, …).
        public var action: String
        public var reason: ActionRefusal
        public var message: String

        public init(action: String, reason: ActionRefusal) {
            self.action = action
            self.reason = reason
            message = reason.message
        }
    }

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
    public var seq: Int
    public var event: StreamEvent

    public init(seq: Int, _ event: StreamEvent) {
        self.seq = seq
        self.event = event
    }

    private enum Key: String, CodingKey { case t, seq }

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
    public var t = "resync"
    public var reason: String

    public init(reason: String) { self.reason = reason }
}
