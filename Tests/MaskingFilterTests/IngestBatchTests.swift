import CobrowseProtocol
import Foundation
import Testing

/// The ingest batch wire form: records of many sessions in one message, bodies passed as sent.
@Suite struct IngestBatchTests {
    let a = SessionID("000000001")!, b = SessionID("123456789")!

    @Test func recordsRoundTripInOrderWithTheirBodiesByteForByte() throws {
        let records = [
            IngestBatch.Record(session: a, receivedAt: 1_733_440_000_123, body: Data(#"{"t":"cursor","seq":2,"x":1,"y":2}"#.utf8)),
            IngestBatch.Record(session: b, body: Data("{\n  \"t\" : \"resync\"\n}".utf8)), // newlines inside a body
            IngestBatch.Record(session: a, body: Data()),
        ]
        let decoded = IngestBatch.decode(IngestBatch.encode(records))
        #expect(decoded.error == nil)
        #expect(decoded.records == records)
    }

    @Test func anEmptyBatchHasNoRecords() {
        let decoded = IngestBatch.decode(Data())
        #expect(decoded.records.isEmpty && decoded.error == nil)
    }

    @Test func aBrokenRecordEndsTheReadingAndKeepsWhatCameBefore() {
        let good = IngestBatch.encode([.init(session: a, body: Data("{}".utf8))])
        let cases: [(String, String)] = [
            ("000000001 0 50\n{}", "the body is 50 bytes, but 2 are left"),
            ("00000001 0 2\n{}", "the session is not nine digits"),
            ("000000001 -5 2\n{}", "the time is not a number"),
            ("000000001 0 x\n{}", "the length is not a number"),
            ("000000001 0\n{}", "three fields"),
            (String(repeating: "9", count: 80), "no header line"),
        ]
        for (broken, reason) in cases {
            var batch = good
            batch.append(Data(broken.utf8))
            let decoded = IngestBatch.decode(batch)
            #expect(decoded.records.count == 1, "\(broken)")
            #expect(decoded.error?.offset == good.count, "\(broken)")
            #expect(decoded.error?.reason.contains(reason) == true, "\(broken): \(String(describing: decoded.error))")
        }
    }

    @Test func theReaderWorksOnASliceOfALargerBuffer() throws {
        let batch = IngestBatch.encode([.init(session: b, receivedAt: 7, body: Data("abc".utf8))])
        let padded = Data("xx".utf8) + batch
        var reader = IngestBatch.Reader(padded.dropFirst(2))
        #expect(try reader.next() == .init(session: b, receivedAt: 7, body: Data("abc".utf8)))
        #expect(try reader.next() == nil)
    }
}
