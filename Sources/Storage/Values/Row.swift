import Foundation

/// What one statement returned: its rows (empty for statements without a result set),
/// the number of rows it changed and the last AUTO_INCREMENT id it generated.
public struct QueryResult: Sendable {
    public var columns: [String]
    public var rows: [Row]
    public var affectedRows: UInt64
    public var lastInsertID: UInt64

    public init(columns: [String] = [], rows: [Row] = [], affectedRows: UInt64 = 0, lastInsertID: UInt64 = 0) {
        self.columns = columns
        self.rows = rows
        self.affectedRows = affectedRows
        self.lastInsertID = lastInsertID
    }
}

/// One result row. Columns are looked up by the name the query gave them.
public struct Row: Sendable {
    public let columns: [String]
    public let values: [SQLValue]

    public init(columns: [String], values: [SQLValue]) {
        self.columns = columns
        self.values = values
    }

    public subscript(_ column: String) -> SQLValue {
        guard let index = columns.firstIndex(of: column) else { return .null }
        return values[index]
    }

    public func string(_ column: String) throws -> String {
        switch self[column] {
        case .text(let s): return s
        case .blob(let b): return String(decoding: b, as: UTF8.self)
        case let other: throw MariaDBError.decoding(column: column, found: "\(other)", expected: "text")
        }
    }

    public func optionalString(_ column: String) throws -> String? {
        self[column].isNull ? nil : try string(column)
    }

    public func int(_ column: String) throws -> Int64 {
        switch self[column] {
        case .int(let i): return i
        case .uint(let u) where u <= UInt64(Int64.max): return Int64(u)
        case let other: throw MariaDBError.decoding(column: column, found: "\(other)", expected: "integer")
        }
    }

    public func bool(_ column: String) throws -> Bool { try int(column) != 0 }

    public func date(_ column: String) throws -> Date {
        guard case .date(let d) = self[column] else {
            throw MariaDBError.decoding(column: column, found: "\(self[column])", expected: "datetime")
        }
        return d
    }

    public func optionalDate(_ column: String) throws -> Date? {
        self[column].isNull ? nil : try date(column)
    }
}
