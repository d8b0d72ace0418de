import Foundation

/// Kinds of personal data found in free text (text nodes, attribute values, input values) and
/// masked there whatever the rules say: the SDK masks them, and the filter again. One table
/// (`BuiltInTables.detectors`) gives each its pattern, in the syntax both JavaScript and ICU
/// read alike (explicit ASCII classes, no `\d` or `\w`), and its check; `sdk/detectors.js`
/// applies the same table the same way.
public struct PIIDetector: Sendable, Equatable {
    /// How a match is confirmed beyond its shape.
    public enum Check: String, Sendable {
        /// The Luhn checksum of its digits (payment cards), 13 to 19 of them.
        case luhn
        /// ISO 13616: 15 to 34 characters, the rearranged number modulo 97 is 1. Trailing
        /// space-separated groups are dropped until it holds (the pattern may take a word more).
        case iban
        /// 7 to 15 digits (ITU E.164).
        case phoneDigits = "phone-digits"
    }

    public let name: String
    public let pattern: String
    public let check: Check?
}

/// Masks what the enabled detectors find, counting per detector.
public struct PIIRedactor: Sendable {
    /// The detectors a page uses, in table order (earlier ones win: their match is masked first).
    public let enabled: [PIIDetector]

    public init(enabled names: Set<String>) {
        enabled = BuiltInTables.detectors.filter { names.contains($0.name) }
    }

    /// Every detector.
    public static let all = PIIRedactor(enabled: Set(BuiltInTables.detectors.map(\.name)))

    /// `text` with each match replaced by `****`, and how many each detector masked.
    public func redact(_ text: String) -> (text: String, hits: [String: Int]) {
        guard !enabled.isEmpty, Self.mayContainAny(text) else { return (text, [:]) }
        var result = text
        var hits: [String: Int] = [:]
        for detector in enabled {
            guard let regex = Self.compiled[detector.name] else { continue }
            let source = result as NSString
            var pieces: [String] = []
            var last = 0
            for match in regex.matches(in: result, range: NSRange(location: 0, length: source.length)) {
                let found = source.substring(with: match.range)
                guard let confirmed = Self.confirm(found, detector.check) else { continue }
                pieces.append(source.substring(with: NSRange(location: last, length: match.range.location - last)))
                pieces.append(StreamMask.text)
                last = match.range.location + (confirmed as NSString).length
                hits[detector.name, default: 0] += 1
            }
            guard !pieces.isEmpty else { continue }
            pieces.append(source.substring(from: last))
            result = pieces.joined()
        }
        return (result, hits)
    }

    /// A cheap test first: every detector needs an `@` or seven digits.
    static func mayContainAny(_ text: String) -> Bool {
        var digits = 0
        for byte in text.utf8 {
            if byte == 0x40 { return true }
            if byte >= 0x30 && byte <= 0x39 {
                digits += 1
                if digits >= 7 { return true }
            }
        }
        return false
    }

    /// The part of a match the check confirms (an IBAN may lose trailing groups), or nil.
    static func confirm(_ match: String, _ check: PIIDetector.Check?) -> String? {
        switch check {
        case nil: return match
        case .luhn: return luhn(match) ? match : nil
        case .phoneDigits:
            let digits = match.utf8.filter { $0 >= 0x30 && $0 <= 0x39 }.count
            return (7...15).contains(digits) ? match : nil
        case .iban:
            var candidate = match
            while true {
                if iban(candidate) { return candidate }
                guard let space = candidate.lastIndex(of: " ") else { return nil }
                candidate = String(candidate[..<space])
            }
        }
    }

    static func luhn(_ text: String) -> Bool {
        let digits = text.utf8.filter { $0 >= 0x30 && $0 <= 0x39 }.map { Int($0 - 0x30) }
        guard (13...19).contains(digits.count) else { return false }
        var sum = 0
        for (index, digit) in digits.reversed().enumerated() {
            let value = index % 2 == 1 ? digit * 2 : digit
            sum += value > 9 ? value - 9 : value
        }
        return sum % 10 == 0
    }

    static func iban(_ text: String) -> Bool {
        let compact = Array(text.utf8.filter { $0 != 0x20 })
        guard (15...34).contains(compact.count) else { return false }
        var remainder = 0
        for byte in compact[4...] + compact[..<4] {
            switch byte {
            case 0x30...0x39: remainder = (remainder * 10 + Int(byte - 0x30)) % 97
            case 0x41...0x5A: remainder = (remainder * 100 + Int(byte - 0x41 + 10)) % 97
            default: return false
            }
        }
        return remainder == 1
    }

    /// The table's patterns, compiled once (they always compile: a test says so).
    static let compiled: [String: NSRegularExpression] = Dictionary(uniqueKeysWithValues:
        BuiltInTables.detectors.compactMap { detector in
            (try? NSRegularExpression(pattern: detector.pattern)).map { (detector.name, $0) }
        })
}

/// The mask every masked value becomes.
public enum StreamMask {
    public static let text = "****"
}
