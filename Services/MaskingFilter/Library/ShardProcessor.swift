import CobrowseProtocol
import Foundation
import Logging
import MaskingRules
import Metrics

/// The sessions of one ingest shard, and what to do with each record a relay sent for them:
/// masked frames for the viewers, approved actions and snapshot requests for the sharer. No I/O:
/// `FilterWorker` feeds it records in delivery order and publishes what it returns.
struct ShardProcessor {
    /// What one record (or one tick) produced for one session.
    struct Result {
        var session: SessionID
        var outputs: [SessionStream.Output]
        /// When the sharer's relay got the frame these outputs come from, passed on to the viewers.
        var receivedAt: Int64? = nil
    }

    private struct Tracked {
        var stream = SessionStream()
        var lastSeen: ContinuousClock.Instant
        /// The rules generation its snapshot was masked under.
        var rulesGeneration: Int
        /// What to add to the session's masking record at the registry, not yet sent.
        var masking = MaskingRecord()
        /// The rules file (its hash) the record last named for this session.
        var recordedRulesHash: String?
        /// The page (as the record keeps its address) of the last snapshot passed on.
        var lastPage: String?
        /// Its figures since the last health report.
        var health = HealthWindow()

        /// A snapshot passed on: a page visit for the record, unless it is the page already shown
        /// (a resync's snapshot).
        mutating func recordPage(_ url: String, rules: MaskingRules) {
            let address = PageAddress.kept(url, rules: rules)
            guard address != lastPage else { return }
            lastPage = address
            masking.pagesTotal += 1
            if masking.pages.count < MaskingRecord.listsKept { masking.pages.append(.init(at: Date(), url: address)) }
        }

        /// An agent action passed on to the page (pointer moves aside: they are the agent's
        /// cursor, dozens a second, not something done to the page).
        mutating func recordForwarded(_ action: AgentAction) {
            if case .pointer = action { return }
            masking.forwardedActionsTotal += 1
            if masking.forwardedActions.count < MaskingRecord.listsKept {
                masking.forwardedActions.append(.init(at: Date(), action: action.type))
            }
        }

        /// Counts a frame's masking into the record to send.
        mutating func recordMasking(rulesHash: String) {
            if recordedRulesHash != rulesHash {
                recordedRulesHash = rulesHash
                masking.rulesHashes.append(rulesHash)
            }
            let increment = stream.takeMaskingIncrement()
            FilterWorker.maskedElements.increment(by: increment.maskedElements)
            masking.maskedElements += increment.maskedElements
            masking.maskedValues += increment.maskedValues
            for (detector, hits) in increment.sdkDetectorHits {
                FilterWorker.sdkDetectorHits(detector).increment(by: hits)
                masking.sdkDetectorHits[detector, default: 0] += hits
            }
            for (detector, hits) in increment.detectorHits {
                FilterWorker.detectorHits(detector).increment(by: hits)
                masking.detectorHits[detector, default: 0] += hits
            }
        }

        /// Records an agent action the filter dropped.
        mutating func recordDropped(_ dropped: StreamEvent.DroppedAction) {
            masking.droppedActionsTotal += 1
            if masking.droppedActions.count < MaskingRecord.droppedActionsKept {
                masking.droppedActions.append(.init(at: Date(), action: dropped.action, reason: dropped.reason.rawValue))
            }
        }

        /// New rules since its snapshot: the stream waits for one masked under them.
        mutating func catchUp(with generation: Int, now: ContinuousClock.Instant) -> [SessionStream.Output] {
            guard rulesGeneration != generation else { return [] }
            rulesGeneration = generation
            return stream.rulesChanged(now: now)
        }
    }

    private var sessions: [SessionID: Tracked] = [:]
    private var processed = 0
    private let decoder = JSONDecoder()
    let rules: MaskingRulesSource
    let shedding: SheddingPolicy
    /// A session without frames for this long is forgotten (its viewers will ask for a resync).
    let idleEviction: Duration
    let logger: Logger

    init(rules: MaskingRulesSource, shedding: SheddingPolicy, idleEviction: Duration, logger: Logger) {
        self.rules = rules
        self.shedding = shedding
        self.idleEviction = idleEviction
        self.logger = logger
    }

    /// Sessions currently tracked on this shard.
    var sessionCount: Int { sessions.count }

