// The suite's wire format: how every service and the browsers write instants and JSON.
import Foundation

extension JSONEncoder {
    /// The suite's wire format: ISO 8601 dates with milliseconds, sorted keys.
    public static var cobrowse: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(CobrowseDate.format(date))
        }
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}

extension JSONDecoder {
    /// The suite's wire format for reading: dates are ISO 8601 text, read by `CobrowseDate.parse`.
    public static var cobrowse: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = CobrowseDate.parse(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an ISO 8601 date: \(text)"))
            }
            return date
        }
        return decoder
    }
}

/// ISO 8601 with milliseconds, UTC (`2026-11-21T15:49:25.123Z`), built from integer
/// milliseconds so that format → parse → format is exact (Foundation's formatter truncates a
/// fraction that binary floating point holds as .12299999…).
public enum CobrowseDate {
    /// Writes an instant in the suite's form.
    /// - Parameter date: The instant; rounded to whole milliseconds.
    /// - Returns: `yyyy-MM-ddTHH:mm:ss.SSSZ`, always with three fraction digits.
    public static func format(_ date: Date) -> String {
        let milliseconds = date.millisecondsSince1970
        let seconds = milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000
        var whole = Date(timeIntervalSince1970: Double(seconds)).formatted(Date.ISO8601FormatStyle())
        if whole.hasSuffix("Z") { whole.removeLast() }
        let fraction = String(milliseconds - seconds * 1000)
        return whole + "." + String(repeating: "0", count: 3 - fraction.count) + fraction + "Z"
    }

    /// Reads an ISO 8601 instant: exactly, to the millisecond, when it ends in `Z` with a fraction
    /// of 1 to 9 digits (digits past the third are dropped); otherwise as Foundation reads it.
    /// - Parameter text: The text, e.g. `2026-11-21T15:49:25.123Z` or `2026-11-21T16:49:25+01:00`.
    /// - Returns: The instant, or nil when the text is not ISO 8601.
    public static func parse(_ text: String) -> Date? {
        if let milliseconds = suiteForm(text) { return Date(millisecondsSince1970: milliseconds) }
        guard text.hasSuffix("Z") else { return try? Date.ISO8601FormatStyle().parse(text) }
        let body = text.dropLast()
        guard let dot = body.lastIndex(of: ".") else { return try? Date.ISO8601FormatStyle().parse(text) }
        let digits = body[body.index(after: dot)...]
        guard (1...9).contains(digits.count), digits.allSatisfy(\.isASCII), let fraction = Int64(digits),
              let whole = try? Date.ISO8601FormatStyle().parse(body[..<dot] + "Z") else { return nil }
        let milliseconds = Int64(whole.timeIntervalSince1970) * 1000
            + fraction * 1000 / Int64(pow(10, Double(digits.count)))
        return Date(millisecondsSince1970: milliseconds)
    }

    /// The suite's own form, `yyyy-MM-ddTHH:mm:ss.SSSZ` (what `format` writes), read without
    /// Foundation's parser, which costs microseconds per instant (reports read hundreds of
    /// thousands); nil for anything else, which the general path reads.
    static func suiteForm(_ text: String) -> Int64? {
        var text = text
        text.makeContiguousUTF8() // a no-op for native strings
        return text.utf8.withContiguousStorageIfAvailable { bytes -> Int64? in
            guard bytes.count == 24, bytes[4] == 0x2D, bytes[7] == 0x2D, bytes[10] == 0x54, bytes[13] == 0x3A, bytes[16] == 0x3A,
                  bytes[19] == 0x2E, bytes[23] == 0x5A else { return nil }
            func number(_ from: Int, _ count: Int) -> Int64? {
                var value: Int64 = 0
                for index in from..<(from + count) {
                    let digit = Int64(bytes[index]) - 48
                    guard (0...9).contains(digit) else { return nil }
                    value = value * 10 + digit
                }
                return value
            }
            guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
                  let minute = number(14, 2), let second = number(17, 2), let millisecond = number(20, 3),
                  (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day), hour < 24, minute < 60,
                  second < 60 else { return nil }
            let seconds = daysSince1970(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
            return seconds * 1000 + millisecond
        } ?? nil
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
    /// days_from_civil).
    private static func daysSince1970(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

extension Date {
    /// The instant in whole milliseconds since 1970 (rounded): how the suite stores instants and
    /// writes them on the wire, so every representation of one instant agrees.
    public var millisecondsSince1970: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }

    /// The instant `milliseconds` after 1970-01-01T00:00:00Z.
    /// - Parameter milliseconds: Milliseconds since 1970 (negative before).
    public init(millisecondsSince1970 milliseconds: Int64) {
        self.init(timeIntervalSince1970: Double(milliseconds) / 1000)
    }

    /// This instant rounded to whole milliseconds, so a stored value equals the one a reply carried.
    public var wholeMilliseconds: Date { Date(millisecondsSince1970: millisecondsSince1970) }
}

extension Duration {
    /// The duration in seconds, for `Date` arithmetic.
    public var timeInterval: TimeInterval {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
