import AMQP
import CobrowseBroker
import CobrowseProtocol
import Hummingbird
import Logging
import ServiceKit

/// A registry command on behalf of an HTTP request (a beacon's end, an agent's voice code): the
/// registry's reply, or nothing when the broker or the registry does not answer, and then the
/// one 503 the browser gets for it.
enum RegistryOverHTTP {
    static var unavailable: Response {
        jsonResponse(.serviceUnavailable, RegistryRefusal(.unavailable, "the relay cannot reach the registry; try again"))
    }

    /// The reply to `command`, or nil (logged with `failure`) without a broker or an answer.
    static func reply(to command: RegistryCommand, over connection: AMQPConnection?, logger: Logger,
                      failure: Logger.Message, metadata: Logger.Metadata = [:]) async -> RegistryReply? {
        guard let connection else { return nil }
        do {
            return try await RegistryClient(connection: connection).send(command)
        } catch {
            logger.warning(failure, metadata: metadata.merging(["command": "\(command.name)", "error": "\(error)"]) { $1 })
            return nil
        }
    }
}
