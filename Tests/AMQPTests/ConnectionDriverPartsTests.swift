import Foundation
import Testing
@testable import AMQP

/// The connection driver's pure parts, without a broker: content frames assembled into
/// messages, the channel plan and its epochs, the recorded topology, and the mailbox's wake-ups.
@Suite struct ContentAssemblerTests {
    static let delivery = IncomingContent.Kind.delivery(consumerTag: "c", deliveryTag: 7, redelivered: false, exchange: "x", routingKey: "k")

    func body(_ assembler: inout ContentAssembler, _ text: String, channel: UInt16 = 10) -> IncomingContent? {
        Array(text.utf8).withUnsafeBytes { assembler.body($0, channel: channel) }
    }

    @Test func aMessageIsCompleteWhenItsBodyReachesTheSizeItsHeaderAnnounced() {
        var assembler = ContentAssembler()
        assembler.begin(Self.delivery, channel: 10)
        var properties = AMQPProperties()
        properties.correlationID = "abc"
        #expect(assembler.header(properties: properties, bodySize: 11, channel: 10) == nil)
        #expect(body(&assembler, "hello ") == nil)
        let message = body(&assembler, "world")
        #expect(message?.body == Data("hello world".utf8))
        #expect(message?.properties.correlationID == "abc")
        #expect(message?.kind == Self.delivery)
        #expect(!assembler.isAssembling(channel: 10))
    }

    @Test func aMessageWithoutBodyIsCompleteAtItsHeader() {
        var assembler = ContentAssembler()
        assembler.begin(.returned(code: 312, text: "NO_ROUTE", exchange: "x", routingKey: "k"), channel: 2)
        #expect(assembler.header(properties: AMQPProperties(), bodySize: 0, channel: 2)?.body == Data())
    }

    @Test func channelsAssembleIndependentlyAndFramesWithoutAMethodAreIgnored() {
        var assembler = ContentAssembler()
        #expect(assembler.header(properties: AMQPProperties(), bodySize: 1, channel: 11) == nil)
        #expect(body(&assembler, "x", channel: 11) == nil, "a body without its method is not a message")
        assembler.begin(Self.delivery, channel: 10)
        assembler.begin(Self.delivery, channel: 12)
        _ = assembler.header(properties: AMQPProperties(), bodySize: 2, channel: 10)
        _ = assembler.header(properties: AMQPProperties(), bodySize: 2, channel: 12)
        #expect(body(&assembler, "a", channel: 10) == nil)
        #expect(body(&assembler, "bc", channel: 12)?.body == Data("bc".utf8))
        #expect(body(&assembler, "d", channel: 10)?.body == Data("ad".utf8))
    }

    @Test func aClosedChannelOrLostConnectionDropsWhatWasArriving() {
        var assembler = ContentAssembler()
        assembler.begin(Self.delivery, channel: 10)
        assembler.begin(Self.delivery, channel: 11)
        assembler.drop(channel: 10)
        #expect(!assembler.isAssembling(channel: 10) && assembler.isAssembling(channel: 11))
        assembler.dropAll()
        #expect(!assembler.isAssembling(channel: 11))
    }
}

@Suite struct ChannelPlanTests {
    @Test func consumersGetTheirOwnChannelsFromTheFirstConsumerChannelAndReuseReleasedOnes() {
        var plan = ChannelPlan()
        let first = plan.consumerChannel()
        let second = plan.consumerChannel()
        #expect(first == ChannelPlan.firstConsumer && second == ChannelPlan.firstConsumer + 1)
        #expect(Set([ChannelPlan.control, ChannelPlan.confirm, ChannelPlan.fast, ChannelPlan.rpc]).allSatisfy { $0 < ChannelPlan.firstConsumer })
        plan.release(first)
        #expect(plan.consumerChannel() == first)
        #expect(plan.consumerChannel() == ChannelPlan.firstConsumer + 2)
    }

