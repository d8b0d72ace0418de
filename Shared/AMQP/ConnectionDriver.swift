import CRabbitMQ
import CRabbitMQShim
import Foundation
import Logging
import Metrics
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A unit of work run on the connection thread while connected.
struct Operation {
    let name: String
    /// While disconnected the operation waits until this instant, then fails with `notConnected`.
    let deadline: ContinuousClock.Instant
    /// Runs on the connection thread; responsible for completing its caller.
    let perform: (ConnectionDriver) -> Void
    let fail: (AMQPError) -> Void
}

/// A message handed to the connection thread.
struct PublishRequest {
    let message: AMQPMessage
    let exchange: String
    let routingKey: String
    let mandatory: Bool
    /// nil: the fast path, nobody waits for a confirm.
    let waiter: ConfirmWaiter?
    let deadline: ContinuousClock.Instant
}

/// Commands cross from callers to the connection thread exactly once through the mailbox lock;
/// their closures run only on that thread, so handing them over is safe.
enum Command: @unchecked Sendable {
    case publish(PublishRequest)
    case settle(Settlement)
    case operation(Operation)
    case rpc(RPCRequest)
    case close(CheckedContinuation<Void, Never>)

    var deadline: ContinuousClock.Instant? {
        switch self {
        case let .publish(request): request.deadline
        case let .operation(operation): operation.deadline
        case let .rpc(request): request.deadline
        case .settle, .close: nil
        }
    }

    func fail(_ error: AMQPError) {
        switch self {
        case let .publish(request):
            if let waiter = request.waiter {
                waiter.complete(.failure(error))
            } else {
                ConnectionDriver.droppedUnconfirmed(request, error)
            }
        case let .operation(operation): operation.fail(error)
        case let .rpc(request): request.complete(.failure(error))
        case .settle: break // the broker redelivers unsettled messages
        case let .close(continuation): continuation.resume()
        }
    }
}

/// A request awaiting its reply over direct reply-to.
struct RPCRequest {
    let message: AMQPMessage
    let exchange: String
    let routingKey: String
    let correlationID: String
    let deadline: ContinuousClock.Instant
    let timeout: Duration
    let complete: (Result<AMQPMessage, AMQPError>) -> Void
}

/// One consumer, remembered so it can be re-established after a reconnect.
final class ConsumerRecord {
    let tag: String
    var queue: String
    let prefetch: UInt16
    let autoAck: Bool
    let exclusive: Bool
    let arguments: AMQPTable
    let continuation: AsyncThrowingStream<AMQPDelivery, any Error>.Continuation
    var channel: UInt16 = 0

    init(tag: String, queue: String, prefetch: UInt16, autoAck: Bool, exclusive: Bool, arguments: AMQPTable,
         continuation: AsyncThrowingStream<AMQPDelivery, any Error>.Continuation) {
        self.tag = tag
        self.queue = queue
        self.prefetch = prefetch
        self.autoAck = autoAck
        self.exclusive = exclusive
        self.arguments = arguments
        self.continuation = continuation
    }
}

/// Runs one AMQP connection on a dedicated thread (rabbitmq-c is not thread-safe).
///
/// Callers submit commands into a mailbox and the thread wakes through an eventfd; the thread
/// otherwise sleeps in poll(2) on the socket with a bounded timeout, so heartbeats and
/// deadlines are always serviced. When the connection drops, the thread reconnects with capped
/// exponential backoff, re-declares the recorded topology and re-establishes consumers.
final class ConnectionDriver: @unchecked Sendable {
    // Channel plan: one per job, so a channel error in one job cannot take down another.
    static let controlChannel: UInt16 = 1
    static let confirmChannel: UInt16 = 2
    static let fastChannel: UInt16 = 3
    static let rpcChannel: UInt16 = 4
    static let firstConsumerChannel: UInt16 = 10
    static let replyToQueue = "amq.rabbitmq.reply-to"
    static let rpcConsumerTag = "cobrowse-rpc-replies"
    static let maxMailbox = 65_536
    /// Returned messages nobody has read yet; beyond it they are logged and dropped.
    static let maxReturnsWaiting = 4_096

    private struct Mailbox {
        var commands: [Command] = []
        var sleeping = false
        var closed = false
    }

