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
        let owners = ShardAssignment.owners(among: members, count: 16)
        for member in members {
            #expect(ShardAssignment.shards(of: member, among: members.subtracting([member]), count: 16)
                == owners.indices.filter { owners[$0] == member })
        }
        // A filter that has heard no one yet takes everything.
        #expect(ShardAssignment.shards(of: "a", among: [], count: 4) == [0, 1, 2, 3])
    }

    /// A filter joining takes about its share from the others, and the others keep the rest:
    /// only the shards that change hands resync their sessions. (Dealing shard s to the member
    /// at s % n, as before, moved about two thirds of them from two filters to three.)
    @Test(arguments: [2, 3, 4, 7])
    func aJoiningOrLeavingFilterMovesLittleMoreThanItsShare(before: Int) {
        for trial in 0..<20 {
            let members = Set((0..<before).map { "filter-\(trial)-\($0)" })
            let joined = members.union(["newcomer-\(trial)"])
            let old = ShardAssignment.owners(among: members, count: 16)
            let new = ShardAssignment.owners(among: joined, count: 16)
            let moved = zip(old, new).filter { $0 != $1 }
            // Evenness moves a few more between the others than the newcomer's own share.
            #expect(moved.count <= 16 / joined.count + 4, "\(before) -> \(before + 1), trial \(trial): \(moved.count) moved")
            #expect(moved.filter { $0.1 != "newcomer-\(trial)" }.count <= 4)
        }
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

    @Test func aNewcomerWaitsToSettleAndADepartureChangesTheSharesAtOnce() {
        let start = ContinuousClock.now
        var membership = FilterMembership(expiry: .seconds(3), settle: .milliseconds(1500), startedAt: start)
        var may: [Bool] = []
        may.append(membership.mayAssign(now: start + .seconds(1))) // a starting filter listens first
        _ = membership.heard("a", at: start + .milliseconds(200))
        _ = membership.heard("b", at: start + .milliseconds(1000))
        may.append(membership.mayAssign(now: start + .milliseconds(2400))) // b came 1.4 s ago
        may.append(membership.mayAssign(now: start + .milliseconds(2500)))
        may.append(membership.mayAssign(now: start + .milliseconds(2600))) // and stays settled
        #expect(may == [false, false, true, true])
        // A known member's heartbeat changes nothing; a newcomer waits again.
        _ = membership.heard("a", at: start + .seconds(3))
        let afterKnown = membership.mayAssign(now: start + .seconds(3))
        _ = membership.heard("c", at: start + .seconds(3))
        let afterNewcomer = membership.mayAssign(now: start + .seconds(4))
        #expect(afterKnown && !afterNewcomer)
        // Someone leaving is applied at once, newcomers included.
        _ = membership.left("a")
        let afterLeaving = membership.mayAssign(now: start + .seconds(4))
        #expect(afterLeaving)
        #expect(membership.members == ["b", "c"])
    }
}
