import CMariaDB
import Foundation

/// A server-side prepared statement on one connection. Not thread-safe: it lives inside a
/// `MariaDBConnection` actor and is used by one call at a time.
final class PreparedStatement {
    private var statement: UnsafeMutablePointer<MYSQL_STMT>?
    let parameterCount: Int

    init(sql: String, connection: UnsafeMutablePointer<MYSQL>) throws(StatementFailure) {
        guard let statement = mysql_stmt_init(connection) else {
            throw StatementFailure(code: mysql_errno(connection), sqlState: "HY001", message: "out of memory")
        }
        self.statement = statement
        var updateMaxLength: my_bool = 1
        mysql_stmt_attr_set(statement, STMT_ATTR_UPDATE_MAX_LENGTH, &updateMaxLength)
        let utf8 = Array(sql.utf8)
        if mysql_stmt_prepare(statement, utf8, UInt(utf8.count)) != 0 {
            let failure = Self.failure(statement)
            mysql_stmt_close(statement)
            self.statement = nil
            throw failure
        }
        parameterCount = Int(mysql_stmt_param_count(statement))
    }

    func close() {
        if let statement { mysql_stmt_close(statement) }
        statement = nil
    }

    /// Runs the statement; the caller has checked that `parameters` has `parameterCount` values.
    func execute(_ parameters: [SQLValue]) throws(StatementFailure) -> QueryResult {
        guard let statement else {
            throw StatementFailure(code: 2006, sqlState: "HY000", message: "statement is closed")
        }
        let buffers = BindBuffers()
        if parameterCount > 0 {
            var binds: [MYSQL_BIND] = []
            binds.reserveCapacity(parameters.count)
            for parameter in parameters { binds.append(try buffers.bind(parameter)) }
            let failed = binds.withUnsafeMutableBufferPointer { mysql_stmt_bind_param(statement, $0.baseAddress) }
            if failed != 0 { throw Self.failure(statement) }
        }
        // The parameter buffers must outlive the execute that reads them.
        let executed = withExtendedLifetime(buffers) { mysql_stmt_execute(statement) }
        if executed != 0 { throw Self.failure(statement) }
        if mysql_stmt_field_count(statement) == 0 {
            return QueryResult(
                affectedRows: UInt64(mysql_stmt_affected_rows(statement)),
                lastInsertID: UInt64(mysql_stmt_insert_id(statement)))
        }
        return try readRows(statement)
    }

    private func readRows(_ statement: UnsafeMutablePointer<MYSQL_STMT>) throws(StatementFailure) -> QueryResult {
        if mysql_stmt_store_result(statement) != 0 { throw Self.failure(statement) }
        defer { mysql_stmt_free_result(statement) }
        guard let metadata = mysql_stmt_result_metadata(statement) else { throw Self.failure(statement) }
        defer { mysql_free_result(metadata) }
        let count = Int(mysql_num_fields(metadata))
        guard let fields = mysql_fetch_fields(metadata) else { throw Self.failure(statement) }
        let buffers = BindBuffers()
        var columns: [ResultColumn] = []
        columns.reserveCapacity(count)
        for index in 0..<count {
            let field = fields[index]
            columns.append(buffers.column(for: field))
        }
        let names = (0..<count).map { String(cString: fields[$0].name) }
        var binds = columns.map(\.bind)
        let failed = binds.withUnsafeMutableBufferPointer { mysql_stmt_bind_result(statement, $0.baseAddress) }
        if failed != 0 { throw Self.failure(statement) }

        var rows: [Row] = []
        rows.reserveCapacity(Int(mysql_stmt_num_rows(statement)))
        // The result buffers must outlive every fetch that writes into them.
        try withExtendedLifetime(buffers) { () throws(StatementFailure) in
            while true {
                let status = mysql_stmt_fetch(statement)
                if status == MYSQL_NO_DATA { break }
                if status == 1 { throw Self.failure(statement) }
                // MYSQL_DATA_TRUNCATED cannot happen: every buffer is as long as the column's longest value.
                rows.append(Row(columns: names, values: columns.map { $0.value() }))
            }
        }
        return QueryResult(columns: names, rows: rows, affectedRows: UInt64(rows.count))
    }

    private static func failure(_ statement: UnsafeMutablePointer<MYSQL_STMT>) -> StatementFailure {
        StatementFailure(
            code: mysql_stmt_errno(statement), sqlState: String(cString: mysql_stmt_sqlstate(statement)),
            message: String(cString: mysql_stmt_error(statement)))
    }
}