    @Test func everyOpeningOfAChannelHasANewEpochAndAClosedChannelNone() {
        var plan = ChannelPlan()
        plan.opened(10)
        let first = plan.epoch(of: 10)
        plan.opened(11)
        plan.opened(10)
        #expect(first != nil && plan.epoch(of: 10) != first, "a tag of the first opening must not settle on the second")
        plan.closed(10)
        #expect(plan.epoch(of: 10) == nil && plan.epoch(of: 11) != nil)
        plan.closedAll()
        #expect(plan.epoch(of: 11) == nil)
        plan.opened(10)
        #expect(plan.epoch(of: 10)! > first!, "epochs never repeat, even after the connection was lost")
    }
}

@Suite struct RecordedTopologyTests {
    @Test func aServerNamedQueueKeepsTheNameItsCallerKnowsAcrossReconnects() {
        var topology = RecordedTopology()
        topology.add(QueueDeclaration(""), declaredAs: "amq.gen-first")
        topology.bindings.insert(topology.canonical(QueueBinding(queue: "amq.gen-first", exchange: "x", routingKey: "k")))
        // The next connection's broker names it anew.
        topology.queueNames["amq.gen-first"] = "amq.gen-second"
        #expect(topology.resolvedQueue("amq.gen-first") == "amq.gen-second")
        #expect(topology.canonicalQueue("amq.gen-second") == "amq.gen-first")
        #expect(topology.bindings.map { topology.resolved($0).queue } == ["amq.gen-second"])
    }

    @Test func declaringAgainReplacesAndDeletingForgetsTheBindings() {
        var topology = RecordedTopology()
        topology.add(ExchangeDeclaration("x", kind: .topic))
        topology.add(ExchangeDeclaration("x", kind: .fanout))
        #expect(topology.exchanges.map(\.kind) == [.fanout])
        topology.add(QueueDeclaration("q"), declaredAs: "q")
        topology.add(QueueDeclaration("q", durable: false), declaredAs: "q")
        #expect(topology.queues.count == 1 && topology.queues[0].1.durable == false)
        topology.bindings = [QueueBinding(queue: "q", exchange: "x", routingKey: "a"), QueueBinding(queue: "q", exchange: "y", routingKey: "b")]
        topology.removeExchange("x")
        #expect(topology.bindings.map(\.exchange) == ["y"])
        topology.removeQueue("q")
        #expect(topology.queues.isEmpty && topology.bindings.isEmpty)
    }
}

@Suite struct CommandMailboxTests {
    static func operation(_ name: String) -> Command {
        .operation(Operation(name: name, deadline: .now + .seconds(10), perform: { _ in }, fail: { _ in }))
    }

    @Test func aWaitReturnsAtOnceWhenCommandsAreWaitingAndTakeEmptiesTheMailbox() {
        let mailbox = CommandMailbox(capacity: 4)
        #expect(mailbox.submit(Self.operation("a")))
        let started = ContinuousClock.now
        mailbox.wait(socket: nil, milliseconds: 60_000)
        #expect(ContinuousClock.now - started < .seconds(30), "waited with a command in the mailbox")
        #expect(mailbox.take().count == 1)
        #expect(mailbox.take().isEmpty)
    }

    @Test func aSubmitWakesAWaitingThread() {
        let mailbox = CommandMailbox(capacity: 4)
        let woke = DispatchSemaphore(value: 0)
        let thread = Thread {
            mailbox.wait(socket: nil, milliseconds: 600_000)
            woke.signal()
        }
        thread.start()
        var waiting = false
        for _ in 0..<6_000 where !waiting {
            waiting = mailbox.isWaiting
            if !waiting { Thread.sleep(forTimeInterval: 0.005) }
        }
        #expect(waiting, "the thread never went to sleep in poll")
        #expect(mailbox.submit(Self.operation("wake")))
        let awake = woke.wait(timeout: .now() + .seconds(30)) == .success
        #expect(awake, "a submit did not wake the thread in poll")
    }

    @Test func aFullMailboxRefusesPublishesAndAClosedOneEverything() {
        let mailbox = CommandMailbox(capacity: 2)
        #expect(mailbox.trySubmit(Self.operation("1")) == true)
        #expect(mailbox.trySubmit(Self.operation("2")) == true)
        #expect(mailbox.trySubmit(Self.operation("3")) == false)
        mailbox.close()
        #expect(mailbox.trySubmit(Self.operation("4")) == nil)
        #expect(!mailbox.submit(Self.operation("5")))
    }
}