    /// The masking record increments not yet sent to the registry, by session; cleared here.
    mutating func takeMaskingRecords() -> [(session: SessionID, record: MaskingRecord)] {
        var taken: [(session: SessionID, record: MaskingRecord)] = []
        for (session, tracked) in sessions where !tracked.masking.isEmpty {
            taken.append((session, tracked.masking))
            sessions[session]?.masking = MaskingRecord()
        }
        return taken
    }

    private static let malformed = FilterWorker.dropped("malformed"), notForwardable = FilterWorker.dropped("not-forwardable")
    private static let tooDeep = FilterWorker.dropped("too-deep"), late = FilterWorker.dropped("late")
    private static let lateCursor = FilterWorker.dropped("late-cursor")

    /// The session's state, taken out of the map (a new one if it is not there): the caller
    /// changes it and puts it back. Taken, not copied: a copy would share the masked tree's
    /// storage with the map's, and the first change would copy the whole tree, on every frame.
    private mutating func take(_ session: SessionID, now: ContinuousClock.Instant) -> Tracked {
        sessions.removeValue(forKey: session) ?? Tracked(lastSeen: now, rulesGeneration: rules.generation)
    }

    /// A session quiet for this long (no frame, no action, no request) is left out of health
    /// reports: its status turns unknown.
    static let healthQuietLimit: Duration = .seconds(300)

    /// Each session's health over the window that closes now (`length` long, since the last
    /// call), for the registry; the next window starts. Sessions quiet for `healthQuietLimit`
    /// are left out.
    mutating func takeHealth(length: Duration, now: ContinuousClock.Instant = .now, at: Date = Date()) -> [SessionHealth] {
        var reports: [SessionHealth] = []
        for (session, tracked) in sessions where now - tracked.lastSeen < Self.healthQuietLimit {
            reports.append(sessions[session]!.health.close(session, at: at, length: length))
        }
        return reports
    }

    /// Time passed: snapshots not yet come are asked again, sessions masked under older rules
    /// wait for a new snapshot.
    mutating func tick(now: ContinuousClock.Instant) -> [Result] {
        let generation = rules.generation
        var results: [Result] = []
        for (session, var tracked) in sessions {
            let outputs = tracked.catchUp(with: generation, now: now) + tracked.stream.retryResync(now: now)
            guard !outputs.isEmpty else { continue }
            sessions[session] = tracked
            let result = Result(session: session, outputs: outputs)
            account(result)
            results.append(result)
        }
        return results
    }

    /// One record of an ingest batch: a sharer's frame, an agent action, or a relay's request.
    /// `mode` tells a session's mode (pointer unless the registry said write). What it produced
    /// is counted into the session's record and health window.
    mutating func handle(_ record: IngestBatch.Record, mode: (SessionID) -> SessionMode,
                         now: ContinuousClock.Instant = .now) -> Result {
        let result = outcome(of: record, mode: mode, now: now)
        account(result)
        return result
    }

    /// Counts what a record or tick produced: snapshots asked for (the record's total and the
    /// health window), masked frames passed on with their latency (frames the sharer's relay
    /// stamped; actions' notices to the viewers are not frames).
    private mutating func account(_ result: Result) {
        guard !result.outputs.isEmpty else { return }
        let at = Date()
        for output in result.outputs {
            // In place in the map: a copy taken out would have its sample buffer copied.
            switch output {
            case .resync:
                sessions[result.session]?.masking.resyncRequests += 1
                sessions[result.session]?.health.resyncAsked()
            case .view:
                guard let receivedAt = result.receivedAt else { continue }
                sessions[result.session]?.health.framePassed(latencyMilliseconds: Int(at.millisecondsSince1970 - receivedAt), at: at)
            case .action, .presence:
                break
            }
        }
    }

