import Testing
@testable import MaskingFilter

@Suite struct ShardAssignmentTests {
    /// Every shard has exactly one owner, and owners differ by at most one shard, for any group size.
    @Test(arguments: [1, 2, 3, 5, 16, 17, 40])
    func everyShardHasOneOwnerAndTheSharesAreEven(filters: Int) {
        let members = Set((0..<filters).map { "filter-\($0)" })
        let shares = members.map { ShardAssignment.shards(of: $0, among: members, count: 16) }
        #expect(shares.flatMap { $0 }.sorted() == Array(0..<16))
        let sizes = shares.map(\.count)
        #expect(sizes.max()! - sizes.min()! <= 1)
    }

    /// Filters agree without talking: each computes its share from the same members.
    @Test func theShareDependsOnlyOnTheMembers() {
        let members: Set = ["b", "a", "c"]
        #expect(ShardAssignment.shards(of: "a", among: members, count: 6) == [0, 3])
        #expect(ShardAssignment.shards(of: "c", among: ["c", "a", "b"], count: 6) == [2, 5])
        // A filter that has heard no one yet takes everything.
        #expect(ShardAssignment.shards(of: "a", among: [], count: 4) == [0, 1, 2, 3])
    }
}

@Suite struct FilterMembershipTests {
    @Test func aHeartbeatAddsAndSilenceRemovesAMember() {
        var membership = FilterMembership(expiry: .seconds(3))
        let start = ContinuousClock.now
        let changed1 = membership.heard("a", at: start)
        #expect(changed1)
        let changed2 = membership.heard("a", at: start + .seconds(1))
        #expect(!changed2)
        let changed3 = membership.heard("b", at: start + .seconds(1))
        #expect(changed3)
        let changed4 = membership.expire(now: start + .seconds(4))
        #expect(!changed4)
        #expect(membership.members == ["a", "b"])
        let changed5 = membership.expire(now: start + .milliseconds(4100))
        #expect(changed5)
        #expect(membership.members.isEmpty)
    }

    @Test func aGoodbyeRemovesAMemberAtOnce() {
        var membership = FilterMembership(expiry: .seconds(3))
        _ = membership.heard("a", at: .now)
        let changed6 = membership.left("a")
        #expect(changed6)
        let changed7 = membership.left("a")
        #expect(!changed7)
        #expect(membership.members.isEmpty)
    }
}
