/// The filters heard from lately. Each heartbeat renews a member; a goodbye, or silence for
/// longer than `expiry`, removes it. No I/O: `FilterGroup` feeds it what the broker brings.
///
/// A departure changes the shares at once (its shards have no consumer). A newcomer waits
/// `settle` for the others: filters started together, and a starting filter learning who runs,
/// then move each shard once instead of once per heartbeat heard.
struct FilterMembership {
    /// How long a member stays without a heartbeat (a few heartbeats: one lost is no departure).
    let expiry: Duration
    /// How long the shares wait after a newcomer (longer than a heartbeat interval).
    let settle: Duration
    private var lastHeard: [String: ContinuousClock.Instant] = [:]
    /// When the shares may change for the newcomers heard so far (nil: none waiting).
    private(set) var joinsSettleAt: ContinuousClock.Instant?

    /// `startedAt`: a filter that is starting waits `settle` for the others before its first share.
    init(expiry: Duration, settle: Duration = .zero, startedAt: ContinuousClock.Instant? = nil) {
        self.expiry = expiry
        self.settle = settle
        joinsSettleAt = startedAt.map { $0 + settle }
    }

    /// Whether the shares may be computed now: no newcomer is still settling. Call it on every
    /// change and tick; once it says yes for a join, the wait is over.
    mutating func mayAssign(now: ContinuousClock.Instant) -> Bool {
        guard let until = joinsSettleAt else { return true }
        guard now >= until else { return false }
        joinsSettleAt = nil
        return true
    }

    var members: Set<String> { Set(lastHeard.keys) }

    /// Records a heartbeat; true when `member` is new (the shares then wait `settle`).
    mutating func heard(_ member: String, at now: ContinuousClock.Instant) -> Bool {
        guard lastHeard.updateValue(now, forKey: member) == nil else { return false }
        if settle > .zero { joinsSettleAt = max(joinsSettleAt ?? now, now + settle) }
        return true
    }

    /// Records a goodbye; true when `member` was there (the shares change at once).
    mutating func left(_ member: String) -> Bool {
        guard lastHeard.removeValue(forKey: member) != nil else { return false }
        joinsSettleAt = nil
        return true
    }

    /// Forgets members silent for longer than `expiry`; true when any went (the shares change at once).
    mutating func expire(now: ContinuousClock.Instant) -> Bool {
        let before = lastHeard.count
        lastHeard = lastHeard.filter { now - $0.value <= expiry }
        guard lastHeard.count != before else { return false }
        joinsSettleAt = nil
        return true
    }
}
