import AMQP
import CobrowseBroker
import Foundation
import ServiceKit
import TestSupport
import Testing

/// `deploy/rabbitmq/definitions.json` and `CobrowseTopology` must describe the same broker.
@Suite struct TopologyTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The parts of the RabbitMQ definitions format that describe topology.
    private struct Definitions: Decodable {
        struct Exchange: Decodable { let name, type: String; let durable, auto_delete, `internal`: Bool; let arguments: [String: Value] }
        struct Queue: Decodable { let name: String; let durable, auto_delete: Bool; let arguments: [String: Value] }
        struct Binding: Decodable { let source, destination, routing_key: String; let arguments: [String: Value] }
        struct Policy: Decodable {
            let name, pattern, vhost: String
            let applyTo: String
            let priority: Int
            let definition: [String: Value]
            enum CodingKeys: String, CodingKey { case name, pattern, vhost, priority, definition, applyTo = "apply-to" }
        }
        let exchanges: [Exchange]
        let queues: [Queue]
        let bindings: [Binding]
        let policies: [Policy]
    }

    private enum Value: Decodable {
        case bool(Bool), int(Int64), string(String)

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let bool = try? container.decode(Bool.self) { self = .bool(bool) }
            else if let int = try? container.decode(Int64.self) { self = .int(int) }
            else { self = .string(try container.decode(String.self)) }
        }

        var field: AMQPFieldValue {
            switch self {
            case let .bool(b): .bool(b)
            case let .int(i): .int(i)
            case let .string(s): .string(s)
            }
        }
    }

    @Test func definitionsFileDeclaresExactlyTheCodeTopology() throws {
        let data = try Data(contentsOf: Self.repositoryRoot.appendingPathComponent("deploy/rabbitmq/definitions.json"))
        let json = try JSONDecoder().decode(Definitions.self, from: data)
        let exchanges = json.exchanges.map {
            ExchangeDeclaration($0.name, kind: ExchangeKind(rawValue: $0.type)!, durable: $0.durable, autoDelete: $0.auto_delete,
                                isInternal: $0.internal, arguments: $0.arguments.mapValues(\.field))
        }
        let queues = json.queues.map {
            QueueDeclaration($0.name, durable: $0.durable, autoDelete: $0.auto_delete, arguments: $0.arguments.mapValues(\.field))
        }
        let bindings = json.bindings.map {
            QueueBinding(queue: $0.destination, exchange: $0.source, routingKey: $0.routing_key, arguments: $0.arguments.mapValues(\.field))
        }
        let policies = json.policies.map {
            BrokerPolicy(name: $0.name, pattern: $0.pattern, definition: $0.definition.mapValues(\.field), priority: $0.priority,
                         applyTo: $0.applyTo)
        }
        let all = CobrowseTopology.all
        #expect(Set(exchanges) == Set(all.exchanges))
        #expect(Set(queues) == Set(all.queues))
        #expect(Set(bindings) == Set(all.bindings))
        #expect(Set(policies) == Set(CobrowseTopology.policies))
        #expect(json.policies.allSatisfy { $0.vhost == "/" })
    }

    /// What operators tune lives in policies, so the durable queues carry only what cannot be a
    /// policy (their type, single active consumer); the replicated ones are quorum queues.
    @Test func durableQueuesAreQuorumQueuesTunedByPolicies() throws {
        let tunable: Set<String> = ["x-message-ttl", "x-max-length", "x-overflow", "x-dead-letter-exchange", "x-max-length-bytes"]
        for queue in CobrowseTopology.all.queues {
            #expect(Set(queue.arguments.keys).isDisjoint(with: tunable), "\(queue.name) sets a tunable argument; put it in a policy")
            if queue.durable {
                #expect(queue.arguments["x-queue-type"] == .string("quorum"), "\(queue.name) is durable but not a quorum queue")
            } else {
                #expect(queue.name.hasPrefix("cobrowse.ingest.shard.") || queue.name == CobrowseTopology.rulesPreviewQueue,
                        "\(queue.name) is transient")
            }
            let policies = CobrowseTopology.policies.filter { queue.name.wholeMatch(of: try! Regex($0.pattern)) != nil }
            #expect(policies.count <= 1, "\(queue.name) matches several policies: \(policies.map(\.name))")
        }
        for policy in CobrowseTopology.policies {
            let regex = try Regex(policy.pattern)
            #expect(CobrowseTopology.all.queues.contains { $0.name.firstMatch(of: regex) != nil }, "\(policy.name) matches no queue")
        }
    }

    /// Stream frames never touch a disk (docs/operations.md "Encryption"): the queues they pass
    /// through are not durable, and nothing in them is dead-lettered into one that is.
    @Test func streamFramesPassOnlyThroughQueuesThatNeitherPersistNorDeadLetter() throws {
        let streamQueues = CobrowseTopology.all.queues.filter { $0.name.hasPrefix("cobrowse.ingest.shard.") }
            + [CobrowseTopology.rulesPreviewDeclaration]
        #expect(streamQueues.count == CobrowseTopology.ingestShardCount + 1)
        for queue in streamQueues {
            #expect(!queue.durable, "\(queue.name) is durable")
            #expect(queue.arguments["x-dead-letter-exchange"] == nil)
            for policy in CobrowseTopology.policies where queue.name.wholeMatch(of: try Regex(policy.pattern)) != nil {
                #expect(policy.definition["dead-letter-exchange"] == nil, "\(policy.name) dead-letters \(queue.name)'s frames")
            }
        }
        // The exchanges that carry frames to and from the filter bind no durable queue of the suite.
        let frameExchanges: Set<String> = [CobrowseTopology.ingestExchange, CobrowseTopology.viewExchange, CobrowseTopology.sharerExchange]
        let durable = Set(CobrowseTopology.all.queues.filter(\.durable).map(\.name))
        for binding in CobrowseTopology.all.bindings where frameExchanges.contains(binding.exchange) {
            #expect(!durable.contains(binding.queue), "\(binding.queue) (durable) is bound to \(binding.exchange)")
        }
        #expect(!AMQPProperties().persistent, "messages are transient unless a publisher says otherwise")
    }

    /// The broker loaded definitions.json: its policies apply to the suite's queues there.
    /// The management API reports a queue's policy with its statistics, which a broker that has
    /// just started emits only after its first collection interval (5 s): waited for, not assumed.
    @Test func brokerAppliesTheDefinitionsPoliciesToTheQueues() async throws {
        var rpc: [String: Any] = [:]
        let reported = try await eventually {
            let queues = try await TestBroker.managementGET("/api/queues/%2F") as? [[String: Any]] ?? []
            rpc = queues.first { $0["name"] as? String == CobrowseTopology.registryRPCQueue } ?? [:]
            return rpc["policy"] != nil
        }
        #expect(reported, "the management API never reported a policy of \(CobrowseTopology.registryRPCQueue): \(rpc)")
        #expect(rpc["policy"] as? String == "cobrowse-registry-rpc")
        #expect(rpc["type"] as? String == "quorum")
    }

    /// The private test broker loaded definitions.json at boot; declaring the code's topology
    /// over it must be accepted (the broker refuses any inequivalent argument with 406).
    @Test func brokerAcceptsTheCodeTopologyOverTheLoadedDefinitions() async throws {
        let connection = try await TestBroker.connect()
        defer { Task { await connection.close() } }
        let declared = try await connection.declare(CobrowseTopology.all)
        #expect(declared.count == CobrowseTopology.all.queues.count)
        try await connection.inspectExchange(CobrowseTopology.ingestExchange)
    }

    @Test func everyServiceTopologyIsPartOfTheWhole() {
        let all = CobrowseTopology.all
        for part in [CobrowseTopology.sessionRegistry, CobrowseTopology.domRelay, CobrowseTopology.maskingFilter,
                     CobrowseTopology.interactionWatch] {
            #expect(Set(part.exchanges).isSubset(of: Set(all.exchanges)))
            #expect(Set(part.queues).isSubset(of: Set(all.queues)))
        }
        #expect(all.queues.contains { $0.name == CobrowseTopology.ingestShardQueue(CobrowseTopology.ingestShardCount - 1) })
    }
}
