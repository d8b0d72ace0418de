import CRabbitMQ
import Foundation

/// An AMQP field-table value: queue/exchange arguments and message headers.
public enum AMQPFieldValue: Sendable, Hashable {
    /// A boolean (field kind `t`).
    case bool(Bool)
    /// A signed integer; every integer width the broker sends is widened to 64 bits.
    case int(Int64)
    /// A floating-point number; 32-bit floats from the broker are widened.
    case double(Double)
    /// A UTF-8 long string (field kind `S`).
    case string(String)
    /// A byte string (field kind `x`), kept as raw bytes.
    case bytes(Data)
    /// An AMQP timestamp: seconds since 1970.
    case timestamp(UInt64)
    /// A nested field table.
    case table(AMQPTable)
    /// A field array.
    case array([AMQPFieldValue])
    /// No value (field kind `V`); also what an unknown field kind from the broker becomes.
    case void
}

/// Arguments and headers: a string-keyed table of field values.
public typealias AMQPTable = [String: AMQPFieldValue]

extension AMQPFieldValue: ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByStringLiteral, ExpressibleByFloatLiteral
{
    /// Lets `true` and `false` stand for `.bool` in tables.
    /// - Parameter value: The boolean.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// Lets an integer literal stand for `.int` in tables.
    /// - Parameter value: The integer.
    public init(integerLiteral value: Int64) { self = .int(value) }
    /// Lets a string literal stand for `.string` in tables.
    /// - Parameter value: The string.
    public init(stringLiteral value: String) { self = .string(value) }
    /// Lets a floating-point literal stand for `.double` in tables.
    /// - Parameter value: The number.
    public init(floatLiteral value: Double) { self = .double(value) }
}

extension AMQPFieldValue {
    /// The value as a string, if it is one (long strings and byte strings both count).
    public var stringValue: String? {
        switch self {
        case let .string(s): s
        case let .bytes(d): String(decoding: d, as: UTF8.self)
        default: nil
        }
    }

    /// The value as an integer, if it is one.
    public var intValue: Int64? {
        if case let .int(i) = self { i } else { nil }
    }
}

/// Memory for C structures handed to rabbitmq-c for the length of one call.
final class CArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    deinit {
        for pointer in allocations { free(pointer) }
    }

    func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let raw = malloc(max(1, MemoryLayout<T>.stride * count))!
        allocations.append(raw)
        return raw.bindMemory(to: T.self, capacity: count)
    }

    func bytes(_ string: String) -> amqp_bytes_t {
        bytes(Data(string.utf8))
    }

    func bytes(_ data: Data) -> amqp_bytes_t {
        let pointer = allocate(UInt8.self, count: data.count)
        data.copyBytes(to: pointer, count: data.count)
        return amqp_bytes_t(len: data.count, bytes: UnsafeMutableRawPointer(pointer))
    }

    func table(_ table: AMQPTable) -> amqp_table_t {
        guard !table.isEmpty else { return amqp_empty_table }
        let entries = allocate(amqp_table_entry_t.self, count: table.count)
        for (index, (key, value)) in table.sorted(by: { $0.key < $1.key }).enumerated() {
            entries[index] = amqp_table_entry_t(key: bytes(key), value: field(value))
        }
        return amqp_table_t(num_entries: Int32(table.count), entries: entries)
    }

    private func field(_ value: AMQPFieldValue) -> amqp_field_value_t {
        var field = amqp_field_value_t()
        switch value {
        case let .bool(b):
            field.kind = UInt8(AMQP_FIELD_KIND_BOOLEAN.rawValue)
            field.value.boolean = b ? 1 : 0
        case let .int(i):
            field.kind = UInt8(AMQP_FIELD_KIND_I64.rawValue)
            field.value.i64 = i
        case let .double(d):
            field.kind = UInt8(AMQP_FIELD_KIND_F64.rawValue)
            field.value.f64 = d
        case let .string(s):
            field.kind = UInt8(AMQP_FIELD_KIND_UTF8.rawValue)
            field.value.bytes = bytes(s)
        case let .bytes(d):
            field.kind = UInt8(AMQP_FIELD_KIND_BYTES.rawValue)
            field.value.bytes = bytes(d)
        case let .timestamp(t):
            field.kind = UInt8(AMQP_FIELD_KIND_TIMESTAMP.rawValue)
            field.value.u64 = t
        case let .table(t):
            field.kind = UInt8(AMQP_FIELD_KIND_TABLE.rawValue)
            field.value.table = table(t)
        case let .array(values):
            field.kind = UInt8(AMQP_FIELD_KIND_ARRAY.rawValue)
            let entries = allocate(amqp_field_value_t.self, count: values.count)
            for (index, element) in values.enumerated() { entries[index] = self.field(element) }
            field.value.array = amqp_array_t(num_entries: Int32(values.count), entries: entries)
        case .void:
            field.kind = UInt8(AMQP_FIELD_KIND_VOID.rawValue)
        }
        return field
    }
}