    let configuration: AMQPConfiguration
    let logger: Logger
    let status: ConnectionStatus
    /// Mandatory messages of the fast path that the broker could not route (basic.return).
    let returns: AsyncStream<AMQPReturnedMessage>
    private let returnsContinuation: AsyncStream<AMQPReturnedMessage>.Continuation
    private let mailbox = Mutex(Mailbox())
    private let wakeFD: Int32

    // Everything below belongs to the connection thread.
    private var link: BrokerLink?
    private var deferred: [Command] = []
    private var blockedByBroker = false
    private var closing: CheckedContinuation<Void, Never>?
    /// Set when the connection is gone for good without a close() (reconnect disabled).
    private var stopped = false
    private var lastError: AMQPError?
    private var reconnectAttempt = 0
    /// Which of `configuration.endpoints` to try first: the node last connected to, or after
    /// losing it, the next one (its node may have died; the cluster's others hold the queues).
    private var endpointIndex = 0
    private var confirms = ConfirmTracker()
    private var rpcs: [String: RPCRequest] = [:]
    private var consumers: [String: ConsumerRecord] = [:]
    private var consumerByChannel: [UInt16: ConsumerRecord] = [:]
    private var nextConsumerChannel = ConnectionDriver.firstConsumerChannel
    private var freeConsumerChannels: [UInt16] = []
    private var channelEpoch: [UInt16: UInt64] = [:]
    private var epochCounter: UInt64 = 0
    private var incoming: [UInt16: IncomingContent] = [:]
    private var recorded = RecordedTopology()

    private let publishedConfirmed: Counter
    private let publishedUnconfirmed: Counter
    private let publishFailures: Counter
    private let deliveries: Counter
    private let reconnects: Counter
    private let connectedGauge: Gauge

    init(configuration: AMQPConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.status = ConnectionStatus()
        (returns, returnsContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingOldest(Self.maxReturnsWaiting))
        self.wakeFD = cobrowse_wake_fd()
        let name = configuration.connectionName ?? ProcessInfo.processInfo.processName
        publishedConfirmed = Counter(label: "amqp_published_total", dimensions: [("connection", name), ("confirm", "true")])
        publishedUnconfirmed = Counter(label: "amqp_published_total", dimensions: [("connection", name), ("confirm", "false")])
        publishFailures = Counter(label: "amqp_publish_failures_total", dimensions: [("connection", name)])
        deliveries = Counter(label: "amqp_deliveries_total", dimensions: [("connection", name)])
        reconnects = Counter(label: "amqp_reconnects_total", dimensions: [("connection", name)])
        connectedGauge = Gauge(label: "amqp_connected", dimensions: [("connection", name)])
    }

    deinit {
        close(wakeFD)
    }

    // MARK: Caller side (any thread)

