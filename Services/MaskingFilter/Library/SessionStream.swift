import CobrowseProtocol
import Foundation
import MaskingRules

/// One session's stream through the filter. It fails closed: until it holds a snapshot, and
/// again after any gap in the sharer's sequence, it forwards nothing and asks for a resync.
public struct SessionStream: Sendable {
    public enum Output: Sendable, Equatable {
        /// A masked frame for viewers; `seq` is the filter's own, gap-free per session.
        case view(StreamFrame)
        /// Ask the sharer for a fresh snapshot.
        case resync(reason: String)
        /// An agent action that may reach the sharer.
        case action(AgentAction)
        /// Whether the lead agent is connected, for the sharer's bar (passed on from a relay).
        case presence(RelayRequest.Lead)
    }

    var tree = MaskedTree()
    /// The page of the current snapshot (navigation must stay on its site).
    private var pageURL: URL?
    public private(set) var hasSnapshot = false
    private var expectedSeq = 0
    /// The sharer connection of the current snapshot's sequence.
    private var stream: String?
    private var viewSeq = 0
    private var lastResync: ContinuousClock.Instant?
    /// A resync request went out and no snapshot has come since: the one that comes will be
    /// passed on later than now.
    private var awaitingSnapshot = false
    /// When the current snapshot was passed on to the viewers, by the wall clock (ms since
    /// 1970): what a relay's reconnect instant is compared with.
    private var snapshotPassedAt: Int64?
    /// Since when this stream has wanted a snapshot (nil: it has one, or never asked).
    private var waitingSince: ContinuousClock.Instant?
    /// A viewer's request for a snapshot not yet passed on (the per-session budget was spent).
    private var pendingRequest: String?
    /// When the sharer's relay got the current snapshot (ms since 1970; nil: not known).
    private var snapshotReceivedAt: Int64?
    /// Resync requests for one session go out at most this often.
    static let resyncInterval: Duration = .seconds(2)
    /// How often held and unanswered requests are looked at (`retryResync`): one goes out at
    /// most this long after the budget allows it.
    static let retryCheckInterval: Duration = .milliseconds(500)
    /// A sharer that sends no snapshot for this long is gone: stop asking.
    static let resyncGiveUp: Duration = .seconds(60)

    public init() {}

    /// Nodes in the masked tree (for metrics and tests).
    public var treeNodes: Int { tree.count }

    /// What each PII detector masked in this session so far, by name.
    public var detectorHits: [String: Int] { tree.detectorHits }

    /// What the tree had masked when `takeMaskingIncrement` last ran (its counts only grow).
    private var reported = MaskingCounts()
    /// What the SDK's detectors masked, as it said in `detected` frames (only grows).
    private var sdkDetectorHits: [String: Int] = [:]
    /// A `detected` frame counts at most this many per detector: the SDK says what it masked
    /// in the last seconds, and a client that is not the SDK cannot inflate the record much.
    static let maxDetectedPerFrame = 10_000

    /// Adds an SDK's `detected` counts: known detectors only, bounded, never negative.
    private mutating func countSDKDetections(_ hits: [String: Int]) {
        for detector in BuiltInTables.detectors {
            guard let count = hits[detector.name], count > 0 else { continue }
            sdkDetectorHits[detector.name, default: 0] += min(count, Self.maxDetectedPerFrame)
        }
    }

    /// What was masked since the last call: elements, values and detector hits (for the
    /// metrics and the session's masking record).
    public mutating func takeMaskingIncrement() -> MaskingCounts {
        let now = MaskingCounts(maskedElements: tree.maskedElements, maskedValues: tree.maskedValues, detectorHits: tree.detectorHits,
                                sdkDetectorHits: sdkDetectorHits)
        defer { reported = now }
        return now.subtracting(reported)
    }

