/// Which ingest shards each running filter takes: the members sorted by name, shard `s` to the
/// member at `s % members.count`. Every filter computes the same answer from the same members,
/// so nobody coordinates, and each gets `count / members` shards or one more.
public enum ShardAssignment {
    /// The shards `member` takes among `members` (itself included or not: it always counts).
    public static func shards(of member: String, among members: Set<String>, count: Int) -> [Int] {
        let ranked = members.union([member]).sorted()
        let rank = ranked.firstIndex(of: member)!
        return (0..<count).filter { $0 % ranked.count == rank }
    }
}
