/// The connection thread losing and regaining the broker: connecting to the first node that
/// answers, failing what was in flight, waiting out the backoff with the commands held (each
/// until its deadline), and shutting down for good.
extension ConnectionDriver {
    /// Opens a link to the first node that answers, trying each once from `endpointIndex`,
    /// and brings the recorded topology and consumers back there.
    func connect() throws {
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

    func connectionLost(_ error: AMQPError) {
        logger.warning("AMQP connection lost", metadata: ["error": "\(error)"])
        link = nil
        lastError = error
        connectedGauge.record(0)
        status.set(.reconnecting, error: error)
        let inFlight = AMQPError.connectionLost(reason: error.description)
        confirms.failAll(inFlight)
        for request in rpcs.values { request.complete(.failure(inFlight)) }
        rpcs.removeAll()
        assembler.dropAll()
        channels.closedAll()
        reconnectAttempt = 0
        endpointIndex = (endpointIndex + 1) % configuration.endpoints.count
    }

    /// One reconnect attempt after its backoff delay; commands wait (bounded) meanwhile.
    func reconnect() {
        guard configuration.reconnect.enabled else {
            stopped = true // shutdown() fails what is left and reports `closed`
            return
        }
        let wakeAt = ContinuousClock.now + configuration.reconnect.delay(attempt: reconnectAttempt)
        while ContinuousClock.now < wakeAt {
            deferred.append(contentsOf: mailbox.take())
            runWhatNeedsNoBroker()
            if let index = deferred.firstIndex(where: { if case .close = $0 { true } else { false } }),
               case let .close(continuation) = deferred.remove(at: index) {
                closing = continuation
                return
            }
            expireDeferred()
            // In steps of at most 100 ms, so deferred commands fail close to their deadlines.
            mailbox.wait(socket: nil, milliseconds: max(1, min(ContinuousClock.now.duration(to: wakeAt), .milliseconds(100)).pollMilliseconds))
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

    /// Performs the deferred operations that need no broker (a consumer cancelled meanwhile is
    /// forgotten now, so the reconnect does not bring it back), in the order they came.
    private func runWhatNeedsNoBroker() {
        guard deferred.contains(where: { if case let .operation(operation) = $0 { operation.runsWithoutBroker } else { false } }) else { return }
        var kept: [Command] = []
        for command in deferred {
            if case let .operation(operation) = command, operation.runsWithoutBroker {
                operation.perform(self)
            } else {
                kept.append(command)
            }
        }
        deferred = kept
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

    private func failEverything(_ error: AMQPError) {
        for command in deferred + mailbox.take() {
            if case let .close(continuation) = command { closing = closing ?? continuation } else { command.fail(error) }
        }
        deferred = []
        for consumer in consumers.values { removeConsumer(consumer, error: error) }
    }

    func shutdown() {
        mailbox.close()
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
}
