import Foundation
import Testing
@testable import AMQP

/// Records how each waiter completed.
private final class Outcomes: @unchecked Sendable {
    var results: [Int: Result<Void, AMQPError>] = [:]

    func waiter(_ id: Int, body: Data? = nil, key: String = "k") -> ConfirmWaiter {
        ConfirmWaiter(exchange: "x", routingKey: key, body: body) { self.results[id] = $0 }
    }

    func succeeded(_ id: Int) -> Bool { if case .success = results[id] { true } else { false } }
    func error(_ id: Int) -> AMQPError? { if case let .failure(e) = results[id] { e } else { nil } }
}

@Suite struct ConfirmTrackerTests {
    @Test func multipleAckResolvesEverythingUpToTheTag() {
        let outcomes = Outcomes()
        var tracker = ConfirmTracker()
        for id in 1...5 { tracker.published(outcomes.waiter(id)) }
        tracker.resolve(tag: 3, multiple: true, ack: true)
        #expect((1...3).allSatisfy(outcomes.succeeded))
        #expect(outcomes.results[4] == nil && outcomes.results[5] == nil)
        #expect(tracker.outstanding == 2)
    }

    @Test func singleAcksMayArriveOutOfOrder() {
        let outcomes = Outcomes()
        var tracker = ConfirmTracker()
        for id in 1...3 { tracker.published(outcomes.waiter(id)) }
        tracker.resolve(tag: 2, multiple: false, ack: true)
        #expect(outcomes.succeeded(2) && outcomes.results[1] == nil)
        tracker.resolve(tag: 1, multiple: false, ack: true)
        tracker.resolve(tag: 3, multiple: false, ack: true)
        #expect(tracker.outstanding == 0)
    }

    @Test func nackFailsTheMessageWithNacked() {
        let outcomes = Outcomes()
        var tracker = ConfirmTracker()
        tracker.published(outcomes.waiter(1))
        tracker.resolve(tag: 1, multiple: false, ack: false)
        #expect(outcomes.error(1) == .nacked(exchange: "x", routingKey: "k"))
    }

    @Test func unawaitedMessagesStillConsumeTags() {
        let outcomes = Outcomes()
        var tracker = ConfirmTracker()
        tracker.published(nil)
        tracker.published(outcomes.waiter(2))
        #expect(tracker.nextTag == 3)
        tracker.resolve(tag: 2, multiple: false, ack: true)
        #expect(outcomes.succeeded(2))
    }

    @Test func returnedMandatoryMessageFailsOnItsAck() {
        let outcomes = Outcomes()
        var tracker = ConfirmTracker()
        tracker.published(outcomes.waiter(1, body: Data("a".utf8), key: "k1"))
        tracker.published(outcomes.waiter(2, body: Data("b".utf8), key: "k2"))
        let returned = AMQPError.returned(code: 312, text: "NO_ROUTE", exchange: "x", routingKey: "k2")
        let matched = tracker.markReturned(exchange: "x", routingKey: "k2", body: Data("b".utf8), error: returned)
        #expect(matched)
        tracker.resolve(tag: 2, multiple: true, ack: true)
        #expect(outcomes.succeeded(1))
        #expect(outcomes.error(2) == returned)
    }

    @Test func failAllFailsOutstandingAndRestartsTags() {
        let outcomes = Outcomes()
        var tracker = ConfirmTracker()
        tracker.published(outcomes.waiter(1))
        tracker.failAll(.connectionLost(reason: "gone"))
        #expect(outcomes.error(1) == .connectionLost(reason: "gone"))
        #expect(tracker.nextTag == 1 && tracker.outstanding == 0)
    }
}
