import Foundation

/// A value bound to a statement or read from a row.
enum SQLiteValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case text(String)
    case blob(Data)
}

/// Values that go into statements as `SQLiteValue`s.
protocol SQLiteBindable {
    var sqliteValue: SQLiteValue { get }
}

extension Int64: SQLiteBindable { var sqliteValue: SQLiteValue { .integer(self) } }
extension Int: SQLiteBindable { var sqliteValue: SQLiteValue { .integer(Int64(self)) } }
extension String: SQLiteBindable { var sqliteValue: SQLiteValue { .text(self) } }
extension Data: SQLiteBindable { var sqliteValue: SQLiteValue { .blob(self) } }
extension Optional: SQLiteBindable where Wrapped: SQLiteBindable {
    var sqliteValue: SQLiteValue { self?.sqliteValue ?? .null }
}

/// One result row, by column name.
struct SQLiteRow: Sendable {
    let values: [String: SQLiteValue]

    /// The column's text; nil for NULL (or a column not selected).
    func text(_ column: String) -> String? {
        switch values[column] {
        case let .text(value): value
        case let .integer(value): String(value)
        case let .blob(value): String(decoding: value, as: UTF8.self)
        case .null, nil: nil
        }
    }

    /// The column's integer; nil for NULL or a value that is not one.
    func integer(_ column: String) -> Int64? {
        switch values[column] {
        case let .integer(value): value
        case let .text(value): Int64(value)
        default: nil
        }
    }

    /// The column's bytes (text as UTF-8); nil for NULL.
    func blob(_ column: String) -> Data? {
        switch values[column] {
        case let .blob(value): value
        case let .text(value): Data(value.utf8)
        default: nil
        }
    }
}
