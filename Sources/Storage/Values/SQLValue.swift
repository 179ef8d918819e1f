import Foundation

/// A value bound to a prepared statement or read back from a result row.
///
/// Text is UTF-8 (the connection speaks utf8mb4); binary columns come back as `.blob`.
/// Dates are instants: they are written and read as UTC `DATETIME`/`TIMESTAMP` values with microseconds.
public enum SQLValue: Sendable, Hashable {
    case null
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case text(String)
    case blob([UInt8])
    case date(Date)

    public var isNull: Bool { if case .null = self { true } else { false } }
}

extension SQLValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByNilLiteral,
    ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral
{
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .int(value ? 1 : 0) }
}

extension SQLValue {
    /// Optional values bind as NULL when absent.
    public static func text(_ value: String?) -> SQLValue { value.map(SQLValue.text) ?? .null }
    public static func date(_ value: Date?) -> SQLValue { value.map(SQLValue.date) ?? .null }
    public static func int(_ value: Int?) -> SQLValue { value.map { .int(Int64($0)) } ?? .null }
    public static func bool(_ value: Bool) -> SQLValue { .int(value ? 1 : 0) }
}

extension Date {
    /// This instant as the database keeps it (DATETIME(6): whole microseconds), so a record built
    /// in memory equals the same record read back.
    public var atDatabasePrecision: Date {
        Date(timeIntervalSince1970: (timeIntervalSince1970 * 1_000_000).rounded() / 1_000_000)
    }
}
