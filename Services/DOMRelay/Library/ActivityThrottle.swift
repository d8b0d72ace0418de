import CobrowseProtocol

/// Tells the hub a socket's person did something, at most once a second: the watch's
/// timeouts are in seconds, and a cursor streams many frames a second.
struct ActivityThrottle {
    let hub: SocketHub
    private var last: ContinuousClock.Instant?

    init(hub: SocketHub) {
        self.hub = hub
    }

    mutating func touch(_ session: SessionID) async {
        let now = ContinuousClock.now
        if let last, now - last < .seconds(1) { return }
        last = now
        await hub.touch(session)
    }
}
