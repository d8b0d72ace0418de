/// How late a sharer's frame may reach the filter before it is shed instead of masked and
/// forwarded. When a shard backs up, replaying its stale backlog would keep every session on it
/// behind for good (and past the queue's TTL, deliver nothing at all); shedding it costs almost
/// nothing, so the filter catches up at once and each session that lost frames is resynced from
/// a fresh snapshot. Cursor positions, superseded by the next one, go first: they are skipped in
/// sequence, without a resync.
public struct SheddingPolicy: Sendable, Equatable {
    /// Frames that waited longer than this are shed (nil: never). Snapshots are never shed:
    /// they are what a shedding session waits for.
    public var frames: Duration?
    /// Cursor frames that waited longer than this are skipped (nil: never).
    public var cursors: Duration?

    public init(frames: Duration? = .seconds(1), cursors: Duration? = .milliseconds(250)) {
        self.frames = frames
        self.cursors = cursors
    }

    public enum Verdict: Sendable, Equatable {
        case process
        /// A late cursor: skipped in sequence, nothing forwarded.
        case skipCursor
        /// A late frame: dropped unread; the session waits for a snapshot.
        case shed
    }

    /// The shortest wait that can lead to anything but `process` (nil: nothing is ever shed),
    /// so a frame on time costs no more than a comparison.
    public var threshold: Duration? { [frames, cursors].compactMap { $0 }.min() }

    public func verdict(type: String, waited: Duration) -> Verdict {
        if type == "snapshot" { return .process }
        if type == "cursor", let cursors, waited > cursors { return .skipCursor }
        if let frames, waited > frames { return .shed }
        return .process
    }
}