extension Data {
    /// Copies rabbitmq-c bytes (which live only until the next buffer release).
    init(amqp bytes: amqp_bytes_t) {
        if bytes.len == 0 || bytes.bytes == nil { self.init() } else { self.init(bytes: bytes.bytes, count: bytes.len) }
    }
}

extension String {
    init(amqp bytes: amqp_bytes_t) {
        if bytes.len == 0 || bytes.bytes == nil {
            self = ""
        } else {
            self = String(decoding: UnsafeRawBufferPointer(start: bytes.bytes, count: bytes.len), as: UTF8.self)
        }
    }
}

extension AMQPTable {
    /// Copies a table decoded by rabbitmq-c.
    init(amqp table: amqp_table_t) {
        self.init()
        for index in 0..<Int(table.num_entries) {
            let entry = table.entries[index]
            self[String(amqp: entry.key)] = AMQPFieldValue(amqp: entry.value)
        }
    }
}

extension AMQPFieldValue {
    init(amqp field: amqp_field_value_t) {
        switch Int(field.kind) {
        case Int(AMQP_FIELD_KIND_BOOLEAN.rawValue): self = .bool(field.value.boolean != 0)
        case Int(AMQP_FIELD_KIND_I8.rawValue): self = .int(Int64(field.value.i8))
        case Int(AMQP_FIELD_KIND_U8.rawValue): self = .int(Int64(field.value.u8))
        case Int(AMQP_FIELD_KIND_I16.rawValue): self = .int(Int64(field.value.i16))
        case Int(AMQP_FIELD_KIND_U16.rawValue): self = .int(Int64(field.value.u16))
        case Int(AMQP_FIELD_KIND_I32.rawValue): self = .int(Int64(field.value.i32))
        case Int(AMQP_FIELD_KIND_U32.rawValue): self = .int(Int64(field.value.u32))
        case Int(AMQP_FIELD_KIND_I64.rawValue): self = .int(field.value.i64)
        case Int(AMQP_FIELD_KIND_U64.rawValue): self = .int(Int64(truncatingIfNeeded: field.value.u64))
        case Int(AMQP_FIELD_KIND_F32.rawValue): self = .double(Double(field.value.f32))
        case Int(AMQP_FIELD_KIND_F64.rawValue): self = .double(field.value.f64)
        case Int(AMQP_FIELD_KIND_UTF8.rawValue): self = .string(String(amqp: field.value.bytes))
        case Int(AMQP_FIELD_KIND_BYTES.rawValue): self = .bytes(Data(amqp: field.value.bytes))
        case Int(AMQP_FIELD_KIND_TIMESTAMP.rawValue): self = .timestamp(field.value.u64)
        case Int(AMQP_FIELD_KIND_TABLE.rawValue): self = .table(AMQPTable(amqp: field.value.table))
        case Int(AMQP_FIELD_KIND_ARRAY.rawValue):
            let array = field.value.array
            self = .array((0..<Int(array.num_entries)).map { AMQPFieldValue(amqp: array.entries[$0]) })
        default: self = .void
        }
    }
}
