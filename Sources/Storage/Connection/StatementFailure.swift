/// A raw error from Connector/C, before it is sorted into a `MariaDBError`.
struct StatementFailure: Error {
    var code: UInt32
    var sqlState: String
    var message: String

    static let serverStatementTimeout: UInt32 = 1969  // ER_STATEMENT_TIMEOUT (max_statement_time)

    private static let duplicateKeyCodes: Set<UInt32> = [1062, 1586]  // ER_DUP_ENTRY, ..._WITH_KEY_NAME
    private static let unreachableCodes: Set<UInt32> = [
        1044, 1045, 1049,  // access denied to database, access denied for user, unknown database
        2002, 2003, 2005,  // CR_CONNECTION_ERROR, CR_CONN_HOST_ERROR, CR_UNKNOWN_HOST
    ]
    private static let lostCodes: Set<UInt32> = [
        1053, 1927, 4031,  // server shutdown, connection killed, disconnected for inactivity
        2006, 2013, 2055,  // CR_SERVER_GONE_ERROR, CR_SERVER_LOST, CR_SERVER_LOST_EXTENDED
        2026,  // CR_SSL_CONNECTION_ERROR
    ]

    /// Sorts the error by what a caller can do about it. A lost connection after waiting for the whole
    /// client read timeout is a timeout.
    func error(clientTimeout: Duration, elapsed: Duration) -> MariaDBError {
        if code == Self.serverStatementTimeout { return .timeout(message) }
        if Self.duplicateKeyCodes.contains(code) { return .duplicateKey(message) }
        if Self.unreachableCodes.contains(code) { return .unreachable(message) }
        if Self.lostCodes.contains(code) {
            return elapsed >= clientTimeout ? .timeout(message) : .connectionLost(message)
        }
        return .server(code: code, sqlState: sqlState, message: message)
    }
}
