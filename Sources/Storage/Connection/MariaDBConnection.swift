import CMariaDB
import Foundation

/// One session with the MariaDB server, over Connector/C.
///
/// The actor runs on a thread of its own (`DedicatedThreadExecutor`), so its blocking C calls never
/// stall other work. It never reconnects by itself: once the session breaks, `isBroken` is true and
/// every later call fails with `connectionLost`; the pool throws such a connection away.
public actor MariaDBConnection {
    private let executor: DedicatedThreadExecutor
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    public nonisolated let options: ConnectionOptions
    private var handle: UnsafeMutablePointer<MYSQL>?
    private var statements: [String: PreparedStatement] = [:]
    private static let statementCacheLimit = 256

    /// The server's id for this session (what `KILL` and `SHOW PROCESSLIST` name).
    public private(set) var serverConnectionID: UInt64 = 0
    /// True once the session is unusable (lost, killed, closed).
    public private(set) var isBroken = false

    /// `mysql_library_init` is not thread-safe, so it runs once before the first connection.
    private static let libraryReady: Bool = mysql_server_init(0, nil, nil) == 0

    private init(options: ConnectionOptions) {
        self.options = options
        self.executor = DedicatedThreadExecutor(name: "mariadb")
    }

    // Runs on the connection's own thread, like every other C call on this session.
    isolated deinit {
        for statement in statements.values { statement.close() }
        if let handle { mysql_close(handle) }
        executor.shutdown()
    }

    /// Opens a session: utf8mb4, UTC, no automatic reconnect, bounded waits.
    public static func connect(_ options: ConnectionOptions) async throws -> MariaDBConnection {
        let connection = MariaDBConnection(options: options)
        try await connection.open()
        return connection
    }

    private func open() throws {
        guard Self.libraryReady, let handle = mysql_init(nil) else {
            throw MariaDBError.unreachable("the MariaDB client library could not be initialised")
        }
        self.handle = handle
        var connectTimeout = options.connectTimeout
        var ioTimeout = options.statementTimeout + 5
        var reconnect: my_bool = 0
        mysql_options(handle, MYSQL_OPT_CONNECT_TIMEOUT, &connectTimeout)
        mysql_options(handle, MYSQL_OPT_READ_TIMEOUT, &ioTimeout)
        mysql_options(handle, MYSQL_OPT_WRITE_TIMEOUT, &ioTimeout)
        mysql_options(handle, MYSQL_OPT_RECONNECT, &reconnect)
        mysql_options(handle, MYSQL_SET_CHARSET_NAME, "utf8mb4")
        if options.url.socketPath == nil {
            // Without this, Connector/C takes "localhost" to mean its default unix socket and ignores the port.
            var tcp = MYSQL_PROTOCOL_TCP.rawValue
            mysql_options(handle, MYSQL_OPT_PROTOCOL, &tcp)
        }
        let url = options.url
        // CLIENT_FOUND_ROWS: an UPDATE reports the rows it matched, so "no such row" is distinguishable.
        let flags = UInt(CLIENT_FOUND_ROWS)
        let connected = mysql_real_connect(
            handle, url.socketPath == nil ? url.host : "localhost", url.user, url.password, url.database,
            url.socketPath == nil ? UInt32(url.port) : 0, url.socketPath, flags)
        guard connected != nil else {
            let message = String(cString: mysql_error(handle))
            isBroken = true
            throw MariaDBError.unreachable(message)
        }
        serverConnectionID = UInt64(mysql_thread_id(handle))
        _ = try execute("SET time_zone = '+00:00'")
        _ = try execute("SET SESSION max_statement_time = ?", [.int(Int64(options.statementTimeout))])
    }

    /// Runs one statement as a server-side prepared statement with bound parameters.
    /// Statements are prepared once per connection and reused.
    public func execute(_ sql: String, _ parameters: [SQLValue] = []) throws -> QueryResult {
        guard let handle, !isBroken else { throw MariaDBError.connectionLost("the connection is closed") }
        let started = ContinuousClock.now
        let statement: PreparedStatement
        do {
            statement = try prepared(sql, handle)
        } catch {
            throw classify(error, elapsed: ContinuousClock.now - started)
        }
        guard parameters.count == statement.parameterCount else {
            throw MariaDBError.parameterCount(expected: statement.parameterCount, given: parameters.count)
        }
        do {
            return try statement.execute(parameters)
        } catch {
            // A statement that failed is prepared anew next time (its metadata may be stale).
            if let failed = statements.removeValue(forKey: sql) { failed.close() }
            throw classify(error, elapsed: ContinuousClock.now - started)
        }
    }

    /// Starts a transaction: statements until `commit` or `rollback` form one unit.
    public func beginTransaction() throws {
        try clientCall { mysql_autocommit($0, 0) }
    }

    public func commit() throws {
        try clientCall { mysql_commit($0) }
        try clientCall { mysql_autocommit($0, 1) }
    }

    public func rollback() throws {
        try clientCall { mysql_rollback($0) }
        try clientCall { mysql_autocommit($0, 1) }
    }

    /// Asks the server whether the session is still alive (never reconnects).
    public func ping() -> Bool {
        guard let handle, !isBroken else { return false }
        if mysql_ping(handle) == 0 { return true }
        isBroken = true
        return false
    }

    /// Closes the session. Safe to call more than once.
    public func close() {
        for statement in statements.values { statement.close() }
        statements.removeAll()
        if let handle { mysql_close(handle) }
        handle = nil
        isBroken = true
    }

    private func prepared(_ sql: String, _ handle: UnsafeMutablePointer<MYSQL>) throws(StatementFailure)
        -> PreparedStatement
    {
        if let cached = statements[sql] { return cached }
        let statement = try PreparedStatement(sql: sql, connection: handle)
        if statements.count >= Self.statementCacheLimit {
            for old in statements.values { old.close() }
            statements.removeAll()
        }
        statements[sql] = statement
        return statement
    }

    private func clientCall(_ call: (UnsafeMutablePointer<MYSQL>) -> my_bool) throws {
        guard let handle, !isBroken else { throw MariaDBError.connectionLost("the connection is closed") }
        if call(handle) != 0 {
            let failure = StatementFailure(
                code: mysql_errno(handle), sqlState: String(cString: mysql_sqlstate(handle)),
                message: String(cString: mysql_error(handle)))
            throw classify(failure, elapsed: .zero)
        }
    }

    private func classify(_ failure: StatementFailure, elapsed: Duration) -> MariaDBError {
        let error = failure.error(clientTimeout: .seconds(Int(options.statementTimeout) + 5), elapsed: elapsed)
        switch error {
        case .connectionLost, .unreachable: isBroken = true
        case .timeout where failure.code != StatementFailure.serverStatementTimeout: isBroken = true
        default: break
        }
        if isBroken, let handle {
            for statement in statements.values { statement.close() }
            statements.removeAll()
            mysql_close(handle)
            self.handle = nil
        }
        return error
    }
}
