import Foundation

/// How deep a stream frame may nest. Each element level of a page is two JSON levels (the node
/// and its `children` array), and Foundation's JSONDecoder and JSONEncoder refuse more than 512
/// levels (a page about 255 elements deep): frames deeper than that are coded by `FrameCoding`,
/// up to `maxNesting`; deeper ones are refused as too deep.
public enum StreamLimits {
    /// The deepest page a snapshot may carry, in element levels (real pages stay far below).
    public static let maxNodeDepth = 1_000
    /// The deepest JSON nesting of a frame: a snapshot of a page `maxNodeDepth` elements deep.
    public static let maxNesting = 2 * maxNodeDepth + 1
    /// Below Foundation's own limit (512): frames up to here take the fast path.
    static let foundationNesting = 500
}

/// A frame nested deeper than `StreamLimits.maxNesting`.
public struct FrameTooDeep: Error, CustomStringConvertible, Equatable {
    public let nesting: Int
    public init(nesting: Int) { self.nesting = nesting }
    public var description: String {
        "too deep: the frame nests \(nesting) JSON levels, at most \(StreamLimits.maxNesting) "
            + "(a page \(StreamLimits.maxNodeDepth) elements deep)"
    }
}

/// Stream frames to and from JSON at any depth up to the limit: Foundation's coders for the
/// usual frames, and for deeper ones Foundation's coders on the frame without its nodes, the
/// nodes (`root`, `adds[].node`) by a parser and writer of our own with no limit of their own.
public enum FrameCoding {
    /// The deepest nesting of objects and arrays in `data` (a scan of the bytes; strings skipped).
    public static func nesting(of data: Data) -> Int {
        data.withUnsafeBytes { raw in
            var depth = 0, deepest = 0, inString = false, escaped = false
            for byte in raw {
                if inString {
                    if escaped { escaped = false } else if byte == 0x5C { escaped = true } else if byte == 0x22 { inString = false }
                    continue
                }
                switch byte {
                case 0x22: inString = true
                case 0x7B, 0x5B:
                    depth += 1
                    if depth > deepest { deepest = depth }
                case 0x7D, 0x5D: depth -= 1
                default: break
                }
            }
            return deepest
        }
    }

    /// Decodes a frame; throws `FrameTooDeep` beyond the limit, a DecodingError when malformed.
    public static func decode(_ data: Data) throws -> StreamFrame {
        let nesting = nesting(of: data)
        guard nesting <= StreamLimits.maxNesting else { throw FrameTooDeep(nesting: nesting) }
        if nesting <= StreamLimits.foundationNesting { return try JSONDecoder().decode(StreamFrame.self, from: data) }
        var parser = JSONParser(Array(data))
        guard case var .object(fields) = try parser.parseDocument() else { throw malformed("a frame is a JSON object") }
        let type = fields.last { $0.0 == "t" }.flatMap { if case let .string(t) = $0.1 { t } else { nil } }
        switch type {
        case "snapshot":
            var root: DOMNode?
            for index in fields.indices where fields[index].0 == "root" {
                root = try DOMNode(json: fields[index].1)
                fields[index].1 = stub
            }
            var frame = try JSONDecoder().decode(StreamFrame.self, from: Data(JSONValue.object(fields).written))
            guard case var .snapshot(snapshot) = frame.event, let root else { throw malformed("a snapshot has a root") }
            snapshot.root = root
            frame.event = .snapshot(snapshot)
            return frame
        case "mutations":
            var nodes: [DOMNode] = []
            for index in fields.indices where fields[index].0 == "adds" {
                guard case var .array(adds) = fields[index].1 else { continue }
                nodes = []
                for a in adds.indices {
                    guard case var .object(add) = adds[a] else { continue }
                    for k in add.indices where add[k].0 == "node" {
                        nodes.append(try DOMNode(json: add[k].1))
                        add[k].1 = stub
                    }
                    adds[a] = .object(add)
                }
                fields[index].1 = .array(adds)
            }
            var frame = try JSONDecoder().decode(StreamFrame.self, from: Data(JSONValue.object(fields).written))
            guard case var .mutations(mutations) = frame.event, mutations.adds.count == nodes.count else {
                throw malformed("field 'adds': one node per add")
            }
            for index in mutations.adds.indices { mutations.adds[index].node = nodes[index] }
            frame.event = .mutations(mutations)
            return frame
        default:
            return try JSONDecoder().decode(StreamFrame.self, from: data)
        }
    }