    /// Starts the thread and makes the first connection; throws if that first attempt fails.
    func start() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let thread = Thread { [self] in
                do {
                    try self.connect()
                    continuation.resume()
                } catch {
                    self.mailbox.withLock { $0.closed = true }
                    self.status.set(.closed, error: error as? AMQPError)
                    continuation.resume(throwing: error)
                    return
                }
                self.run()
            }
            thread.name = "amqp \(configuration.connectionName ?? configuration.endpointDescription)"
            thread.start()
        }
    }

    /// Hands a command to the connection thread; fails it at once if the connection is closed.
    func submit(_ command: Command) {
        let (accepted, wake) = mailbox.withLock { box -> (Bool, Bool) in
            guard !box.closed else { return (false, false) }
            box.commands.append(command)
            let wake = box.sleeping
            box.sleeping = false
            return (true, wake)
        }
        if !accepted { command.fail(.closed) }
        if wake { signal() }
    }

    /// Submits a fast-path publish unless the mailbox is full (back-pressure for the caller).
    func trySubmitPublish(_ request: PublishRequest) -> Bool? {
        let (result, wake) = mailbox.withLock { box -> (Bool?, Bool) in
            guard !box.closed else { return (nil, false) }
            guard box.commands.count < Self.maxMailbox else { return (false, false) }
            box.commands.append(.publish(request))
            let wake = box.sleeping
            box.sleeping = false
            return (true, wake)
        }
        if wake { signal() }
        return result
    }

    private func signal() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    // MARK: Thread: main loop

    private func run() {
        while closing == nil && !stopped {
            guard let link else {
                reconnect()
                continue
            }
            processMailbox(link)
            if link.failure == nil { readFrames(link) }
            if let failure = link.failure, closing == nil {
                connectionLost(failure)
                continue
            }
            expireRPCs()
            if closing == nil { sleep(link) }
        }
        shutdown()
    }

    /// Opens a link to the first node that answers, trying each once from `endpointIndex`,
    /// and brings the recorded topology and consumers back there.
    private func connect() throws {
        let endpoints = configuration.endpoints
        var failure: any Error = AMQPError.closed
        for offset in 0..<endpoints.count {
            let index = (endpointIndex + offset) % endpoints.count
            let node = configuration.at(endpoints[index])
            do {
                let link = try BrokerLink(configuration: node)
                try establish(on: link)
                self.link = link
                endpointIndex = index
                lastError = nil
                connectedGauge.record(1)
                status.set(.connected, error: nil)
                logger.info("AMQP connected", metadata: ["endpoint": "\(node.endpointDescription)"])
                return
            } catch {
                failure = error
                if endpoints.count > 1 {
                    logger.info("AMQP node unavailable; trying the next", metadata: ["endpoint": "\(node.endpointDescription)", "error": "\(error)"])
                }
            }
        }
        throw failure
    }

    private func takeMailbox() -> [Command] {
        mailbox.withLock { box in
            let commands = box.commands
            box.commands = []
            return commands
        }
    }

    private func processMailbox(_ link: BrokerLink) {
        var batch = deferred.isEmpty || blockedByBroker ? takeMailbox() : deferred + takeMailbox()
        if !blockedByBroker { deferred = [] }
        var published = (confirmed: 0, unconfirmed: 0)
        var index = 0
        while index < batch.count {
            if link.failure != nil {
                deferred.append(contentsOf: batch[index...])
                break
            }
            let command = batch[index]
            index += 1
            switch command {
            case let .publish(request):
                if blockedByBroker {
                    deferred.append(command)
                    continue
                }
                if publish(request, on: link) {
                    if request.waiter == nil { published.unconfirmed += 1 } else { published.confirmed += 1 }
                } else {
                    deferred.append(command) // not written: goes out after the reconnect
                }
            case let .settle(settlement):
                settle(settlement, on: link)
            case let .operation(operation):
                operation.perform(self)
            case let .rpc(request):
                if blockedByBroker {
                    deferred.append(command)
                    continue
                }
                sendRPC(request, on: link)
            case let .close(continuation):
                closing = continuation
                deferred.append(contentsOf: batch[index...])
                index = batch.count
            }
        }
        batch.removeAll()
        if published.confirmed > 0 { publishedConfirmed.increment(by: published.confirmed) }
        if published.unconfirmed > 0 { publishedUnconfirmed.increment(by: published.unconfirmed) }
    }

    private func publish(_ request: PublishRequest, on link: BrokerLink) -> Bool {
        let channel = request.waiter == nil ? Self.fastChannel : Self.confirmChannel
        guard link.publish(request.message, exchange: request.exchange, routingKey: request.routingKey,
                           mandatory: request.mandatory, channel: channel) else { return false }
        if channel == Self.confirmChannel { confirms.published(request.waiter) }
        return true
    }

    private func settle(_ settlement: Settlement, on link: BrokerLink) {
        // A tag from an earlier incarnation of the channel would close the new one (406).
        guard channelEpoch[settlement.channel] == settlement.epoch else { return }
        switch settlement.kind {
        case let .ack(multiple): _ = link.ack(tag: settlement.tag, multiple: multiple, channel: settlement.channel)
        case let .nack(multiple, requeue):
            _ = link.nack(tag: settlement.tag, multiple: multiple, requeue: requeue, channel: settlement.channel)
        case let .reject(requeue): _ = link.reject(tag: settlement.tag, requeue: requeue, channel: settlement.channel)
        }
    }

    private func sendRPC(_ request: RPCRequest, on link: BrokerLink) {
        var message = request.message
        message.properties.replyTo = Self.replyToQueue
        message.properties.correlationID = request.correlationID
        if link.publish(message, exchange: request.exchange, routingKey: request.routingKey, mandatory: true,
                        channel: Self.rpcChannel) {
            rpcs[request.correlationID] = request
        } else {
            deferred.append(.rpc(request))
        }
    }

    private func expireRPCs() {
        guard !rpcs.isEmpty else { return }
        let now = ContinuousClock.now
        var expired = 0
        for (id, request) in rpcs where request.deadline <= now {
            rpcs[id] = nil
            expired += 1
            request.complete(.failure(.timedOut(operation: "RPC to '\(request.routingKey)'", after: request.timeout)))
        }
        if expired > 0, let link, link.failure == nil { renewRPCChannel(on: link) }
    }

    /// A request nobody answered may be the channel's fault, not the server's: RabbitMQ 3.10
    /// never delivers to a channel whose first publish to a quorum queue came just as the queue's
    /// leader died (the cluster fault suite saw every later request on it time out). A new
    /// channel costs a round trip; the replies still owed on the old one are lost with it (their
    /// requests time out in turn).
    private func renewRPCChannel(on link: BrokerLink) {
        logger.info("an RPC timed out: opening a new RPC channel")
        _ = amqp_channel_close(link.state, Self.rpcChannel, 200)
        for (id, request) in rpcs {
            rpcs[id] = nil
            request.complete(.failure(.connectionLost(reason: "the RPC channel was renewed after a timeout")))
        }
        do {
            try openRPCChannel(on: link)
        } catch let error as AMQPError {
            link.markFailed(error) // reconnect: every channel anew
        } catch {
            link.markFailed(.library(operation: "renew RPC channel", reason: "\(error)"))
        }
    }

    /// Sleeps in poll(2) until the socket is readable, a command arrives, or a timer is due.
    private func sleep(_ link: BrokerLink) {
        if link.hasBufferedInput { return }
        let mayWait = mailbox.withLock { box -> Bool in
            guard box.commands.isEmpty else { return false }
            box.sleeping = true
            return true
        }
        guard mayWait else { return }
        // At most 250 ms: heartbeats, RPC deadlines and TLS-buffered bytes are checked that often.
        var timeoutMS: Int32 = 250
        if let next = rpcs.values.map(\.deadline).min() {
            let remaining = ContinuousClock.now.duration(to: next)
            timeoutMS = max(0, min(timeoutMS, Int32(remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000)))
        }
        var fds = [pollfd(fd: link.socketDescriptor, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
        _ = poll(&fds, 2, timeoutMS)
        if fds[1].revents != 0 {
            var value: UInt64 = 0
            _ = read(wakeFD, &value, 8)
        }
        mailbox.withLock { $0.sleeping = false }
    }

    // MARK: Thread: incoming frames

    private struct IncomingContent {
        enum Kind {
            case delivery(consumerTag: String, deliveryTag: UInt64, redelivered: Bool, exchange: String, routingKey: String)
            case returned(code: Int, text: String, exchange: String, routingKey: String)
        }

        let kind: Kind
        var properties = AMQPProperties()
        var expected = 0
        var body = Data()
    }

    private func readFrames(_ link: BrokerLink) {
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
        switch Int32(frame.frame_type) {
        case AMQP_FRAME_METHOD:
            handleMethod(frame.payload.method, channel: channel, on: link)
        case AMQP_FRAME_HEADER:
            guard var content = incoming[channel] else { return }
            let header = frame.payload.properties
            content.properties = AMQPProperties(amqp: header.decoded.assumingMemoryBound(to: amqp_basic_properties_t.self).pointee)
            content.expected = Int(header.body_size)
            content.body.reserveCapacity(content.expected)
            if content.expected == 0 {
                incoming[channel] = nil
                completeContent(content, channel: channel)
            } else {
                incoming[channel] = content
            }
        case AMQP_FRAME_BODY:
            guard var content = incoming[channel] else { return }
            let fragment = frame.payload.body_fragment
            if fragment.len > 0 { content.body.append(fragment.bytes.assumingMemoryBound(to: UInt8.self), count: fragment.len) }
            if content.body.count >= content.expected {
                incoming[channel] = nil
                completeContent(content, channel: channel)
            } else {
                incoming[channel] = content
            }
        default:
            break
        }
    }

    private func handleMethod(_ method: amqp_method_t, channel: UInt16, on link: BrokerLink) {
        switch method.id {
        case AMQPMethod.basicDeliver:
            let m = method.decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            incoming[channel] = IncomingContent(kind: .delivery(
                consumerTag: String(amqp: m.consumer_tag), deliveryTag: m.delivery_tag, redelivered: m.redelivered != 0,
                exchange: String(amqp: m.exchange), routingKey: String(amqp: m.routing_key)))
        case AMQPMethod.basicReturn:
            let m = method.decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            incoming[channel] = IncomingContent(kind: .returned(
                code: Int(m.reply_code), text: String(amqp: m.reply_text),
                exchange: String(amqp: m.exchange), routingKey: String(amqp: m.routing_key)))
        case AMQPMethod.basicAck where channel == Self.confirmChannel:
            let m = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            confirms.resolve(tag: m.delivery_tag, multiple: m.multiple != 0, ack: true)
        case AMQPMethod.basicNack where channel == Self.confirmChannel:
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
                channelEpoch[channel] = nil
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
            if channel == Self.rpcChannel {
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
                : Settlement.Target(driver: self, channel: channel, epoch: channelEpoch[channel] ?? 0)
            consumer.continuation.yield(AMQPDelivery(message: message, exchange: exchange, routingKey: routingKey,
                                                     redelivered: redelivered, deliveryTag: deliveryTag, settlement: target))
        case let .returned(code, text, exchange, routingKey):
            let error = AMQPError.returned(code: code, text: text, exchange: exchange, routingKey: routingKey)
            switch channel {
            case Self.confirmChannel:
                if !confirms.markReturned(exchange: exchange, routingKey: routingKey, body: message.body, error: error) {
                    logger.warning("unmatched returned message", metadata: ["exchange": "\(exchange)", "routingKey": "\(routingKey)"])
                }
            case Self.rpcChannel:
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
        incoming[channel] = nil
        do {
            switch channel {
            case Self.confirmChannel:
                confirms.failAll(error)
                try openChannel(channel, on: link)
                try link.enableConfirms(channel)
            case Self.rpcChannel:
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

    // MARK: Thread: channels, topology and consumers

    private func openChannel(_ channel: UInt16, on link: BrokerLink) throws {
        try link.openChannel(channel)
        epochCounter += 1
        channelEpoch[channel] = epochCounter
    }

    private func openRPCChannel(on link: BrokerLink) throws {
        try openChannel(Self.rpcChannel, on: link)
        try link.consume(queue: Self.replyToQueue, tag: Self.rpcConsumerTag, noAck: true, exclusive: false,
                         arguments: [:], channel: Self.rpcChannel)
    }

    /// Opens the fixed channels, then re-declares what was declared before, in order.
    private func establish(on link: BrokerLink) throws {
        try openChannel(Self.controlChannel, on: link)
        try openChannel(Self.confirmChannel, on: link)
        try link.enableConfirms(Self.confirmChannel)
        try openChannel(Self.fastChannel, on: link)
        try openRPCChannel(on: link)
        confirms = ConfirmTracker()
        incoming = [:]
        blockedByBroker = false
        for exchange in recorded.exchanges {
            try recover("exchange \(exchange.name)", on: link) { try link.declare(exchange, channel: Self.controlChannel) }
        }
        for (original, queue) in recorded.queues {
            try recover("queue \(queue.name)", on: link) {
                let declared = try link.declare(queue, channel: Self.controlChannel)
                recorded.queueNames[original] = declared.name
            }
        }
        for binding in recorded.bindings {
            try recover("binding \(binding.queue) ← \(binding.exchange)", on: link) {
                try link.bind(recorded.resolved(binding), channel: Self.controlChannel)
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
            try openChannel(Self.controlChannel, on: link)
        }
    }

    private func startConsumer(_ consumer: ConsumerRecord, on link: BrokerLink) throws {
        if !consumer.autoAck { try link.qos(prefetch: consumer.prefetch, channel: consumer.channel) }
        try link.consume(queue: recorded.resolvedQueue(consumer.queue), tag: consumer.tag, noAck: consumer.autoAck,
                         exclusive: consumer.exclusive, arguments: consumer.arguments, channel: consumer.channel)
    }

    private func removeConsumer(_ consumer: ConsumerRecord, error: AMQPError?) {
        consumers[consumer.tag] = nil
        consumerByChannel[consumer.channel] = nil
        freeConsumerChannels.append(consumer.channel)
        if let error { consumer.continuation.finish(throwing: error) } else { consumer.continuation.finish() }
    }

    /// Runs a control-channel operation; a channel error reopens the channel and is rethrown.
    func onControlChannel<T>(_ body: (BrokerLink) throws -> T) throws -> T {
        guard let link else { throw AMQPError.notConnected(waited: .zero, lastError: lastError?.description) }
        do {
            return try body(link)
        } catch let error as AMQPError {
            if case .channelClosedByBroker = error {
                try? openChannel(Self.controlChannel, on: link)
            }
            throw error
        }
    }

    func declare(_ exchange: ExchangeDeclaration, passive: Bool) throws {
        try onControlChannel { try $0.declare(exchange, channel: Self.controlChannel, passive: passive) }
        if !passive { recorded.add(exchange) }
    }

    func declare(_ queue: QueueDeclaration, passive: Bool) throws -> DeclaredQueue {
        var resolved = queue
        resolved.name = recorded.resolvedQueue(queue.name)
        let declared = try onControlChannel { try $0.declare(resolved, channel: Self.controlChannel, passive: passive) }
        if !passive { recorded.add(queue, declaredAs: declared.name) }
        return declared
    }

    func bind(_ binding: QueueBinding) throws {
        try onControlChannel { try $0.bind(recorded.resolved(binding), channel: Self.controlChannel) }
        recorded.bindings.insert(recorded.canonical(binding))
    }

    func unbind(_ binding: QueueBinding) throws {
        try onControlChannel { try $0.unbind(recorded.resolved(binding), channel: Self.controlChannel) }
        recorded.bindings.remove(recorded.canonical(binding))
    }

    func deleteQueue(_ name: String) throws -> Int {
        let count = try onControlChannel { try $0.deleteQueue(recorded.resolvedQueue(name), channel: Self.controlChannel) }
        recorded.removeQueue(name)
        return count
    }

    func purgeQueue(_ name: String) throws -> Int {
        try onControlChannel { try $0.purgeQueue(recorded.resolvedQueue(name), channel: Self.controlChannel) }
    }

    func deleteExchange(_ name: String) throws {
        try onControlChannel { try $0.deleteExchange(name, channel: Self.controlChannel) }
        recorded.removeExchange(name)
    }

    func startConsumer(_ consumer: ConsumerRecord) throws {
        guard let link else { throw AMQPError.notConnected(waited: .zero, lastError: lastError?.description) }
        consumer.queue = recorded.canonicalQueue(consumer.queue)
        consumer.channel = freeConsumerChannels.popLast() ?? {
            defer { nextConsumerChannel += 1 }
            return nextConsumerChannel
        }()
        do {
            try openChannel(consumer.channel, on: link)
            try startConsumer(consumer, on: link)
        } catch {
            freeConsumerChannels.append(consumer.channel)
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
        channelEpoch[consumer.channel] = nil
        removeConsumer(consumer, error: nil)
    }

    // MARK: Thread: losing and regaining the connection

    private func connectionLost(_ error: AMQPError) {
        logger.warning("AMQP connection lost", metadata: ["error": "\(error)"])
        link = nil
        lastError = error
        connectedGauge.record(0)
        status.set(.reconnecting, error: error)
        let inFlight = AMQPError.connectionLost(reason: error.description)
        confirms.failAll(inFlight)
        for request in rpcs.values { request.complete(.failure(inFlight)) }
        rpcs.removeAll()
        incoming.removeAll()
        channelEpoch.removeAll()
        reconnectAttempt = 0
        endpointIndex = (endpointIndex + 1) % configuration.endpoints.count
    }

    /// One reconnect attempt after its backoff delay; commands wait (bounded) meanwhile.
    private func reconnect() {
        guard configuration.reconnect.enabled else {
            stopped = true // shutdown() fails what is left and reports `closed`
            return
        }
        let wakeAt = ContinuousClock.now + configuration.reconnect.delay(attempt: reconnectAttempt)
        while ContinuousClock.now < wakeAt {
            deferred.append(contentsOf: takeMailbox())
            if let index = deferred.firstIndex(where: { if case .close = $0 { true } else { false } }),
               case let .close(continuation) = deferred.remove(at: index) {
                closing = continuation
                return
            }
            expireDeferred()
            waitForWake(until: wakeAt)
        }
        reconnectAttempt += 1
        do {
            try connect()
            reconnects.increment()
            status.emit(.reconnected(attempts: reconnectAttempt))
            reconnectAttempt = 0
        } catch let error as AMQPError {
            lastError = error
            status.set(.reconnecting, error: error)
            logger.info("AMQP reconnect failed", metadata: ["attempt": "\(reconnectAttempt)", "error": "\(error)"])
        } catch {
            lastError = .library(operation: "reconnect", reason: "\(error)")
        }
    }

    private func expireDeferred() {
        let now = ContinuousClock.now
        var kept: [Command] = []
        for command in deferred {
            if let deadline = command.deadline, deadline <= now {
                command.fail(.notConnected(waited: configuration.disconnectedWaitLimit, lastError: lastError?.description))
            } else if case .settle = command {
                continue // tags of the lost connection are void
            } else {
                kept.append(command)
            }
        }
        deferred = kept
    }

    private func waitForWake(until deadline: ContinuousClock.Instant) {
        let remaining = ContinuousClock.now.duration(to: deadline)
        let ms = Int32(clamping: remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000)
        mailbox.withLock { $0.sleeping = true }
        var fds = [pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
        _ = poll(&fds, 1, max(1, min(ms, 100)))
        if fds[0].revents != 0 {
            var value: UInt64 = 0
            _ = read(wakeFD, &value, 8)
        }
        mailbox.withLock { $0.sleeping = false }
    }

    private func failEverything(_ error: AMQPError) {
        for command in deferred + takeMailbox() {
            if case let .close(continuation) = command { closing = closing ?? continuation } else { command.fail(error) }
        }
        deferred = []
        for consumer in consumers.values { removeConsumer(consumer, error: error) }
    }

    private func shutdown() {
        mailbox.withLock { $0.closed = true }
        if let link {
            link.close()
            self.link = nil
        }
        // Closed by the caller, or lost for good with reconnection disabled: say which.
        let reason = stopped ? (lastError ?? .closed) : .closed
        confirms.failAll(reason)
        for request in rpcs.values { request.complete(.failure(reason)) }
        rpcs.removeAll()
        failEverything(reason)
        returnsContinuation.finish()
        connectedGauge.record(0)
        logger.info("AMQP connection closed")
        status.set(.closed, error: stopped ? lastError : nil)
        closing?.resume()
        closing = nil
    }

    static func droppedUnconfirmed(_ request: PublishRequest, _ error: AMQPError) {
        // The caller chose the unconfirmed path and has returned; say so loudly rather than silently.
        Logger(label: "amqp").error("unconfirmed message not sent", metadata: [
            "exchange": "\(request.exchange)", "routingKey": "\(request.routingKey)", "error": "\(error)",
        ])
        Counter(label: "amqp_publish_failures_total", dimensions: [("reason", "unsent")]).increment()
    }
}

/// What was declared, so a new connection can declare it again. Server-named queues get a new
/// name on every connection: callers keep using the first name and it is translated here.
struct RecordedTopology {
    var exchanges: [ExchangeDeclaration] = []
    /// Keyed by the name the caller knows (for server-named queues, the first name given).
    var queues: [(String, QueueDeclaration)] = []
    var bindings: Set<QueueBinding> = []
    /// Caller-known name → current broker name, for server-named queues.
    var queueNames: [String: String] = [:]

    func resolvedQueue(_ name: String) -> String { queueNames[name] ?? name }

    /// The caller-known name of a queue given by its current broker name.
    func canonicalQueue(_ name: String) -> String {
        queueNames.first(where: { $0.value == name })?.key ?? name
    }

    func resolved(_ binding: QueueBinding) -> QueueBinding {
        var copy = binding
        copy.queue = resolvedQueue(binding.queue)
        return copy
    }

    func canonical(_ binding: QueueBinding) -> QueueBinding {
        var copy = binding
        copy.queue = canonicalQueue(binding.queue)
        return copy
    }

    mutating func add(_ exchange: ExchangeDeclaration) {
        exchanges.removeAll { $0.name == exchange.name }
        exchanges.append(exchange)
    }

    mutating func add(_ queue: QueueDeclaration, declaredAs name: String) {
        let key = queue.name.isEmpty ? name : canonicalQueue(queue.name)
        queues.removeAll { $0.0 == key }
        queues.append((key, queue))
        if queue.name.isEmpty { queueNames[key] = name }
    }

    mutating func removeQueue(_ name: String) {
        let key = canonicalQueue(name)
        queues.removeAll { $0.0 == key }
        bindings = bindings.filter { $0.queue != key }
        queueNames[key] = nil
    }

    mutating func removeExchange(_ name: String) {
        exchanges.removeAll { $0.name == name }
        bindings = bindings.filter { $0.exchange != name }
    }
}
