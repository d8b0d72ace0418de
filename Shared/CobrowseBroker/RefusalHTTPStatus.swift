import CobrowseProtocol
import Hummingbird

extension RegistryRefusal {
    /// The HTTP status an HTTP endpoint answers this refusal with.
    public var httpStatus: HTTPResponse.Status {
        switch code {
        case .unknownSession: .notFound
        case .sessionEnded: .conflict
        case .notAllowed: .forbidden
        case .unavailable: .serviceUnavailable
        case .tooManyAttempts, .tooManyCodes: .tooManyRequests
        case .codeUnknown: .notFound
        case .codeExpired, .codeUsed: .gone
        default: .badRequest
        }
    }
}
