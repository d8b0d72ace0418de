import AMQP
import ArgumentParser
import CobrowseBroker
import CobrowseProtocol
import Foundation
import ServiceKit

extension InteractionEvent.Kind: ExpressibleByArgument {}
extension InteractionChannel: ExpressibleByArgument {}

/// `publish-event`: publishes a contact-center interaction event as the contact center would,
/// to try the interaction watch or to end an interaction's sessions by hand.
struct PublishEventCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish-event",
        abstract: "Publish an interaction event to \(CobrowseTopology.interactionsExchange).")

    @OptionGroup var options: CommonOptions

    @Option(help: "What happened to the interaction.") var type: InteractionEvent.Kind
    @Option(help: ArgumentHelp("The contact center's interaction id.", valueName: "id")) var interaction: String
    @Option(help: "The interaction's channel.") var channel: InteractionChannel
    @Option(help: ArgumentHelp("The agent handling the interaction after the event.", valueName: "id")) var agent: String?
    @Option(help: ArgumentHelp("When it happened, ISO 8601 (default: now).", valueName: "ISO8601")) var at: String?
    @Option(help: ArgumentHelp("The event's id, for logs.", valueName: "event-id")) var id: String?

    func validate() throws {
        guard !interaction.isEmpty, interaction.utf8.count <= 256 else {
            throw ValidationError("--interaction must be 1 to 256 bytes")
        }
        if let at, CobrowseDate.parse(at) == nil {
            throw ValidationError("--at '\(at)' is not an ISO 8601 instant (e.g. 2026-05-01T10:00:00Z)")
        }
    }

    func run() async throws {
        let event = InteractionEvent(id: id, type: type, interactionId: interaction, channel: channel, agentId: agent,
                                     at: at.flatMap(CobrowseDate.parse) ?? Date())
        var properties = AMQPProperties(contentType: "application/json", persistent: true, messageID: id)
        properties.appID = "cobrowse-ctl"
        let message = AMQPMessage(body: try JSONEncoder.cobrowse.encode(event), properties: properties)
        try await options.withConnection { connection in
            // Mandatory and confirmed: an event no queue receives, or the broker did not take,
            // is an error here rather than a silent loss.
            do {
                try await connection.publish(message, exchange: CobrowseTopology.interactionsExchange,
                                             routingKey: event.routingKey, mandatory: true)
            } catch AMQPError.returned {
                throw CtlError("no queue is bound to \(CobrowseTopology.interactionsExchange) for \(event.routingKey): "
                    + "the event was returned unroutable (is interaction-watch running on this virtual host?)")
            } catch let AMQPError.channelClosedByBroker(code, text) where code == 404 {
                throw CtlError("exchange \(CobrowseTopology.interactionsExchange) does not exist on this virtual host (\(code) \(text))")
            }
        }
        print("published \(type.rawValue) of interaction \(interaction) (\(channel.rawValue)) at \(CobrowseDate.format(event.at))"
            + " to \(CobrowseTopology.interactionsExchange) with key \(event.routingKey)")
    }
}
