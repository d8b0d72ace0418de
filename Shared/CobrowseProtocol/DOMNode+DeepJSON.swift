import Foundation

/// DOMNode to and from the minimal JSON tree: the same fields as its Codable form.
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
