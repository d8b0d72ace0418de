import CRabbitMQ
import Foundation

/// The connection thread's reading: frames off the socket, methods acted on, content frames
/// assembled into deliveries, returns and RPC replies.
extension ConnectionDriver {
    func readFrames(_ link: BrokerLink) {
        var frame = amqp_frame_t()
        var count = 0
        do {
            // Bounded so a flood of deliveries cannot starve the caller's commands.
            while count < 4096, try link.nextFrame(into: &frame) {
                count += 1
                handle(frame, on: link)
                if link.failure != nil { break }
            }
        } catch {
            // nextFrame recorded the failure on the link.
        }
        link.releaseBuffers()
    }

    private func handle(_ frame: amqp_frame_t, on link: BrokerLink) {
        let channel = frame.channel
        let complete: IncomingContent?
        switch Int32(frame.frame_type) {
        case AMQP_FRAME_METHOD:
            handleMethod(frame.payload.method, channel: channel, on: link)
            return
        case AMQP_FRAME_HEADER:
            let header = frame.payload.properties
            complete = assembler.header(
                properties: AMQPProperties(amqp: header.decoded.assumingMemoryBound(to: amqp_basic_properties_t.self).pointee),
                bodySize: Int(header.body_size), channel: channel)
        case AMQP_FRAME_BODY:
            let fragment = frame.payload.body_fragment
            complete = assembler.body(UnsafeRawBufferPointer(start: fragment.bytes, count: fragment.len), channel: channel)
        default:
            return
        }
        if let complete { completeContent(complete, channel: channel) }
    }

    private func handleMethod(_ method: amqp_method_t, channel: UInt16, on link: BrokerLink) {
        switch method.id {
        case AMQPMethod.basicDeliver:
            let m = method.decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            assembler.begin(.delivery(
                consumerTag: String(amqp: m.consumer_tag), deliveryTag: m.delivery_tag, redelivered: m.redelivered != 0,
                exchange: String(amqp: m.exchange), routingKey: String(amqp: m.routing_key)), channel: channel)
        case AMQPMethod.basicReturn:
            let m = method.decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            assembler.begin(.returned(
                code: Int(m.reply_code), text: String(amqp: m.reply_text),
                exchange: String(amqp: m.exchange), routingKey: String(amqp: m.routing_key)), channel: channel)
        case AMQPMethod.basicAck where channel == ChannelPlan.confirm:
            let m = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            confirms.resolve(tag: m.delivery_tag, multiple: m.multiple != 0, ack: true)
        case AMQPMethod.basicNack where channel == ChannelPlan.confirm:
            let m = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            let before = confirms.outstanding
            confirms.resolve(tag: m.delivery_tag, multiple: m.multiple != 0, ack: false)
            publishFailures.increment(by: max(1, before - confirms.outstanding))
        case AMQPMethod.basicCancel:
            let m = method.decoded.assumingMemoryBound(to: amqp_basic_cancel_t.self).pointee
            let tag = String(amqp: m.consumer_tag)
            if let consumer = consumers[tag] {
                logger.warning("broker cancelled consumer", metadata: ["queue": "\(consumer.queue)"])
                // The channel stays open on the broker's side: close it before its number is
                // handed to the next consumer (opening an open channel ends the connection).
                _ = amqp_channel_close(link.state, channel, 200)
                channels.closed(channel)
                removeConsumer(consumer, error: .consumerCancelled(queue: consumer.queue))
            }
        case AMQPMethod.channelClose:
            let m = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            link.sendChannelCloseOK(channel)
            channelClosed(channel, error: .channelClosedByBroker(code: Int(m.reply_code), text: String(amqp: m.reply_text)), on: link)
        case AMQPMethod.connectionClose:
            let m = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            link.sendConnectionCloseOK()
            link.markFailed(.connectionClosedByBroker(code: Int(m.reply_code), text: String(amqp: m.reply_text)))
        case AMQPMethod.connectionBlocked:
            let m = method.decoded.assumingMemoryBound(to: amqp_connection_blocked_t.self).pointee
            blockedByBroker = true
            let reason = String(amqp: m.reason)
            logger.warning("broker blocked publishing", metadata: ["reason": "\(reason)"])
            status.emit(.blocked(reason: reason))
        case AMQPMethod.connectionUnblocked:
            blockedByBroker = false
            logger.info("broker unblocked publishing")
            status.emit(.unblocked)
        default:
            break
        }
    }

    private func completeContent(_ content: IncomingContent, channel: UInt16) {
        let message = AMQPMessage(body: content.body, properties: content.properties)
        switch content.kind {
        case let .delivery(consumerTag, deliveryTag, redelivered, exchange, routingKey):
            if channel == ChannelPlan.rpc {
                if let id = message.properties.correlationID, let request = rpcs.removeValue(forKey: id) {
                    request.complete(.success(message))
                } else {
                    logger.debug("RPC reply without a waiting caller (it timed out)")
                }
                return
            }
            // One consumer per channel: found by channel, the tag is only a cross-check.
            guard let consumer = consumerByChannel[channel], consumer.tag == consumerTag else { return }
            deliveries.increment()
            let target = consumer.autoAck ? nil
                : Settlement.Target(driver: self, channel: channel, epoch: channels.epoch(of: channel) ?? 0)
            consumer.continuation.yield(AMQPDelivery(message: message, exchange: exchange, routingKey: routingKey,
                                                     redelivered: redelivered, deliveryTag: deliveryTag, settlement: target))
        case let .returned(code, text, exchange, routingKey):
            let error = AMQPError.returned(code: code, text: text, exchange: exchange, routingKey: routingKey)
            switch channel {
            case ChannelPlan.confirm:
                if !confirms.markReturned(exchange: exchange, routingKey: routingKey, body: message.body, error: error) {
                    logger.warning("unmatched returned message", metadata: ["exchange": "\(exchange)", "routingKey": "\(routingKey)"])
                }
            case ChannelPlan.rpc:
                if let id = message.properties.correlationID, let request = rpcs.removeValue(forKey: id) {
                    request.complete(.failure(error))
                }
            default:
                // The fast path: nobody waits, so whoever published reads `returns` (or not).
                publishFailures.increment()
                if case .dropped = returnsContinuation.yield(AMQPReturnedMessage(message: message, error: error)) {
                    logger.warning("returned unroutable message", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// The broker closed one channel: fail what depended on it and reopen it.
    private func channelClosed(_ channel: UInt16, error: AMQPError, on link: BrokerLink) {
        logger.warning("broker closed channel", metadata: ["channel": "\(channel)", "error": "\(error)"])
        assembler.drop(channel: channel)
        do {
            switch channel {
            case ChannelPlan.confirm:
                confirms.failAll(error)
                try openChannel(channel, on: link)
                try link.enableConfirms(channel)
            case ChannelPlan.rpc:
                for request in rpcs.values { request.complete(.failure(error)) }
                rpcs.removeAll()
                try openRPCChannel(on: link)
            default:
                try openChannel(channel, on: link)
                if let consumer = consumerByChannel[channel] {
                    do {
                        try startConsumer(consumer, on: link)
                    } catch let failure as AMQPError {
                        removeConsumer(consumer, error: failure)
                    }
                }
            }
        } catch {
            link.markFailed(error as? AMQPError ?? .connectionLost(reason: "\(error)"))
        }
    }
}