    /// Processes one sharer frame. `rules` gives the masking rules of a page by its URL.
    /// `receivedAt` is when the sharer's relay got the frame (ms since 1970), if it said.
    public mutating func process(_ frame: StreamFrame, receivedAt: Int64? = nil, now: ContinuousClock.Instant = .now,
                                 rules: (String) -> CompiledPageRules = { _ in CompiledPageRules(PageRules()) }) -> [Output] {
        if case let .snapshot(snapshot) = frame.event {
            guard let root = tree.load(snapshot.root, rules: rules(snapshot.url), stream: snapshot.stream) else {
                hasSnapshot = false
                return resync("snapshot root was refused", now: now)
            }
            var clean = snapshot
            clean.root = root
            // The tab title is the <title>'s text: masked with it (or with the whole page).
            if tree.isTitleMasked { clean.title = clean.title.map(StreamSanitizer.maskText) }
            pageURL = URL(string: snapshot.url)
            hasSnapshot = true
            awaitingSnapshot = false
            snapshotPassedAt = Date().millisecondsSince1970
            snapshotReceivedAt = receivedAt
            stream = snapshot.stream
            waitingSince = nil
            pendingRequest = nil
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
            // Frames after a gap may name nodes this tree never saw: stop until a snapshot.
            hasSnapshot = false
            return resync("sequence gap: expected \(expectedSeq), got \(frame.seq)", now: now)
        }
        expectedSeq += 1
        switch frame.event {
        case .snapshot:
            return [] // handled above
        case let .mutations(mutations):
            guard let (clean, inputs) = apply(mutations) else {
                hasSnapshot = false
                return resync("a change would reveal masked content", now: now)
            }
            var outputs: [Output] = []
            if !(clean.adds.isEmpty && clean.removes.isEmpty && clean.attrs.isEmpty && clean.texts.isEmpty) {
                outputs.append(emit(.mutations(clean)))
            }
            return outputs + inputs.map { emit(.input($0)) }
        case let .input(input):
            guard let clean = tree.input(input) else { return [] }
            return [emit(.input(clean))]
        case let .scroll(scroll):
            guard scroll.id == 0 || tree.contains(scroll.id) else { return [] }
            return [emit(.scroll(scroll))]
        case var .click(pointer):
            if let id = pointer.id, !tree.contains(id) { pointer.id = nil }
            return [emit(.click(pointer))]
        case .viewport, .cursor, .paused, .resumed:
            return [emit(frame.event)]
        case .actionDropped:
            return [] // the filter's own notice; a sharer cannot send it
        case let .detected(detected):
            countSDKDetections(detected.hits)
            return [] // for the masking record only
        }
    }

    /// Removes, then attribute changes, then adds, then text changes. Attributes go before adds
    /// (they only name nodes that already existed) so that a node added under an element
    /// that became masked or blocked in the same batch is admitted under the new rules.
    /// Nil: the batch would reveal masked content, and the stream needs a snapshot.
    private mutating func apply(_ mutations: StreamEvent.Mutations) -> (StreamEvent.Mutations, [StreamEvent.Input])? {
        var clean = StreamEvent.Mutations()
        var inputs: [StreamEvent.Input] = []
        for remove in mutations.removes where tree.remove(remove.id) {
            clean.removes.append(remove)
        }
        // `type` changes first: a batch that sets a value and turns the field into a password
        // field must mask that value whatever order the SDK listed them in.
        let typeFirst = mutations.attrs.filter { $0.name.lowercased() == "type" } + mutations.attrs.filter { $0.name.lowercased() != "type" }
        for attribute in typeFirst {
            let effects = tree.setAttribute(attribute.id, name: attribute.name, value: attribute.value)
            if effects.needsSnapshot { return nil }
            clean.removes += effects.removes.map(StreamEvent.Mutations.Remove.init)
            clean.attrs += effects.attrs
            clean.texts += effects.texts
            inputs += effects.inputs
        }
        for add in mutations.adds {
            guard let node = tree.add(add.node, parent: add.parent, before: add.next) else { continue }
            clean.adds.append(.init(parent: add.parent, next: add.next.flatMap { tree.contains($0) ? $0 : nil }, node: node))
        }
        for text in mutations.texts {
            guard let masked = tree.setText(text.id, text.text) else { continue }
            clean.texts.append(.init(id: text.id, text: masked))
        }
        return (clean, inputs)
    }

