import Foundation

/// A minimal JSON tree, its parser and its writer: for the nodes of frames nested deeper than
/// Foundation's coders go (FrameCoding), with no depth limit of their own.
indirect enum JSONValue {
    case null, bool(Bool), number(String), string(String), array([JSONValue]), object([(String, JSONValue)])

    var written: [UInt8] {
        var out: [UInt8] = []
        write(into: &out)
        return out
    }

    func write(into out: inout [UInt8]) {
        switch self {
        case .null: out += Array("null".utf8)
        case let .bool(b): out += Array((b ? "true" : "false").utf8)
        case let .number(n): out += Array(n.utf8)
        case let .string(s): Self.write(s, into: &out)
        case let .array(items):
            out.append(0x5B)
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(0x2C) }
                item.write(into: &out)
            }
            out.append(0x5D)
        case let .object(fields):
            out.append(0x7B)
            for (i, (key, value)) in fields.enumerated() {
                if i > 0 { out.append(0x2C) }
                Self.write(key, into: &out)
                out.append(0x3A)
                value.write(into: &out)
            }
            out.append(0x7D)
        }
    }

    static func write(_ s: String, into out: inout [UInt8]) {
        out.append(0x22)
        for byte in s.utf8 {
            switch byte {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, 0x6E]
            case 0x0D: out += [0x5C, 0x72]
            case 0x09: out += [0x5C, 0x74]
            case ..<0x20: out += Array(String(format: "\\u%04x", byte).utf8)
            default: out.append(byte)
            }
        }
        out.append(0x22)
    }
}

struct JSONParser {
    let bytes: [UInt8]
    var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func parseDocument() throws -> JSONValue {
        let value = try parseValue(depth: 0)
        skipSpace()
        guard index == bytes.count else { throw FrameCoding.malformed("trailing characters after the JSON value") }
        return value
    }

    /// The named fields of the top-level object; every other value is skipped without parsing.
    mutating func topLevelFields(_ wanted: Set<String>) throws -> [(String, JSONValue)] {
        skipSpace()
        try expect(0x7B)
        var fields: [(String, JSONValue)] = []
        skipSpace()
        if peek() == 0x7D { return fields }
        while true {
            skipSpace()
            let key = try parseString()
            skipSpace()
            try expect(0x3A)
            skipSpace()
            if wanted.contains(key), peek() != 0x7B, peek() != 0x5B { fields.append((key, try parseValue(depth: 1))) } else { try skipValue() }
            skipSpace()
            if peek() == 0x2C { index += 1; continue }
            try expect(0x7D)
            return fields
        }
    }

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipSpace() {
        while let b = peek(), b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { index += 1 }
    }

    private mutating func expect(_ byte: UInt8) throws {
        guard peek() == byte else { throw FrameCoding.malformed("invalid JSON") }
        index += 1
    }

    private mutating func parseValue(depth: Int) throws -> JSONValue {
        guard depth < StreamLimits.maxNesting + 1 else { throw FrameTooDeep(nesting: depth) }
        skipSpace()
        switch peek() {
        case 0x7B:
            index += 1
            var fields: [(String, JSONValue)] = []
            skipSpace()
            if peek() == 0x7D { index += 1; return .object(fields) }
            while true {
                skipSpace()
                let key = try parseString()
                skipSpace()
                try expect(0x3A)
                fields.append((key, try parseValue(depth: depth + 1)))
                skipSpace()
                if peek() == 0x2C { index += 1; continue }
                try expect(0x7D)
                return .object(fields)
            }
        case 0x5B:
            index += 1
            var items: [JSONValue] = []
            skipSpace()
            if peek() == 0x5D { index += 1; return .array(items) }
            while true {
                items.append(try parseValue(depth: depth + 1))
                skipSpace()
                if peek() == 0x2C { index += 1; continue }
                try expect(0x5D)
                return .array(items)
            }
        case 0x22: return .string(try parseString())
        case 0x74: try literal("true"); return .bool(true)
        case 0x66: try literal("false"); return .bool(false)
        case 0x6E: try literal("null"); return .null
        default:
            let start = index
            while let b = peek(), b == 0x2D || b == 0x2B || b == 0x2E || b == 0x65 || b == 0x45 || (0x30...0x39).contains(b) { index += 1 }
            guard index > start, let text = String(bytes: bytes[start..<index], encoding: .utf8), Double(text) != nil else {
                throw FrameCoding.malformed("invalid JSON")
            }
            return .number(text)
        }
    }

    /// Skips one value of any depth, counting brackets (no recursion).
    private mutating func skipValue() throws {
        var depth = 0, inString = false, escaped = false
        while let b = peek() {
            index += 1
            if inString {
                if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 {
                    inString = false
                    if depth == 0 { return }
                }
                continue
            }
            switch b {
            case 0x22: inString = true
            case 0x7B, 0x5B: depth += 1
            case 0x7D, 0x5D:
                if depth == 0 { index -= 1; return } // the end of the enclosing object
                depth -= 1
                if depth == 0 { return }
            case 0x2C where depth == 0: index -= 1; return
            default: break
            }
        }
    }

    private mutating func literal(_ word: String) throws {
        let w = Array(word.utf8)
        guard index + w.count <= bytes.count, Array(bytes[index..<index + w.count]) == w else { throw FrameCoding.malformed("invalid JSON") }
        index += w.count
    }

    private mutating func parseString() throws -> String {
        try expect(0x22)
        var out: [UInt8] = []
        while let b = peek() {
            index += 1
            switch b {
            case 0x22:
                guard let s = String(bytes: out, encoding: .utf8) else { throw FrameCoding.malformed("invalid UTF-8") }
                return s
            case 0x5C:
                guard let e = peek() else { break }
                index += 1
                switch e {
                case 0x22, 0x5C, 0x2F: out.append(e)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0C)
                case 0x6E: out.append(0x0A)
                case 0x72: out.append(0x0D)
                case 0x74: out.append(0x09)
                case 0x75:
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar), peek() == 0x5C, index + 1 < bytes.count, bytes[index + 1] == 0x75 {
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw FrameCoding.malformed("invalid \\u escape") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw FrameCoding.malformed("invalid \\u escape") }
                    out += Array(String(Character(u)).utf8)
                default: throw FrameCoding.malformed("invalid escape")
                }
            case ..<0x20: throw FrameCoding.malformed("control character in a string")
            default: out.append(b)
            }
        }
        throw FrameCoding.malformed("unterminated string")
    }

    private mutating func hex4() throws -> UInt32 {
        guard index + 4 <= bytes.count, let text = String(bytes: bytes[index..<index + 4], encoding: .ascii),
              let value = UInt32(text, radix: 16) else { throw FrameCoding.malformed("invalid \\u escape") }
        index += 4
        return value
    }
}
