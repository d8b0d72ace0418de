/// The filters heard from lately. Each heartbeat renews a member; a goodbye, or silence for
/// longer than `expiry`, removes it. No I/O: `FilterGroup` feeds it what the broker brings.
struct FilterMembership {
    /// How long a member stays without a heartbeat (a few heartbeats: one lost is no departure).
    let expiry: Duration
    private var lastHeard: [String: ContinuousClock.Instant] = [:]

    init(expiry: Duration) {
        self.expiry = expiry
    }

    var members: Set<String> { Set(lastHeard.keys) }

    /// Records a heartbeat; true when `member` is new.
    mutating func heard(_ member: String, at now: ContinuousClock.Instant) -> Bool {
        lastHeard.updateValue(now, forKey: member) == nil
    }

    /// Records a goodbye; true when `member` was there.
    mutating func left(_ member: String) -> Bool {
        lastHeard.removeValue(forKey: member) != nil
    }

    /// Forgets members silent for longer than `expiry`; true when any went.
    mutating func expire(now: ContinuousClock.Instant) -> Bool {
        let before = lastHeard.count
        lastHeard = lastHeard.filter { now - $0.value <= expiry }
        return lastHeard.count != before
    }
}
