import CobrowseProtocol

/// One session's stream through the filter. It fails closed: until it holds a snapshot, and
/// again after any gap in the sharer's sequence, it forwards nothing and asks for a resync.
public struct SessionStream: Sendable {
    public enum Output: Sendable, Equatable {
        /// A masked frame for viewers; `seq` is the filter's own, gap-free per session.
        case view(StreamFrame)
        /// Ask the sharer for a fresh snapshot.
        case resync(reason: String)
    }

    var mirror = NodeMirror()
    public private(set) var hasSnapshot = false
    private var expectedSeq = 0
    /// The sharer connection of the current snapshot's sequence.
    private var stream: String?
    private var viewSeq = 0
    private var lastResync: ContinuousClock.Instant?
    /// Since when this stream has wanted a snapshot (nil: it has one, or never asked).
    private var waitingSince: ContinuousClock.Instant?
    /// Resync requests for one session go out at most this often.
    static let resyncInterval: Duration = .seconds(2)
    /// A sharer that sends no snapshot for this long is gone: stop asking.
    static let resyncGiveUp: Duration = .seconds(60)

    public init() {}

    /// Nodes currently mirrored (for metrics and tests).
    public var mirroredNodes: Int { mirror.count }

    public mutating func process(_ frame: StreamFrame, now: ContinuousClock.Instant = .now) -> [Output] {
        if case let .snapshot(snapshot) = frame.event {
            guard let root = mirror.load(snapshot.root) else {
                hasSnapshot = false
                return resync("snapshot root was refused", now: now)
            }
            var clean = snapshot
            clean.root = root
            hasSnapshot = true
            stream = snapshot.stream
            waitingSince = nil
            expectedSeq = frame.seq + 1
            return [emit(.snapshot(clean))]
        }
        // A relay says `paused` for a sharer socket that went away, numbered after its last
        // frame. The customer's next page may have sent its snapshot first (another socket,
        // perhaps another relay): a pause for another connection, or out of sequence, is
        // stale, and names no node, so it is dropped without asking for anything.
        if case let .paused(location) = frame.event,
           !(hasSnapshot && frame.seq == expectedSeq && location.stream == stream) { return [] }
        guard hasSnapshot else { return resync("no snapshot yet", now: now) }
        guard frame.seq == expectedSeq else {
            // Frames after a gap may name nodes this mirror never saw: stop until a snapshot.
            hasSnapshot = false
            return resync("sequence gap: expected \(expectedSeq), got \(frame.seq)", now: now)
        }
        expectedSeq += 1
        switch frame.event {
        case .snapshot:
            return [] // handled above
        case let .mutations(mutations):
            let clean = apply(mutations)
            guard !(clean.adds.isEmpty && clean.removes.isEmpty && clean.attrs.isEmpty && clean.texts.isEmpty) else { return [] }
            return [emit(.mutations(clean))]
        case var .input(input):
            guard mirror.contains(input.id) else { return [] }
            if mirror.isSensitive(input.id) { input.value = StreamSanitizer.masked(input.value) }
            return [emit(.input(input))]
        case let .scroll(scroll):
            guard scroll.id == 0 || mirror.contains(scroll.id) else { return [] }
            return [emit(.scroll(scroll))]
        case var .click(pointer):
            if let id = pointer.id, !mirror.contains(id) { pointer.id = nil }
            return [emit(.click(pointer))]
        case .viewport, .cursor, .paused, .resumed:
            return [emit(frame.event)]
        }
    }

    /// Removes, then adds, then attribute and text changes: the order the SDK records them in.
    private mutating func apply(_ mutations: StreamEvent.Mutations) -> StreamEvent.Mutations {
        var clean = StreamEvent.Mutations()
        for remove in mutations.removes where mirror.remove(remove.id) {
            clean.removes.append(remove)
        }
        for add in mutations.adds {
            guard let node = mirror.add(add.node, parent: add.parent, before: add.next) else { continue }
            clean.adds.append(.init(parent: add.parent, next: add.next.flatMap { mirror.contains($0) ? $0 : nil }, node: node))
        }
        // `type` changes first: a batch that sets a value and turns the field into a password
        // field must mask that value whatever order the SDK listed them in.
        let typeFirst = mutations.attrs.filter { $0.name.lowercased() == "type" } + mutations.attrs.filter { $0.name.lowercased() != "type" }
        for attribute in typeFirst {
            guard let value = mirror.setAttribute(attribute.id, name: attribute.name, value: attribute.value) else { continue }
            clean.attrs.append(.init(id: attribute.id, name: attribute.name, value: value))
        }
        for text in mutations.texts where mirror.contains(text.id) {
            clean.texts.append(text)
        }
        return clean
    }

    private mutating func emit(_ event: StreamEvent) -> Output {
        viewSeq += 1
        return .view(StreamFrame(seq: viewSeq, event))
    }

    /// Asks again for a snapshot that has not come (the request was throttled or lost, and the
    /// page may have gone quiet); called periodically. Gives up after `resyncGiveUp`.
    public mutating func retryResync(now: ContinuousClock.Instant) -> [Output] {
        guard !hasSnapshot, let since = waitingSince, now - since < Self.resyncGiveUp else { return [] }
        return resync("still waiting for a snapshot", now: now)
    }

    private mutating func resync(_ reason: String, now: ContinuousClock.Instant) -> [Output] {
        if waitingSince == nil { waitingSince = now }
        if let last = lastResync, now - last < Self.resyncInterval { return [] }
        lastResync = now
        return [.resync(reason: reason)]
    }
}
