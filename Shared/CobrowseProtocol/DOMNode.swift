import Foundation

/// One node of a serialized page; `id` is the sharer SDK's mirror id for the live DOM node.
public struct DOMNode: Sendable, Codable, Equatable {
    /// The node's type.
    public enum Kind: String, Sendable, Codable {
        /// An element; a text node; a comment.
        case element, text, comment
    }

    /// The SDK's mirror id of the node: never reused within a page.
    public var id: Int
    /// Element, text or comment.
    public var type: Kind
    /// Lower-case tag name (elements).
    public var tag: String?
    /// An element's attributes (never `on*`, `srcdoc` or `javascript:` URLs; URLs made absolute).
    public var attrs: [String: String]?
    /// An element's child nodes, in order.
    public var children: [DOMNode]?
    /// Text of text and comment nodes, and of `<style>` elements' CSS.
    public var text: String?
    /// A form control's current value (the property, which can differ from the attribute).
    public var value: String?
    /// A checkbox's or radio button's current state.
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

    /// A node; the fields not among the parameters start nil.
    /// - Parameters:
    ///   - id: The mirror id.
    ///   - type: Element, text or comment.
    ///   - tag: An element's lower-case tag name.
    ///   - attrs: An element's attributes.
    ///   - children: An element's child nodes.
    ///   - text: A text or comment node's text.
    ///   - value: A form control's current value.
    ///   - checked: A checkbox's or radio button's state.
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

    /// An element node.
    /// - Parameters:
    ///   - id: The mirror id.
    ///   - tag: The lower-case tag name.
    ///   - attrs: Its attributes.
    ///   - children: Its child nodes.
    public static func element(_ id: Int, _ tag: String, _ attrs: [String: String] = [:], _ children: [DOMNode] = []) -> DOMNode {
        DOMNode(id: id, type: .element, tag: tag, attrs: attrs, children: children)
    }

    /// A text node.
    /// - Parameters:
    ///   - id: The mirror id.
    ///   - text: Its text.
    public static func text(_ id: Int, _ text: String) -> DOMNode {
        DOMNode(id: id, type: .text, text: text)
    }
}

/// A position in CSS pixels: page coordinates, or a scroll offset.
public struct Point: Sendable, Codable, Equatable {
    /// Horizontal, from the left.
    public var x: Double
    /// Vertical, from the top.
    public var y: Double

    /// A point.
    /// - Parameters:
    ///   - x: Horizontal, from the left.
    ///   - y: Vertical, from the top.
    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }
}

/// A width and height in CSS pixels.
public struct Size: Sendable, Codable, Equatable {
    /// The width.
    public var w: Double
    /// The height.
    public var h: Double

    /// A size.
    /// - Parameters:
    ///   - w: The width.
    ///   - h: The height.
    public init(w: Double, h: Double) {
        self.w = w
        self.h = h
    }
}
