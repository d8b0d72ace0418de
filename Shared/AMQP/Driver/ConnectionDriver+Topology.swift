import CRabbitMQ

/// The connection thread's channels, declared topology and consumers: what callers declare is
/// recorded (RecordedTopology) so that a new connection declares it again, in order.
extension ConnectionDriver {
    func openChannel(_ channel: UInt16, on link: BrokerLink) throws {
        try link.openChannel(channel)
        channels.opened(channel)
    }

    func openRPCChannel(on link: BrokerLink) throws {
        try openChannel(ChannelPlan.rpc, on: link)
        try link.consume(queue: Self.replyToQueue, tag: Self.rpcConsumerTag, noAck: true, exclusive: false,
                         arguments: [:], channel: ChannelPlan.rpc)
    }

    /// Opens the fixed channels, then re-declares what was declared before, in order.
    func establish(on link: BrokerLink) throws {
        try openChannel(ChannelPlan.control, on: link)
        try openChannel(ChannelPlan.confirm, on: link)
        try link.enableConfirms(ChannelPlan.confirm)
        try openChannel(ChannelPlan.fast, on: link)
        try openRPCChannel(on: link)
        confirms = ConfirmTracker()
        assembler.dropAll()
        blockedByBroker = false
        for exchange in recorded.exchanges {
            try recover("exchange \(exchange.name)", on: link) { try link.declare(exchange, channel: ChannelPlan.control) }
        }
        for (original, queue) in recorded.queues {
            try recover("queue \(queue.name)", on: link) {
                let declared = try link.declare(queue, channel: ChannelPlan.control)
                recorded.queueNames[original] = declared.name
            }
        }
        for binding in recorded.bindings {
            try recover("binding \(binding.queue) ← \(binding.exchange)", on: link) {
                try link.bind(recorded.resolved(binding), channel: ChannelPlan.control)
            }
        }
        for consumer in consumers.values.sorted(by: { $0.channel < $1.channel }) {
            do {
                try openChannel(consumer.channel, on: link)
                try startConsumer(consumer, on: link)
            } catch let error as AMQPError {
                if case .channelClosedByBroker = error {
                    removeConsumer(consumer, error: error)
                } else {
                    throw error
                }
            }
        }
    }

    /// Runs one recovery step; a channel-level refusal is reported and the channel reopened.
    private func recover(_ what: String, on link: BrokerLink, _ step: () throws -> Void) throws {
        do {
            try step()
        } catch let error as AMQPError {
            guard case .channelClosedByBroker = error else { throw error }
            logger.error("could not recover \(what)", metadata: ["error": "\(error)"])
            status.emit(.recoveryFailed(what: what, error: error))
            try openChannel(ChannelPlan.control, on: link)
        }
    }

    func startConsumer(_ consumer: ConsumerRecord, on link: BrokerLink) throws {
        if !consumer.autoAck { try link.qos(prefetch: consumer.prefetch, channel: consumer.channel) }
        try link.consume(queue: recorded.resolvedQueue(consumer.queue), tag: consumer.tag, noAck: consumer.autoAck,
                         exclusive: consumer.exclusive, arguments: consumer.arguments, channel: consumer.channel)
    }

    func removeConsumer(_ consumer: ConsumerRecord, error: AMQPError?) {
        consumers[consumer.tag] = nil
        consumerByChannel[consumer.channel] = nil
        channels.release(consumer.channel)
        if let error { consumer.continuation.finish(throwing: error) } else { consumer.continuation.finish() }
    }

    /// Runs a control-channel operation; a channel error reopens the channel and is rethrown.
    func onControlChannel<T>(_ body: (BrokerLink) throws -> T) throws -> T {
        guard let link else { throw AMQPError.notConnected(waited: .zero, lastError: lastError?.description) }
        do {
            return try body(link)
        } catch let error as AMQPError {
            if case .channelClosedByBroker = error {
                try? openChannel(ChannelPlan.control, on: link)
            }
            throw error
        }
    }

    func declare(_ exchange: ExchangeDeclaration, passive: Bool) throws {
        try onControlChannel { try $0.declare(exchange, channel: ChannelPlan.control, passive: passive) }
        if !passive { recorded.add(exchange) }
    }

    func declare(_ queue: QueueDeclaration, passive: Bool) throws -> DeclaredQueue {
        var resolved = queue
        resolved.name = recorded.resolvedQueue(queue.name)
        let declared = try onControlChannel { try $0.declare(resolved, channel: ChannelPlan.control, passive: passive) }
        if !passive { recorded.add(queue, declaredAs: declared.name) }
        return declared
    }

    func bind(_ binding: QueueBinding) throws {
        try onControlChannel { try $0.bind(recorded.resolved(binding), channel: ChannelPlan.control) }
        recorded.bindings.insert(recorded.canonical(binding))
    }

    func unbind(_ binding: QueueBinding) throws {
        try onControlChannel { try $0.unbind(recorded.resolved(binding), channel: ChannelPlan.control) }
        recorded.bindings.remove(recorded.canonical(binding))
    }

    func deleteQueue(_ name: String) throws -> Int {
        let count = try onControlChannel { try $0.deleteQueue(recorded.resolvedQueue(name), channel: ChannelPlan.control) }
        recorded.removeQueue(name)
        return count
    }

    func purgeQueue(_ name: String) throws -> Int {
        try onControlChannel { try $0.purgeQueue(recorded.resolvedQueue(name), channel: ChannelPlan.control) }
    }

    func deleteExchange(_ name: String) throws {
        try onControlChannel { try $0.deleteExchange(name, channel: ChannelPlan.control) }
        recorded.removeExchange(name)
    }

    func startConsumer(_ consumer: ConsumerRecord) throws {
        guard let link else { throw AMQPError.notConnected(waited: .zero, lastError: lastError?.description) }
        consumer.queue = recorded.canonicalQueue(consumer.queue)
        consumer.channel = channels.consumerChannel()
        do {
            try openChannel(consumer.channel, on: link)
            try startConsumer(consumer, on: link)
        } catch {
            channels.release(consumer.channel)
            throw error
        }
        consumers[consumer.tag] = consumer
        consumerByChannel[consumer.channel] = consumer
    }

    func cancelConsumer(tag: String) {
        guard let consumer = consumers[tag] else { return }
        if let link, link.failure == nil {
            try? link.cancel(tag: tag, channel: consumer.channel)
            _ = amqp_channel_close(link.state, consumer.channel, 200)
        }
        channels.closed(consumer.channel)
        removeConsumer(consumer, error: nil)
    }
}
