/// A co-browse session id: nine decimal digits, read aloud by a customer to an agent.
public struct SessionID: Sendable, Hashable, TextCodable {
    /// How a session id looks, for decoding errors.
    public static let expectedForm = "a session id (nine digits)"

    /// The nine digits, as text (leading zeros kept).
    public let digits: String

    /// Accepts exactly nine ASCII digits (spaces and dashes a person may type are ignored).
    /// - Parameter text: The id as typed or sent.
    public init?(_ text: String) {
        let digits = text.filter { $0 != " " && $0 != "-" }
        guard digits.count == 9, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        self.digits = digits
    }

    /// A new id from the system's cryptographically secure generator (uniform, leading zeros allowed).
    public static func random() -> SessionID {
        var generator = SystemRandomNumberGenerator()
        let value = UInt32.random(in: 0..<1_000_000_000, using: &generator)
        let text = String(value)
        return SessionID(String(repeating: "0", count: 9 - text.count) + text)!
    }

    /// Routing key of this session on the topic exchanges (`s.<id>`).
    public var routingKey: String { "s.\(digits)" }

    /// The nine digits: the id's form in JSON and logs.
    public var description: String { digits }
}
