import Foundation
import Logging
import Synchronization

/// Writes one JSON object per line to standard output: `ts`, `level`, `logger`, `msg`, `source`
/// and the metadata as fields of their own (e.g. `session`), for log collectors (Loki, ELK).
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String
    /// One line is one write, so lines from concurrent tasks never interleave.
    private static let output = Mutex(FileHandle.standardOutput)

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?,
                    source: String, file: String, function: String, line: UInt) {
        var fields: [String: Any] = [:]
        for (key, value) in self.metadata.merging(explicit ?? [:], uniquingKeysWith: { $1 }) {
            fields[key] = Self.json(value)
        }
        fields["ts"] = Self.timestamp(Date())
        fields["level"] = level.rawValue
        fields["logger"] = label
        fields["msg"] = message.description
        fields["source"] = source
        guard var data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        data.append(0x0A)
        Self.output.withLock { $0.write(data) }
    }

    static func json(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case let .string(text): text
        case let .stringConvertible(convertible): convertible.description
        case let .array(values): values.map(json)
        case let .dictionary(values): values.mapValues(json)
        }
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
