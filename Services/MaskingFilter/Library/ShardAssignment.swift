/// Which ingest shards each running filter takes, computed by every filter from the same members
/// (so nobody coordinates): balanced rendezvous hashing. Each shard ranks the members by a hash
/// of (member, shard); pairs are dealt best rank first, each to a member that still has room,
/// where room is `count / members` shards, or one more for the first `count % members` to fill up.
/// Shares are even (they differ by at most one), and a member joining or leaving moves few
/// shards: mostly those it takes or gives, not a reshuffle of everyone's (a moved shard costs
/// each of its sessions a resync).
public enum ShardAssignment {
    /// The shards `member` takes among `members` (itself included or not: it always counts).
    public static func shards(of member: String, among members: Set<String>, count: Int) -> [Int] {
        let owners = owners(among: members.union([member]), count: count)
        return owners.indices.filter { owners[$0] == member }
    }

    /// Each shard's owner among `members` (not empty). The (member, shard) pairs are taken best
    /// rank first: a pair goes through while its shard is free and its member has room.
    public static func owners(among members: Set<String>, count: Int) -> [String] {
        let sorted = members.sorted()
        let base = count / sorted.count
        var extra = count % sorted.count
        var taken = Dictionary(uniqueKeysWithValues: sorted.map { ($0, 0) })
        var owners = [String?](repeating: nil, count: count)
        let pairs = sorted.flatMap { member in (0..<count).map { (member: member, shard: $0, rank: rank(member, $0)) } }
            .sorted { $0.rank != $1.rank ? $0.rank > $1.rank : ($0.member, $0.shard) < ($1.member, $1.shard) }
        for pair in pairs where owners[pair.shard] == nil {
            guard taken[pair.member]! < base + (extra > 0 ? 1 : 0) else { continue }
            owners[pair.shard] = pair.member
            taken[pair.member]! += 1
            if taken[pair.member]! == base + 1 { extra -= 1 }
        }
        return owners.map { $0! }
    }

    /// A hash of (member, shard) that every process computes alike (FNV-1a, then a mixer;
    /// Swift's `Hasher` is seeded per process).
    static func rank(_ member: String, _ shard: Int) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "\(member)/\(shard)".utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        hash ^= hash >> 33
        hash = hash &* 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        return hash
    }
}
