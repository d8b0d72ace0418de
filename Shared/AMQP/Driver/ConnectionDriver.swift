import CRabbitMQ
import Foundation
import Logging
import Metrics

/// Runs one AMQP connection on a dedicated thread (rabbitmq-c is not thread-safe).
///
/// Callers submit commands into a mailbox and the thread wakes through an eventfd; the thread
/// otherwise sleeps in poll(2) on the socket with a bounded timeout, so heartbeats and
/// deadlines are always serviced. When the connection drops, the thread reconnects with capped
/// exponential backoff, re-declares the recorded topology and re-establishes consumers
/// (ConnectionDriver+Recovery). Frames are read in ConnectionDriver+Frames; channels, topology
/// and consumers are kept in ConnectionDriver+Topology.
final class ConnectionDriver: @unchecked Sendable {
    static let replyToQueue = "amq.rabbitmq.reply-to"
    static let rpcConsumerTag = "cobrowse-rpc-replies"
    static let maxMailbox = 65_536
    /// Returned messages nobody has read yet; beyond it they are logged and dropped.
    static let maxReturnsWaiting = 4_096
    /// The longest poll: heartbeats, RPC deadlines and TLS-buffered bytes are checked that often.
    static let connectedPollLimit: Duration = .milliseconds(250)

    let configuration: AMQPConfiguration
    let logger: Logger
    let status: ConnectionStatus
    /// Mandatory messages of the fast path that the broker could not route (basic.return).
    let returns: AsyncStream<AMQPReturnedMessage>
    let returnsContinuation: AsyncStream<AMQPReturnedMessage>.Continuation
    let mailbox = CommandMailbox(capacity: ConnectionDriver.maxMailbox)

    // Everything below belongs to the connection thread.
    var link: BrokerLink?
    /// Commands taken from the mailbox that could not run yet (disconnected, blocked).
    var deferred: [Command] = []
    var blockedByBroker = false
    var closing: CheckedContinuation<Void, Never>?
    /// Set when the connection is gone for good without a close() (reconnect disabled).
    var stopped = false
    var lastError: AMQPError?
    var reconnectAttempt = 0
    /// Which of `configuration.endpoints` to try first: the node last connected to, or after
    /// losing it, the next one (its node may have died; the cluster's others hold the queues).
    var endpointIndex = 0
    var confirms = ConfirmTracker()
    var rpcs: [String: RPCRequest] = [:]
    var consumers: [String: ConsumerRecord] = [:]
    var consumerByChannel: [UInt16: ConsumerRecord] = [:]
    var channels = ChannelPlan()
    var assembler = ContentAssembler()
    var recorded = RecordedTopology()

    let publishedConfirmed: Counter
    let publishedUnconfirmed: Counter
    let publishFailures: Counter
    let deliveries: Counter
    let reconnects: Counter
    let connectedGauge: Gauge

    init(configuration: AMQPConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.status = ConnectionStatus()
        (returns, returnsContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingOldest(Self.maxReturnsWaiting))
        let name = configuration.connectionName ?? ProcessInfo.processInfo.processName
        publishedConfirmed = Counter(label: "amqp_published_total", dimensions: [("connection", name), ("confirm", "true")])
        publishedUnconfirmed = Counter(label: "amqp_published_total", dimensions: [("connection", name), ("confirm", "false")])
        publishFailures = Counter(label: "amqp_publish_failures_total", dimensions: [("connection", name)])
        deliveries = Counter(label: "amqp_deliveries_total", dimensions: [("connection", name)])
        reconnects = Counter(label: "amqp_reconnects_total", dimensions: [("connection", name)])
        connectedGauge = Gauge(label: "amqp_connected", dimensions: [("connection", name)])
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
                    self.mailbox.close()
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
        if !mailbox.submit(command) { command.fail(.closed) }
    }

    /// Submits a fast-path publish unless the mailbox is full (back-pressure for the caller).
    func trySubmitPublish(_ request: PublishRequest) -> Bool? {
        mailbox.trySubmit(.publish(request))
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

    private func processMailbox(_ link: BrokerLink) {
        var batch = deferred.isEmpty || blockedByBroker ? mailbox.take() : deferred + mailbox.take()
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
        let channel = request.waiter == nil ? ChannelPlan.fast : ChannelPlan.confirm
        guard link.publish(request.message, exchange: request.exchange, routingKey: request.routingKey,
                           mandatory: request.mandatory, channel: channel) else { return false }
        if channel == ChannelPlan.confirm { confirms.published(request.waiter) }
        return true
    }

    private func settle(_ settlement: Settlement, on link: BrokerLink) {
        // A tag from an earlier incarnation of the channel would close the new one (406).
        guard channels.epoch(of: settlement.channel) == settlement.epoch else { return }
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
                        channel: ChannelPlan.rpc) {
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
        _ = amqp_channel_close(link.state, ChannelPlan.rpc, 200)
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

    /// Sleeps until the socket is readable, a command arrives, or a timer (heartbeat, the next
    /// RPC deadline) is due.
    private func sleep(_ link: BrokerLink) {
        if link.hasBufferedInput { return }
        var limit = Self.connectedPollLimit
        if let next = rpcs.values.map(\.deadline).min() { limit = min(limit, ContinuousClock.now.duration(to: next)) }
        mailbox.wait(socket: link.socketDescriptor, milliseconds: limit.pollMilliseconds)
    }
}
