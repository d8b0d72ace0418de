import Foundation

/// Someone awaiting the broker's confirm of one published message.
final class ConfirmWaiter {
    let exchange: String
    let routingKey: String
    /// Kept only for mandatory messages, to recognise a basic.return (which carries no delivery tag).
    let body: Data?
    private let completion: (Result<Void, AMQPError>) -> Void
    var returned: AMQPError?

    init(exchange: String, routingKey: String, body: Data?, completion: @escaping (Result<Void, AMQPError>) -> Void) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.body = body
        self.completion = completion
    }

    func complete(_ result: Result<Void, AMQPError>) { completion(result) }
}

/// Publisher-confirm bookkeeping of one channel: delivery tags in publish order, resolved by
/// basic.ack / basic.nack (single or `multiple`). Tags restart at 1 whenever the channel reopens.
struct ConfirmTracker {
    private(set) var nextTag: UInt64 = 1
    private var entries: [(tag: UInt64, waiter: ConfirmWaiter?)] = []
    private var head = 0

    var outstanding: Int { entries.count - head }

    /// Takes the next tag for a message just written; `waiter` nil means nobody awaits it.
    mutating func published(_ waiter: ConfirmWaiter?) {
        if let waiter { entries.append((nextTag, waiter)) }
        nextTag += 1
    }

    mutating func resolve(tag: UInt64, multiple: Bool, ack: Bool) {
        func finish(_ waiter: ConfirmWaiter) {
            if !ack {
                waiter.complete(.failure(.nacked(exchange: waiter.exchange, routingKey: waiter.routingKey)))
            } else if let returned = waiter.returned {
                waiter.complete(.failure(returned))
            } else {
                waiter.complete(.success(()))
            }
        }
        if multiple {
            while head < entries.count, entries[head].tag <= tag {
                if let waiter = entries[head].waiter { finish(waiter) }
                head += 1
            }
        } else if let index = index(of: tag), let waiter = entries[index].waiter {
            entries[index].waiter = nil
            finish(waiter)
        }
        while head < entries.count, entries[head].waiter == nil { head += 1 }
        if head > 1024, head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }

    /// Marks the oldest unresolved mandatory message matching a basic.return; its ack will fail it.
    mutating func markReturned(exchange: String, routingKey: String, body: Data, error: AMQPError) -> Bool {
        for index in head..<entries.count {
            guard let waiter = entries[index].waiter, waiter.returned == nil, waiter.body == body,
                  waiter.exchange == exchange, waiter.routingKey == routingKey else { continue }
            waiter.returned = error
            return true
        }
        return false
    }

    /// Fails every outstanding confirm (the channel or connection went away) and restarts tags.
    mutating func failAll(_ error: AMQPError) {
        for index in head..<entries.count {
            entries[index].waiter?.complete(.failure(error))
        }
        entries.removeAll()
        head = 0
        nextTag = 1
    }

    private func index(of tag: UInt64) -> Int? {
        var low = head, high = entries.count - 1
        while low <= high {
            let mid = (low + high) / 2
            if entries[mid].tag == tag { return mid }
            if entries[mid].tag < tag { low = mid + 1 } else { high = mid - 1 }
        }
        return nil
    }
}