    private mutating func outcome(of record: IngestBatch.Record, mode: (SessionID) -> SessionMode,
                                  now: ContinuousClock.Instant) -> Result {
        let session = record.session, body = record.body
        var result = Result(session: session, outputs: [])
        guard let head = FrameCoding.head(of: body) else {
            Self.malformed.increment()
            return result
        }
        switch head.t {
        case RelayRequest.Kind.snapshotWanted.rawValue, RelayRequest.Kind.presence.rawValue:
            guard let request = try? decoder.decode(RelayRequest.self, from: body) else {
                Self.malformed.increment()
                return result
            }
            switch request.t {
            case .snapshotWanted:
                var tracked = take(session, now: now)
                result.outputs = tracked.stream.snapshotWanted(request.reason ?? "a viewer asked", madeAt: request.at,
                                                               relayReconnectedAt: request.reconnectedAt, now: now)
                sessions[session] = tracked
            case .presence:
                guard let lead = request.lead else {
                    Self.malformed.increment()
                    return result
                }
                result.outputs = [.presence(lead)]
            }
            return result
        case "agent":
            guard let frame = try? decoder.decode(AgentActionFrame.self, from: body) else {
                Self.malformed.increment()
                return result
            }
            var tracked = take(session, now: now)
            result.outputs = tracked.stream.agentAction(frame.action, mode: mode(session))
            sessions[session] = tracked
            for output in result.outputs {
                switch output {
                case let .view(notice):
                    if case let .actionDropped(dropped) = notice.event {
                        FilterWorker.actions("dropped", dropped.reason.rawValue).increment()
                        sessions[session]?.recordDropped(dropped)
                    }
                case let .action(action):
                    sessions[session]?.recordForwarded(action)
                case .resync, .presence:
                    break
                }
            }
            return result
        default:
            break
        }
        // A frame that waited past the shedding limit is dropped before it is parsed.
        if let stamp = record.receivedAt {
            let waitedMilliseconds = max(0, Date().millisecondsSince1970 - stamp)
            let waited = Duration.milliseconds(waitedMilliseconds)
            FilterWorker.ingestWait.recordMilliseconds(waitedMilliseconds)
            if let threshold = shedding.threshold, waited > threshold {
                switch shedding.verdict(type: head.t, waited: waited) {
                case .process:
                    break
                case .skipCursor:
                    guard let seq = head.seq else {
                        Self.malformed.increment()
                        return result
                    }
                    Self.lateCursor.increment()
                    var tracked = take(session, now: now)
                    result.outputs = tracked.stream.skipCursor(seq: seq, now: now)
                    tracked.lastSeen = now
                    sessions[session] = tracked
                    return result
                case .shed:
                    Self.late.increment()
                    var tracked = take(session, now: now)
                    result.outputs = tracked.stream.refused(
                        "fell behind: a frame waited \(waitedMilliseconds) ms on its shard (shed after \(shedding.frames.map { "\($0)" } ?? "never"))",
                        now: now)
                    tracked.lastSeen = now
                    sessions[session] = tracked
                    return result
                }
            }
        }
        let frame: StreamFrame
        do {
            frame = try FrameCoding.decode(body)
        } catch let error as FrameTooDeep {
            // Refused unread, like a snapshot the masked tree refuses: the stream waits for a new one.
            Self.tooDeep.increment()
            logger.info("dropped a frame too deep to read", metadata: ["session": "\(session)", "nesting": "\(error.nesting)"])
            var tracked = take(session, now: now)
            result.outputs = tracked.stream.refused(
                "too deep: the page is nested deeper than \(StreamLimits.maxNodeDepth) elements", now: now)
            tracked.lastSeen = now
            sessions[session] = tracked
            return result
        } catch {
            Self.malformed.increment()
            logger.debug("dropped malformed frame", metadata: ["session": "\(session)"])
            return result
        }
        let generation = rules.generation
        var tracked = take(session, now: now)
        result.outputs = tracked.catchUp(with: generation, now: now)
            + tracked.stream.process(frame, receivedAt: record.receivedAt, now: now, rules: rules.compiledRules(for:))
        tracked.recordMasking(rulesHash: rules.rules.sourceHash)
        if case let .snapshot(snapshot) = frame.event, result.outputs.contains(where: { if case .view = $0 { true } else { false } }) {
            tracked.recordPage(snapshot.url, rules: rules.rules)
        }
        tracked.lastSeen = now
        sessions[session] = tracked
        if result.outputs.isEmpty, frame.event.type != "snapshot" { Self.notForwardable.increment() }
        result.receivedAt = record.receivedAt
        processed += 1
        if processed % 10_000 == 0 {
            sessions = sessions.filter { now - $0.value.lastSeen < idleEviction }
        }
        return result
    }
}
