import Foundation

/// Bytes as lowercase hex, and back: digests and signatures in text.
extension Sequence where Element == UInt8 {
    /// The bytes as lowercase hex digits, two per byte.
    public var hex: String { map { String(format: "%02x", $0) }.joined() }
}

extension Array where Element == UInt8 {
    /// Bytes from hex text; nil unless it is an even number of hex digits.
    /// - Parameter text: Hex digits, either case, two per byte.
    public init?(hex text: some StringProtocol) {
        guard text.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count / 2)
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self = bytes
    }
}