    /// An agent action, checked against the session's mode and the masking rules: it goes to
    /// the sharer, or the agent is told why not (in the view stream, in order).
    public mutating func agentAction(_ action: AgentAction, mode: SessionMode) -> [Output] {
        if let refusal = refusal(of: action, mode: mode) {
            return [emit(.actionDropped(.init(action: action.type, reason: refusal)))]
        }
        return [.action(action)]
    }

    private func refusal(of action: AgentAction, mode: SessionMode) -> ActionRefusal? {
        if action.needsWriteMode && mode != .write { return .pointerMode }
        guard hasSnapshot else { return action.needsWriteMode ? .noPage : nil }
        switch action {
        case .pointer, .annotate:
            return nil
        case let .click(id):
            guard tree.contains(id) else { return .unknownElement }
            if tree.isNoAgent(id) { return .disabledElement }
            if tree.isMasked(id) { return .maskedField }
            // A click on a link is a navigation: same site, same window only.
            if let link = tree.link(around: id) {
                if let target = link.target?.lowercased(), !target.isEmpty, target != "_self" { return .offSite }
                if !isSameSite(link.href) { return .offSite }
            }
            return nil
        case let .type(id, _):
            guard tree.contains(id) else { return .unknownElement }
            if tree.isNoAgent(id) { return .disabledElement }
            return tree.isValueMasked(id) ? .maskedField : nil
        case let .scroll(id, _, _):
            return id == 0 || tree.contains(id) ? nil : .unknownElement
        case let .navigate(to, url):
            guard to == .url else { return nil }
            return url.map(isSameSite) == true ? nil : .offSite
        }
    }

    /// Whether a URL (relative to the customer's page) stays on the page's origin.
    private func isSameSite(_ url: String) -> Bool {
        guard let page = pageURL, let target = URL(string: url, relativeTo: page)?.absoluteURL else { return false }
        return target.scheme?.lowercased() == page.scheme?.lowercased() && target.host?.lowercased() == page.host?.lowercased()
            && target.port == page.port
    }

    /// New masking rules: nothing more is forwarded until a snapshot is masked under them.
    public mutating func rulesChanged(now: ContinuousClock.Instant) -> [Output] {
        guard hasSnapshot else { return [] }
        hasSnapshot = false
        lastResync = nil
        return resync("the masking rules changed", now: now)
    }

    private mutating func emit(_ event: StreamEvent) -> Output {
        viewSeq += 1
        return .view(StreamFrame(seq: viewSeq, event))
    }

    /// Asks again for a snapshot that has not come (the request was throttled or lost, and the
    /// page may have gone quiet); called periodically. Gives up after `resyncGiveUp`.
    /// A viewer's request (the relay's `snapshot-wanted`) that was held back goes out here too.
    public mutating func retryResync(now: ContinuousClock.Instant) -> [Output] {
        if !hasSnapshot, let since = waitingSince, now - since < Self.resyncGiveUp {
            return resync("still waiting for a snapshot", now: now)
        }
        guard let reason = pendingRequest else { return [] }
        return request(reason, now: now)
    }

