import Foundation

/// A message arriving in frames: its method (a delivery or a return), then a header with the
/// properties and body size, then body fragments up to that size.
struct IncomingContent: Equatable {
    enum Kind: Equatable {
        case delivery(consumerTag: String, deliveryTag: UInt64, redelivered: Bool, exchange: String, routingKey: String)
        case returned(code: Int, text: String, exchange: String, routingKey: String)
    }

    let kind: Kind
    var properties = AMQPProperties()
    var expected = 0
    var body = Data()
}

/// Assembles each channel's content frames into whole messages. Pure: the connection thread
/// feeds it decoded frames and gets a message once its last byte arrived.
struct ContentAssembler {
    private var incoming: [UInt16: IncomingContent] = [:]

    /// A method that carries content began on `channel` (replacing any unfinished one there).
    mutating func begin(_ kind: IncomingContent.Kind, channel: UInt16) {
        incoming[channel] = IncomingContent(kind: kind)
    }

    /// The header frame: a message without body is complete at once.
    mutating func header(properties: AMQPProperties, bodySize: Int, channel: UInt16) -> IncomingContent? {
        guard var content = incoming[channel] else { return nil }
        content.properties = properties
        content.expected = bodySize
        content.body.reserveCapacity(bodySize)
        return settle(content, channel: channel)
    }

    /// A body frame's bytes; the message once they reach the size its header announced.
    mutating func body(_ fragment: UnsafeRawBufferPointer, channel: UInt16) -> IncomingContent? {
        guard var content = incoming[channel] else { return nil }
        content.body.append(contentsOf: fragment)
        return settle(content, channel: channel)
    }

    /// What was arriving on `channel` is void (the channel closed).
    mutating func drop(channel: UInt16) { incoming[channel] = nil }

    /// What was arriving on every channel is void (the connection is gone).
    mutating func dropAll() { incoming.removeAll() }

    /// Whether a message is partly arrived on `channel`.
    func isAssembling(channel: UInt16) -> Bool { incoming[channel] != nil }

    private mutating func settle(_ content: IncomingContent, channel: UInt16) -> IncomingContent? {
        if content.body.count >= content.expected {
            incoming[channel] = nil
            return content
        }
        incoming[channel] = content
        return nil
    }
}
