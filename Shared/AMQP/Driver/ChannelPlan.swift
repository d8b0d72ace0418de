/// Which channel does which job (one per job, so a channel error in one cannot take down
/// another), the consumers' channel numbers, and each channel's epoch: the count of its openings,
/// so a delivery tag of an earlier opening is never settled on a later one (that closes it, 406).
struct ChannelPlan {
    static let control: UInt16 = 1
    static let confirm: UInt16 = 2
    static let fast: UInt16 = 3
    static let rpc: UInt16 = 4
    static let firstConsumer: UInt16 = 10

    private var nextConsumer = ChannelPlan.firstConsumer
    private var freeConsumers: [UInt16] = []
    private var epochs: [UInt16: UInt64] = [:]
    private var openings: UInt64 = 0

    /// A channel number for a new consumer: a released one first.
    mutating func consumerChannel() -> UInt16 {
        if let free = freeConsumers.popLast() { return free }
        defer { nextConsumer += 1 }
        return nextConsumer
    }

    /// A consumer's channel number is free again.
    mutating func release(_ channel: UInt16) { freeConsumers.append(channel) }

    /// The channel was (re)opened: a new epoch, never one used before.
    mutating func opened(_ channel: UInt16) {
        openings += 1
        epochs[channel] = openings
    }

    /// The channel is closed: tags of its last opening are void.
    mutating func closed(_ channel: UInt16) { epochs[channel] = nil }

    /// The connection is gone: every channel's tags are void.
    mutating func closedAll() { epochs.removeAll() }

    /// The channel's current epoch; nil while it is closed.
    func epoch(of channel: UInt16) -> UInt64? { epochs[channel] }
}
