/// A value that travels as its text form (a JSON string): parsed with `init?(_:)`, written as
/// `description`. Decoding text that does not parse fails with `expectedForm` in the message.
public protocol TextCodable: Codable, CustomStringConvertible {
    /// Parses the text form; nil when `text` is not one.
    /// - Parameter text: The text, as written by `description` or typed by a person.
    init?(_ text: String)
    /// What the text form looks like, in words ("a session id (nine digits)"), for decoding errors.
    static var expectedForm: String { get }
}

extension TextCodable {
    /// Decodes the value from a JSON string.
    /// - Parameter decoder: The decoder to read from.
    /// - Throws: `DecodingError.dataCorrupted` naming `expectedForm` when the string does not parse,
    ///   or `typeMismatch` when the value is not a string.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "'\(text)' is not \(Self.expectedForm)"))
        }
        self = value
    }

    /// Encodes the value as its `description`, a JSON string.
    /// - Parameter encoder: The encoder to write to.
    /// - Throws: What the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
