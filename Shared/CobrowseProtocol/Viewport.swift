import Foundation

/// The customer's viewport: the layout viewport's size and, where the browser reports it, the
/// visual viewport (what a pinch-zoomed or keyboard-shrunk phone screen actually shows).
public struct Viewport: Sendable, Codable, Equatable {
    /// The layout viewport's width in CSS pixels (`innerWidth`).
    public var w: Double
    /// The layout viewport's height in CSS pixels (`innerHeight`).
    public var h: Double
    /// The visual viewport, where the browser has `window.visualViewport`; nil otherwise.
    public var visual: VisualViewport?

    /// A viewport.
    /// - Parameters:
    ///   - w: The layout viewport's width.
    ///   - h: The layout viewport's height.
    ///   - visual: The visual viewport, if known.
    public init(w: Double, h: Double, visual: VisualViewport? = nil) {
        self.w = w
        self.h = h
        self.visual = visual
    }
}

/// The visual viewport inside the layout viewport: its offset and size in the layout viewport's
/// CSS pixels, and the pinch-zoom scale. Refused when it cannot describe a screen.
public struct VisualViewport: Sendable, Codable, Equatable {
    /// Offset from the layout viewport's left edge (`visualViewport.offsetLeft`).
    public var x: Double
    /// Offset from the layout viewport's top edge (`visualViewport.offsetTop`).
    public var y: Double
    /// Width, in the layout viewport's CSS pixels; positive.
    public var w: Double
    /// Height, in the layout viewport's CSS pixels; positive.
    public var h: Double
    /// The pinch-zoom factor: 1 when not zoomed; in (0, `maximumScale`].
    public var scale: Double

    /// Pinch zoom beyond this is not a real screen (browsers stop at 5–10×).
    public static let maximumScale = 100.0

    /// A visual viewport, unchecked (decoding checks).
    /// - Parameters:
    ///   - x: Offset from the layout viewport's left edge.
    ///   - y: Offset from the layout viewport's top edge.
    ///   - w: Width.
    ///   - h: Height.
    ///   - scale: The pinch-zoom factor.
    public init(x: Double, y: Double, w: Double, h: Double, scale: Double) {
        self.x = x
        self.y = y
        self.w = w
        self.h = h
        self.scale = scale
    }

    private enum Key: String, CodingKey { case x, y, w, h, scale }

    /// Reads a visual viewport and refuses one that cannot describe a screen.
    /// - Parameter decoder: The decoder to read from.
    /// - Throws: `DecodingError` for a missing or non-number field, a `scale` outside
    ///   (0, `maximumScale`], or a `w` or `h` that is not positive.
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