    /// A string field at the top level of a frame's JSON (one a frame type does not define,
    /// such as the rules editor's `rules`), read at any depth; nil when absent or not a string.
    public static func topLevelString(_ key: String, in data: Data) throws -> String? {
        let nesting = nesting(of: data)
        guard nesting <= StreamLimits.maxNesting else { throw FrameTooDeep(nesting: nesting) }
        var parser = JSONParser(Array(data))
        guard case let .object(fields) = try parser.parseDocument() else { throw malformed("a frame is a JSON object") }
        return fields.last { $0.0 == key }.flatMap { if case let .string(value) = $0.1 { value } else { nil } }
    }

    /// Encodes a frame (the filter's masked frames), however deep its nodes.
    public static func encode(_ frame: StreamFrame) throws -> Data {
        switch frame.event {
        case var .snapshot(snapshot) where snapshot.root.depth > shallowNodes:
            let root = snapshot.root
            snapshot.root = DOMNode(id: 0, type: .text)
            return try spliced(StreamFrame(seq: frame.seq, .snapshot(snapshot))) { fields in
                for index in fields.indices where fields[index].0 == "root" { fields[index].1 = root.json }
            }
        case var .mutations(mutations) where mutations.adds.contains(where: { $0.node.depth > shallowNodes }):
            let nodes = mutations.adds.map(\.node)
            for index in mutations.adds.indices { mutations.adds[index].node = DOMNode(id: 0, type: .text) }
            return try spliced(StreamFrame(seq: frame.seq, .mutations(mutations))) { fields in
                for index in fields.indices where fields[index].0 == "adds" {
                    guard case let .array(adds) = fields[index].1 else { continue }
                    fields[index].1 = .array(zip(adds, nodes).map { add, node in
                        guard case var .object(add) = add else { return add }
                        for k in add.indices where add[k].0 == "node" { add[k].1 = node.json }
                        return .object(add)
                    })
                }
            }
        default:
            return try JSONEncoder().encode(frame)
        }
    }

    /// Node depths Foundation's encoder surely handles inside a frame.
    static let shallowNodes = 200

    private static func spliced(_ frame: StreamFrame, _ edit: (inout [(String, JSONValue)]) -> Void) throws -> Data {
        var parser = JSONParser(Array(try JSONEncoder().encode(frame)))
        guard case var .object(fields) = try parser.parseDocument() else { throw malformed("a frame is a JSON object") }
        edit(&fields)
        return Data(JSONValue.object(fields).written)
    }

    /// `t`, `seq` and `stream` of a frame at any depth (the rest is skipped, not parsed).
    public static func head(of data: Data) -> (t: String, seq: Int?, stream: String?)? {
        var parser = JSONParser(Array(data))
        guard let fields = try? parser.topLevelFields(["t", "seq", "stream"]) else { return nil }
        func string(_ key: String) -> String? {
            fields.last { $0.0 == key }.flatMap { if case let .string(s) = $0.1 { s } else { nil } }
        }
        guard let t = string("t") else { return nil }
        let seq = fields.last { $0.0 == "seq" }.flatMap { if case let .number(n) = $0.1 { Int(n) } else { nil } }
        return (t, seq, string("stream"))
    }

    private static let stub = JSONValue.object([("id", .number("0")), ("type", .string("text"))])

    static func malformed(_ message: String) -> DecodingError {
        DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: message))
    }
}

extension DOMNode {
    /// Levels of elements from this node down (1: no children).
    public var depth: Int {
        1 + ([children, shadow, frame].compactMap { $0 }.joined().map(\.depth).max() ?? 0)
    }
}

