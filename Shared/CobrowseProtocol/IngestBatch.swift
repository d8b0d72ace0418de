import Foundation

/// What a relay sends the masking filter in one AMQP message: the frames and requests of any
/// number of sessions that hash to one ingest shard, in the order the relay got them. One
/// message per shard and batch instead of one per frame, because the broker's cost is per
/// message, not per byte (docs/stream-protocol.md "Ingest batches").
///
/// Each record is a header line, then the body's bytes as the browser sent them:
///
///     <session id, 9 digits> <received at, ms since 1970, 0: not a sharer's frame> <body bytes>\n<body>
///
/// The bodies are never re-encoded: the filter reads each one as if it had come alone.
public enum IngestBatch {
    /// The AMQP content type of a batch.
    public static let contentType = "application/vnd.cobrowse.ingest-batch"
    /// A header line is at most this long (9 digits, a 19-digit time, a 19-digit length, two spaces).
    static let maxHeaderBytes = 64

    /// One record of a batch.
    public struct Record: Sendable, Equatable {
        /// The session the body belongs to.
        public var session: SessionID
        /// When the sharer's relay got the frame (ms since 1970); nil for the relay's own requests.
        public var receivedAt: Int64?
        /// The body, byte for byte as the browser (or the relay) sent it.
        public var body: Data

        /// A record.
        /// - Parameters:
        ///   - session: The session the body belongs to.
        ///   - receivedAt: When the sharer's relay got the frame (ms since 1970); nil for a relay's own request.
        ///   - body: The body's bytes.
        public init(session: SessionID, receivedAt: Int64? = nil, body: Data) {
            self.session = session
            self.receivedAt = receivedAt
            self.body = body
        }
    }

    /// A batch that cannot be read on from `offset` (only a broken relay writes one).
    public struct Malformed: Error, Equatable, CustomStringConvertible {
        /// Where the malformed record starts, in bytes from the start of the batch.
        public let offset: Int
        /// What is wrong with it.
        public let reason: String
        /// The offset and reason in one line, for logs.
        public var description: String { "malformed ingest batch at byte \(offset): \(reason)" }
    }

    /// Appends one record to `batch`.
    /// - Parameters:
    ///   - record: The record to add.
    ///   - batch: The batch so far; the record's header line and body are added at its end.
    public static func append(_ record: Record, to batch: inout Data) {
        batch.append(contentsOf: "\(record.session.digits) \(record.receivedAt ?? 0) \(record.body.count)\n".utf8)
        batch.append(record.body)
    }

    /// A batch of the given records.
    /// - Parameter records: The records, in the order the filter is to read them.
    /// - Returns: The batch's bytes.
    public static func encode(_ records: [Record]) -> Data {
        var batch = Data()
        for record in records { append(record, to: &batch) }
        return batch
    }

    /// Every record of `batch` in order. A malformed record ends the reading: the records before
    /// it are returned with the error (the framing after it cannot be trusted).
    /// - Parameter batch: A batch's bytes.
    /// - Returns: The records read, and the error that stopped the reading, if any.
    public static func decode(_ batch: Data) -> (records: [Record], error: Malformed?) {
        var records: [Record] = []
        var reader = Reader(batch)
        do {
            while let record = try reader.next() { records.append(record) }
            return (records, nil)
        } catch let error as Malformed {
            return (records, error)
        } catch {
            return (records, Malformed(offset: reader.offset, reason: "\(error)"))
        }
    }

    /// Reads the records one by one, so a consumer handles each before the next is sliced out.
    public struct Reader {
        private let data: Data
        /// Where the next record starts, as an index of the data read.
        public private(set) var offset: Int

        /// A reader at the first record.
        /// - Parameter data: The batch's bytes.
        public init(_ data: Data) {
            self.data = data
            offset = data.startIndex
        }

        /// The next record; nil at the end of the batch.
        /// - Throws: `IngestBatch.Malformed` when the header line or body at `offset` cannot be read;
        ///   the reader then stays there.
        public mutating func next() throws -> Record? {
            guard offset < data.endIndex else { return nil }
            let start = offset
            let limit = min(data.endIndex, start + IngestBatch.maxHeaderBytes)
            guard let newline = data[start..<limit].firstIndex(of: 0x0A) else {
                throw Malformed(offset: start - data.startIndex, reason: "no header line (session, time, length) within \(IngestBatch.maxHeaderBytes) bytes")
            }
            let fields = data[start..<newline].split(separator: 0x20, omittingEmptySubsequences: false)
            guard fields.count == 3 else {
                throw Malformed(offset: start - data.startIndex, reason: "a header has three fields: session, time, length")
            }
            guard let session = SessionID(String(decoding: fields[0], as: UTF8.self)), fields[0].count == 9 else {
                throw Malformed(offset: start - data.startIndex, reason: "the session is not nine digits")
            }
            guard let receivedAt = Self.number(fields[1]) else {
                throw Malformed(offset: start - data.startIndex, reason: "the time is not a number of milliseconds")
            }
            guard let length = Self.number(fields[2]).map(Int.init) else {
                throw Malformed(offset: start - data.startIndex, reason: "the length is not a number of bytes")
            }
            let bodyStart = newline + 1
            guard length <= data.endIndex - bodyStart else {
                throw Malformed(offset: start - data.startIndex,
                                reason: "the body is \(length) bytes, but \(data.endIndex - bodyStart) are left")
            }
            let bodyEnd = bodyStart + length
            offset = bodyEnd
            return Record(session: session, receivedAt: receivedAt == 0 ? nil : receivedAt, body: Data(data[bodyStart..<bodyEnd]))
        }

        /// A non-negative decimal of at most 18 digits (no sign, no spaces), as the header writes it.
        private static func number(_ bytes: Data) -> Int64? {
            guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
            var value: Int64 = 0
            for byte in bytes {
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int64(byte - 0x30)
            }
            return value
        }
    }
}
