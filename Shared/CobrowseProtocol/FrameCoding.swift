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
    /// How deep the frame nests, in JSON levels.
    public let nesting: Int
    /// The error for a frame of this nesting.
    /// - Parameter nesting: The frame's JSON nesting.
    public init(nesting: Int) { self.nesting = nesting }
    /// How deep the frame nests and the limit, in one sentence for logs.
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
    /// - Parameter data: JSON text; it need not be valid (the scan only counts brackets).
    /// - Returns: The deepest level; 0 for a scalar.
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

    /// Decodes a frame at any depth up to `StreamLimits.maxNesting`.
    /// - Parameter data: The frame's JSON.
    /// - Returns: The frame.
    /// - Throws: `FrameTooDeep` beyond the limit (checked before anything is parsed);
    ///   `DecodingError` when the JSON is malformed or not a frame.
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
    /// - Parameters:
    ///   - key: The field's name.
    ///   - data: The frame's JSON.
    /// - Throws: `FrameTooDeep` beyond `StreamLimits.maxNesting`; `DecodingError` when the JSON is
    ///   malformed or not an object.
    public static func topLevelString(_ key: String, in data: Data) throws -> String? {
        let nesting = nesting(of: data)
        guard nesting <= StreamLimits.maxNesting else { throw FrameTooDeep(nesting: nesting) }
        var parser = JSONParser(Array(data))
        guard case let .object(fields) = try parser.parseDocument() else { throw malformed("a frame is a JSON object") }
        return fields.last { $0.0 == key }.flatMap { if case let .string(value) = $0.1 { value } else { nil } }
    }

    /// Encodes a frame (the filter's masked frames), however deep its nodes.
    /// - Parameter frame: The frame.
    /// - Returns: The frame's JSON, flat as `StreamFrame` writes it.
    /// - Throws: `EncodingError` for a value JSON cannot hold (a non-finite number).
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
    /// - Parameter data: The frame's JSON.
    /// - Returns: The three fields (`seq` and `stream` nil when absent or of another type), or nil
    ///   when the JSON is not an object with a string `t`.
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