// MARK: - A minimal JSON tree, for nodes too deep for Foundation

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

// MARK: - DOMNode ⇄ JSON tree (the same fields as its Codable form)

extension DOMNode {
    init(json: JSONValue) throws {
        guard case let .object(fields) = json else { throw FrameCoding.malformed("a node is a JSON object") }
        var id: Int?, type: Kind?
        self.init(id: 0, type: .text)
        for (key, value) in fields {
            if case .null = value { continue }
            switch key {
            case "id": id = try value.int(key)
            case "type":
                guard case let .string(s) = value, let kind = Kind(rawValue: s) else { throw FrameCoding.malformed("field 'type': unknown node type") }
                type = kind
            case "tag": tag = try value.string(key)
            case "attrs":
                guard case let .object(pairs) = value else { throw FrameCoding.malformed("field 'attrs': an object") }
                var attrs: [String: String] = [:]
                for (name, v) in pairs { attrs[name] = try v.string("attrs") }
                self.attrs = attrs
            case "children": children = try value.nodes(key)
            case "shadow": shadow = try value.nodes(key)
            case "frame": frame = try value.nodes(key)
            case "text": text = try value.string(key)
            case "value": self.value = try value.string(key)
            case "checked":
                guard case let .bool(b) = value else { throw FrameCoding.malformed("field 'checked': a boolean") }
                checked = b
            case "scroll": scroll = try JSONDecoder().decode(Point.self, from: Data(value.written))
            case "rect": rect = try JSONDecoder().decode(Size.self, from: Data(value.written))
            case "adoptedStyles":
                guard case let .array(items) = value else { throw FrameCoding.malformed("field 'adoptedStyles': an array") }
                adoptedStyles = try items.map { try $0.string(key) }
            default: break
            }
        }
        guard let id else { throw FrameCoding.malformed("missing field 'id'") }
        guard let type else { throw FrameCoding.malformed("missing field 'type'") }
        self.id = id
        self.type = type
    }

    var json: JSONValue {
        var fields: [(String, JSONValue)] = [("id", .number(String(id))), ("type", .string(type.rawValue))]
        if let tag { fields.append(("tag", .string(tag))) }
        if let attrs { fields.append(("attrs", .object(attrs.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))) }
        if let children { fields.append(("children", .array(children.map(\.json)))) }
        if let text { fields.append(("text", .string(text))) }
        if let value { fields.append(("value", .string(value))) }
        if let checked { fields.append(("checked", .bool(checked))) }
        if let scroll { fields.append(("scroll", .object([("x", .number(Self.number(scroll.x))), ("y", .number(Self.number(scroll.y)))]))) }
        if let shadow { fields.append(("shadow", .array(shadow.map(\.json)))) }
        if let frame { fields.append(("frame", .array(frame.map(\.json)))) }
        if let adoptedStyles { fields.append(("adoptedStyles", .array(adoptedStyles.map { .string($0) }))) }
        if let rect { fields.append(("rect", .object([("w", .number(Self.number(rect.w))), ("h", .number(Self.number(rect.h)))]))) }
        return .object(fields)
    }

    private static func number(_ d: Double) -> String {
        d.isFinite ? (d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : "\(d)") : "0"
    }
}

private extension JSONValue {
    func string(_ key: String) throws -> String {
        guard case let .string(s) = self else { throw FrameCoding.malformed("field '\(key)': a string") }
        return s
    }

    func int(_ key: String) throws -> Int {
        guard case let .number(n) = self, let i = Int(n) ?? Double(n).flatMap({ $0 == $0.rounded() ? Int(exactly: $0) : nil }) else {
            throw FrameCoding.malformed("field '\(key)': an integer")
        }
        return i
    }

    func nodes(_ key: String) throws -> [DOMNode] {
        guard case let .array(items) = self else { throw FrameCoding.malformed("field '\(key)': an array of nodes") }
        return try items.map(DOMNode.init(json:))
    }
}
