@testable import CobrowseProtocol
import Foundation
import Testing

/// The registry's wire types: what goes on `cobrowse.registry.rpc` and `cobrowse.lifecycle`.
@Suite struct RegistryProtocolTests {
    static let id = SessionID("123456789")!
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static let everyCommand: [RegistryCommand] = [
        .create(interactionToken: "interaction.jwt"),
        .join(session: id, agentToken: "agent.jwt"),
        .requestWrite(session: id, agentToken: "agent.jwt"),
        .answerWrite(session: id, customerKey: "customer-key", approve: true),
        .answerWrite(session: id, customerKey: "customer-key", approve: false),
        .revokeWrite(session: id, customerKey: "customer-key"),
        .end(session: id, by: .customer(key: "customer-key")),
        .end(session: id, by: .agent(token: "agent.jwt")),
        .end(session: id, by: .system(name: "interaction-watch", reason: .interactionEnded)),
        .end(session: id, by: .system(name: "dom-relay", reason: .inactivity)),
        .end(session: id, by: .administrator),
        .get(session: SessionID("000000001")!),
        .resume(session: id, customerKey: "customer-key"),
        .endInteraction(interactionID: "ix-1", reason: .interactionTransferred,
                        occurredAt: Date(millisecondsSince1970: 1_800_000_000_123), system: "interaction-watch"),
        .listLive,
        .issueVoiceCode(agentToken: "agent.jwt", interactionToken: "call.jwt"),
        .startWithVoiceCode(code: "042137"),
        .voiceCodeStatus(code: "042137", agentToken: "agent.jwt"),
        .recordMasking(session: id, record: {
            var record = MaskingRecord()
            record.rulesHashes = ["built-in"]
            record.maskedElements = 2
            record.maskedValues = 1
            record.detectorHits = ["card": 1]
            record.sdkDetectorHits = ["email": 2]
            record.droppedActions = [.init(at: Date(millisecondsSince1970: 1_800_000_000_123), action: "type", reason: "pointer-mode")]
            record.droppedActionsTotal = 1
            record.pages = [.init(at: Date(millisecondsSince1970: 1_800_000_000_000), url: "https://shop.example/cart")]
            record.pagesTotal = 1
            record.forwardedActions = [.init(at: Date(millisecondsSince1970: 1_800_000_000_500), action: "click")]
            record.forwardedActionsTotal = 1
            record.resyncRequests = 3
            return record
        }()),
        .sealingKey,
        .reportHealth(sessions: [
            SessionHealth(sessionID: id, at: Date(millisecondsSince1970: 1_800_000_002_000), windowMilliseconds: 2000, framesPassed: 12,
                          latencyP50Milliseconds: 3, latencyMaxMilliseconds: 9, resyncs: 1,
                          lastFrameAt: Date(millisecondsSince1970: 1_800_000_001_900)),
            SessionHealth(sessionID: SessionID("000000001")!, at: Date(millisecondsSince1970: 1_800_000_002_000), windowMilliseconds: 2000,
                          framesPassed: 0, latencyP50Milliseconds: nil, latencyMaxMilliseconds: nil, resyncs: 0, lastFrameAt: nil),
        ]),
        .superviseLive(agentToken: "supervisor.jwt"),
    ]

    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try JSONEncoder.cobrowse.encode(value), as: UTF8.self)
    }

    static func decodeRequest(_ text: String) throws -> RegistryRequest {
        try JSONDecoder.cobrowse.decode(RegistryRequest.self, from: Data(text.utf8))
    }

    @Test func aMaskingRecordStoredBeforeAFieldExistedReadsItAsEmpty() throws {
        let stored = ##"{"rulesHashes":["built-in"],"maskedElements":2,"maskedValues":1,"detectorHits":{"card":1},"droppedActions":[],"droppedActionsTotal":0}"##
        let record = try JSONDecoder.cobrowse.decode(MaskingRecord.self, from: Data(stored.utf8))
        #expect(record.sdkDetectorHits == [:])
        #expect(record.pages.isEmpty && record.pagesTotal == 0 && record.forwardedActions.isEmpty && record.forwardedActionsTotal == 0)
        #expect(record.resyncRequests == 0)
        #expect(record.detectorHits == ["card": 1])
        #expect(record.maskedElements == 2)
    }

    // MARK: Requests

    @Test(arguments: everyCommand)
    func everyCommandRoundTripsThroughJSON(_ command: RegistryCommand) throws {
        let request = RegistryRequest(command)
        let data = try JSONEncoder.cobrowse.encode(request)
        let decoded = try JSONDecoder.cobrowse.decode(RegistryRequest.self, from: data)
        #expect(decoded == request)
        #expect(decoded.version == RegistryProtocol.version)
        #expect(String(decoding: data, as: UTF8.self).contains("\"command\":\"\(command.name)\""))
    }

    @Test func requestsAreFlatJSONWithACommandDiscriminator() throws {
        #expect(try Self.json(RegistryRequest(.create(interactionToken: "tok")))
            == #"{"command":"create","interactionToken":"tok","version":1}"#)
        #expect(try Self.json(RegistryRequest(.answerWrite(session: Self.id, customerKey: "k", approve: true)))
            == #"{"approve":true,"command":"answerWrite","customerKey":"k","sessionID":"123456789","version":1}"#)
        #expect(try Self.json(RegistryRequest(.end(session: Self.id, by: .system(name: "interaction-watch", reason: .interactionTransferred))))
            == #"{"by":"system","command":"end","reason":"interaction-transferred","sessionID":"123456789","system":"interaction-watch","version":1}"#)
        #expect(try Self.json(RegistryRequest(.end(session: Self.id, by: .administrator)))
            == #"{"by":"administrator","command":"end","sessionID":"123456789","version":1}"#)
    }

    @Test func commandNamesAreTheWireDiscriminators() {
        #expect(Self.everyCommand.map(\.name) == [
            "create", "join", "requestWrite", "answerWrite", "answerWrite", "revokeWrite", "end", "end", "end", "end", "end", "get",
            "resume", "endInteraction", "listLive", "issueVoiceCode", "startWithVoiceCode", "voiceCodeStatus", "recordMasking",
            "sealingKey", "reportHealth", "superviseLive",
        ])
    }

    @Test func exactlyTheCommandsWithATokenAKeyOrACodeCarryCredentials() {
        let carrying = Self.everyCommand.filter(\.carriesCredentials).map(\.name)
        #expect(carrying == ["create", "join", "requestWrite", "answerWrite", "answerWrite", "revokeWrite", "end", "end", "resume",
                             "issueVoiceCode", "startWithVoiceCode", "voiceCodeStatus", "superviseLive"])
    }

    @Test func decodingAnUnknownCommandFails() {
        let error = #expect(throws: DecodingError.self) {
            try Self.decodeRequest(#"{"version":1,"command":"teleport","sessionID":"123456789"}"#)
        }
        guard case let .dataCorrupted(context)? = error else {
            Issue.record("expected dataCorrupted, got \(String(describing: error))")
            return
        }
        #expect(context.codingPath.map(\.stringValue) == ["command"])
        #expect(context.debugDescription.contains("teleport"))
    }

    @Test func decodingAnUnknownEndingPartyFails() {
        let error = #expect(throws: DecodingError.self) {
            try Self.decodeRequest(#"{"version":1,"command":"end","by":"janitor","sessionID":"123456789"}"#)
        }
        guard case let .dataCorrupted(context)? = error else {
            Issue.record("expected dataCorrupted, got \(String(describing: error))")
            return
        }
        #expect(context.codingPath.map(\.stringValue) == ["by"])
        #expect(context.debugDescription.contains("janitor"))
    }

    @Test(arguments: ["12345", "abcdefghi", "1234567890", ""])
    func decodingABadSessionIDFails(_ sessionID: String) {
        let error = #expect(throws: DecodingError.self) {
            try Self.decodeRequest(#"{"version":1,"command":"get","sessionID":"\#(sessionID)"}"#)
        }
        guard case let .dataCorrupted(context)? = error else {
            Issue.record("expected dataCorrupted, got \(String(describing: error))")
            return
        }
        #expect(context.codingPath.map(\.stringValue) == ["sessionID"])
    }

    @Test func decodingAMissingFieldNamesIt() {
        let error = #expect(throws: DecodingError.self) {
            try Self.decodeRequest(#"{"version":1,"command":"join","sessionID":"123456789"}"#)
        }
        guard case let .keyNotFound(key, _)? = error else {
            Issue.record("expected keyNotFound, got \(String(describing: error))")
            return
        }
        #expect(key.stringValue == "agentToken")
    }

    @Test func endBySystemNeedsAKnownReason() {
        #expect(throws: DecodingError.self) {
            try Self.decodeRequest(#"{"version":1,"command":"end","by":"system","system":"x","reason":"boredom","sessionID":"123456789"}"#)
        }
    }

    @Test func aNewerVersionDecodesWithoutThrowing() throws {
        let newer = RegistryProtocol.version + 1
        let request = try Self.decodeRequest(#"{"version":\#(newer),"command":"hologram","shape":{"x":1}}"#)
        #expect(request.version == newer)
        #expect(request.version > RegistryProtocol.version)
    }

    @Test func theCurrentVersionIsOne() {
        #expect(RegistryProtocol.version == 1)
        #expect(RegistryRequest(.get(session: Self.id)).version == 1)
    }

    // MARK: Session ids

    @Test(arguments: ["123456789", "123 456 789", "123-456-789", " 123-456 789 "])
    func sessionIDAcceptsWhatAPersonTypes(_ text: String) throws {
        let id = try #require(SessionID(text))
        #expect(id.digits == "123456789")
        #expect(id.description == "123456789")
        #expect(id == Self.id)
    }

    @Test(arguments: ["12345678", "1234567890", "١٢٣٤٥٦٧٨٩", "１２３４５６７８９", "12345678a", "", "123.456.789", "+12345678"])
    func sessionIDRejectsAnythingButNineASCIIDigits(_ text: String) {
        #expect(SessionID(text) == nil)
    }

    @Test func sessionIDEncodesAsItsNineDigits() throws {
        #expect(try Self.json([SessionID("123-456-789")!]) == #"["123456789"]"#)
        #expect(SessionID("123 456 789")!.routingKey == "s.123456789")
    }

    @Test func randomSessionIDsAreNineDigitsAndRarelyRepeat() {
        let ids = (0..<10_000).map { _ in SessionID.random() }
        #expect(ids.allSatisfy { $0.digits.count == 9 && $0.digits.allSatisfy { "0123456789".contains($0) } })
        #expect(ids.allSatisfy { SessionID($0.digits) == $0 })
        #expect(Set(ids).count > 9_990)
        // Uniform over 000000000...999999999: every leading digit, zero included, shows up.
        #expect(Set(ids.map { $0.digits.first! }).count == 10)
    }

    // MARK: Actors

    static let everyActor: [Actor] = [
        .customer, .administrator, .agent("agent-7"), .supervisor("sup-3"), .system("interaction-watch"),
        .system("write-request-timer"), .agent("id:with:colons"),
    ]

    @Test(arguments: everyActor)
    func actorDescriptionRoundTrips(_ actor: Actor) throws {
        #expect(Actor(actor.description) == actor)
        let decoded = try JSONDecoder.cobrowse.decode([Actor].self, from: JSONEncoder.cobrowse.encode([actor]))
        #expect(decoded == [actor])
    }

    @Test func actorDescriptionsAreStable() {
        #expect(Actor.customer.description == "customer")
        #expect(Actor.administrator.description == "administrator")
        #expect(Actor.agent("a1").description == "agent:a1")
        #expect(Actor.supervisor("s1").description == "supervisor:s1")
        #expect(Actor.system("watch").description == "system:watch")
    }

    @Test(arguments: ["", "robot", "agent", "customer:x", "administrator:y", "Agent:a1", ":a1"])
    func unknownActorTextIsRejected(_ text: String) {
        #expect(Actor(text) == nil)
        #expect(throws: DecodingError.self) {
            try JSONDecoder.cobrowse.decode([Actor].self, from: Data(#"["\#(text)"]"#.utf8))
        }
    }

    // MARK: Events

    @Test(arguments: SessionEvent.Kind.allCases)
    func sessionEventRoutingKeyIsSessionThenKind(_ kind: SessionEvent.Kind) {
        let event = SessionEvent(kind: kind, at: Self.t0, by: .customer, session: Self.view())
        #expect(event.routingKey == "s.123456789.\(kind.rawValue)")
        #expect(event.version == RegistryProtocol.version)
    }

    @Test func eventKindsHaveStableWireNames() {
        #expect(SessionEvent.Kind.allCases.map(\.rawValue) == [
            "created", "activated", "observer-joined", "observer-left", "mode-requested", "mode-request-declined", "mode-changed", "ended",
        ])
        #expect(SessionEvent(kind: .observerJoined, at: Self.t0, by: .customer, session: Self.view()).routingKey
            == "s.123456789.observer-joined")
    }

    static func view() -> SessionView {
        SessionView(
            id: id, state: .ended, mode: .pointer, writeRequestPendingUntil: t0.addingTimeInterval(30.5),
            interactionID: "ix-1", channel: .messaging, leadAgentID: "agent-7", observers: ["sup-3"],
            createdAt: t0, joinedAt: t0.addingTimeInterval(1.25), endedAt: t0.addingTimeInterval(99.5),
            endReason: .agentAbsent, endedBy: .system("interaction-watch"),
            modeChanges: [ModeChange(kind: .requested, at: t0.addingTimeInterval(2.5), by: .agent("agent-7")),
                          ModeChange(kind: .timedOut, at: t0.addingTimeInterval(32.5), by: .system("write-request-timer"))])
    }

    @Test func sessionEventRoundTripsThroughJSON() throws {
        let event = SessionEvent(kind: .ended, at: Self.t0.addingTimeInterval(99.5), by: .system("interaction-watch"), session: Self.view())
        let data = try JSONEncoder.cobrowse.encode(event)
        #expect(try JSONDecoder.cobrowse.decode(SessionEvent.self, from: data) == event)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#""at":"2027-01-15T08:01:39.500Z""#))
        #expect(text.contains(#""endReason":"agent-absent""#))
        #expect(text.contains(#""timed-out""#))
    }

    // MARK: Replies and refusals

    @Test func replyGetReturnsTheSessionOrThrowsTheRefusal() throws {
        #expect(try RegistryReply.ok(Self.view()).get() == Self.view())
        let taken = RegistryRefusal(.sessionTaken, "taken")
        #expect(throws: taken) { try RegistryReply.refused(taken).get() }
        let empty = try JSONDecoder.cobrowse.decode(RegistryReply.self, from: Data(#"{"version":1}"#.utf8))
        let refusal = #expect(throws: RegistryRefusal.self) { try empty.get() }
        #expect(refusal?.code == .unavailable)
    }

    @Test func refusalsTravelAsCodeAndMessage() throws {
        let reply = RegistryReply.refused(.unknownSession(Self.id))
        let text = try Self.json(reply)
        #expect(text.contains(#""code":"unknown-session""#))
        #expect(text.contains("123456789"))
        #expect(try JSONDecoder.cobrowse.decode(RegistryReply.self, from: Data(text.utf8)) == reply)
        #expect(RegistryRefusal.sessionEnded.description == "session-ended: session ended; start a new one")
    }

    // MARK: Dates

    @Test func cobrowseDateIsUTCISO8601WithMilliseconds() {
        #expect(CobrowseDate.format(Self.t0) == "2027-01-15T08:00:00.000Z")
        #expect(CobrowseDate.format(Self.t0.addingTimeInterval(0.5)) == "2027-01-15T08:00:00.500Z")
        #expect(CobrowseDate.format(Self.t0.addingTimeInterval(3661.25)) == "2027-01-15T09:01:01.250Z")
    }

    @Test(arguments: [0.0, 0.5, 0.25, 0.125, 0.875, 59.75])
    func cobrowseDateRoundTripsWithMilliseconds(_ offset: Double) throws {
        let date = Self.t0.addingTimeInterval(offset)
        let parsed = try #require(CobrowseDate.parse(CobrowseDate.format(date)))
        #expect(parsed == date)
        let decoded = try JSONDecoder.cobrowse.decode([Date].self, from: JSONEncoder.cobrowse.encode([date]))
        #expect(decoded == [date])
    }

    @Test func theSuitesOwnFormIsReadExactlyAsFoundationReadsItAcrossCenturies() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            // From 1900 to 2400: leap years, century years, month ends.
            let milliseconds = Int64.random(in: -2_208_988_800_000...13_569_465_600_000, using: &generator)
            let text = CobrowseDate.format(Date(millisecondsSince1970: milliseconds))
            #expect(CobrowseDate.suiteForm(text) == milliseconds, "\(text)")
        }
        for text in ["2000-02-29T00:00:00.000Z", "2024-12-31T23:59:59.999Z", "1970-01-01T00:00:00.000Z"] {
            let whole = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)
            #expect(CobrowseDate.suiteForm(text) == whole?.millisecondsSince1970, "\(text)")
        }
        // Not the suite's form, or not a date: left to the general path (Foundation's).
        for text in ["2027-02-29T00:00:00.000Z", "2027-13-01T00:00:00.000Z", "2027-01-15T24:00:00.000Z", "2027-01-15T08:00:00Z",
                     "2027-01-15T08:00:00.000+01:00", "2027-01-15 08:00:00.000Z", "２０２７-01-15T08:00:00.000Z"] {
            #expect(CobrowseDate.suiteForm(text) == nil, "\(text)")
        }
    }

    @Test func cobrowseDateParsesTimesWithoutAFraction() {
        #expect(CobrowseDate.parse("2027-01-15T08:00:00Z") == Self.t0)
        #expect(CobrowseDate.parse("2027-01-15T08:00:00.250Z") == Self.t0.addingTimeInterval(0.25))
        #expect(CobrowseDate.parse("yesterday") == nil)
    }

    @Test func cobrowseDecoderRejectsANonDate() {
        #expect(throws: DecodingError.self) {
            try JSONDecoder.cobrowse.decode([Date].self, from: Data(#"["15 January 2027"]"#.utf8))
        }
    }

    /// Every millisecond must survive text -> Date -> text (a Double just below x.yyy must not
    /// be written as x.yyy - 0.001).
    @Test func cobrowseDateKeepsEveryMillisecondOfTextItParsed() {
        var drifted: [String] = []
        for ms in 0..<1000 {
            let text = "2027-01-15T08:00:00.\(String(format: "%03d", ms))Z"
            guard let date = CobrowseDate.parse(text) else {
                Issue.record("cannot parse \(text)")
                continue
            }
            if CobrowseDate.format(date) != text { drifted.append(text) }
        }
        let count = drifted.count
        #expect(count == 0, "\(count) of 1000 drifted by 1 ms, e.g. \(drifted.prefix(3))")
    }
}
