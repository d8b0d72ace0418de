/// A value that travels as its text form (a JSON string): parsed with `init?(_:)`, written as
/// `description`. Decoding text that does not parse fails with `expectedForm` in the message.
public protocol TextCodable: Codable, CustomStringConvertible {
    init?(_ text: String)
    static var expectedForm: String { get }
}

extension TextCodable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "'\(text)' is not \(Self.expectedForm)"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