    /// A viewer needs a snapshot to start from (it joined, or saw a gap). The sharer is asked at
    /// once, or as soon as the session's budget allows: however many viewers ask, a page uploads
    /// at most one snapshot per `resyncInterval`. A request made (`madeAt`, ms since 1970) before
    /// the current snapshot reached the sharer's relay is already answered: the viewers got that
    /// snapshot after they asked. (Requests and frames come through different relays, so a
    /// request may arrive after the snapshot that answers it, e.g. after a broker node's loss.)
    /// `relayReconnectedAt`: a relay that got its queue back then asks (once per session) for a
    /// snapshot passed on after that instant. One is coming if a request is unanswered (it will
    /// be passed on later than now), or came if the current snapshot was passed on after the
    /// reconnect; otherwise the last one may have gone to a queue the relay no longer had: ask
    /// at once, outside the budget.
    public mutating func snapshotWanted(_ reason: String, madeAt: Int64? = nil, relayReconnectedAt: Int64? = nil,
                                        now: ContinuousClock.Instant) -> [Output] {
        if hasSnapshot, let madeAt, let snapshotReceivedAt, snapshotReceivedAt >= madeAt { return [] }
        if let relayReconnectedAt {
            if hasSnapshot, !awaitingSnapshot, let snapshotPassedAt, snapshotPassedAt >= relayReconnectedAt { return [] }
            if !awaitingSnapshot { lastResync = nil }
        }
        pendingRequest = reason
        return request(reason, now: now)
    }

    /// A cursor frame skipped as late (`SheddingPolicy`): it names no node, so the stream goes
    /// on in sequence without it; out of sequence, it is a gap like any other frame.
    public mutating func skipCursor(seq: Int, now: ContinuousClock.Instant) -> [Output] {
        guard hasSnapshot else { return resync("no snapshot yet", now: now) }
        guard seq == expectedSeq else {
            hasSnapshot = false
            return resync("sequence gap: expected \(expectedSeq), got \(seq)", now: now)
        }
        expectedSeq += 1
        return []
    }

    /// A sharer frame the filter did not read (too deep, or shed as late): the tree may miss
    /// what it said, so nothing more is forwarded until a new snapshot, which is asked for.
    public mutating func refused(_ reason: String, now: ContinuousClock.Instant) -> [Output] {
        hasSnapshot = false
        return resync(reason, now: now)
    }

    private mutating func resync(_ reason: String, now: ContinuousClock.Instant) -> [Output] {
        if waitingSince == nil { waitingSince = now }
        return request(reason, now: now)
    }

    private mutating func request(_ reason: String, now: ContinuousClock.Instant) -> [Output] {
        if let last = lastResync, now - last < Self.resyncInterval { return [] }
        lastResync = now
        awaitingSnapshot = true
        pendingRequest = nil
        return [.resync(reason: reason)]
    }
}

/// Counts of what a stream masked; they only grow, so two readings subtract.
public struct MaskingCounts: Sendable, Equatable {
    public var maskedElements = 0
    public var maskedValues = 0
    /// What the filter's detectors masked (what reached it unmasked).
    public var detectorHits: [String: Int] = [:]
    /// What the SDK's detectors masked, as it reported.
    public var sdkDetectorHits: [String: Int] = [:]

    public init(maskedElements: Int = 0, maskedValues: Int = 0, detectorHits: [String: Int] = [:], sdkDetectorHits: [String: Int] = [:]) {
        self.maskedElements = maskedElements
        self.maskedValues = maskedValues
        self.detectorHits = detectorHits
        self.sdkDetectorHits = sdkDetectorHits
    }

    /// What this reading adds to an earlier one.
    func subtracting(_ earlier: MaskingCounts) -> MaskingCounts {
        func growth(_ now: [String: Int], _ before: [String: Int]) -> [String: Int] {
            now.reduce(into: [:]) { result, item in
                let new = item.value - (before[item.key] ?? 0)
                if new > 0 { result[item.key] = new }
            }
        }
        return MaskingCounts(maskedElements: max(0, maskedElements - earlier.maskedElements),
                             maskedValues: max(0, maskedValues - earlier.maskedValues),
                             detectorHits: growth(detectorHits, earlier.detectorHits),
                             sdkDetectorHits: growth(sdkDetectorHits, earlier.sdkDetectorHits))
    }
}
