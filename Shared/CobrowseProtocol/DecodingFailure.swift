/// A decoding failure in one sentence a sender can act on ("missing field 'sessionID'"),
/// without echoing the input back.
/// - Parameter error: What decoding threw (a `DecodingError` or `InteractionEventError`).
/// - Returns: The sentence, naming the field's path where there is one; "invalid JSON" for
///   anything else.
public func describeDecodingFailure(_ error: any Error) -> String {
    switch error {
    case let DecodingError.keyNotFound(key, _): "missing field '\(key.stringValue)'"
    case let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context),
         let DecodingError.dataCorrupted(context):
        context.codingPath.isEmpty ? context.debugDescription
            : "field '\(context.codingPath.map(\.stringValue).joined(separator: "."))': \(context.debugDescription)"
    case let error as InteractionEventError: error.description
    default: "invalid JSON"
    }
}
