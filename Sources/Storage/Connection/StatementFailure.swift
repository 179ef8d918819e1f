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
        1053, 1927,  // server shutdown, connection killed
        1158, 1159, 1160, 1161,  // ER_NET_READ_ERROR, _READ_INTERRUPTED, _ERROR_ON_WRITE, _WRITE_INTERRUPTED
    ]

    /// Sorts the error by what a caller can do about it. A lost connection after waiting for the whole
    /// client read timeout is a timeout.
    func error(clientTimeout: Duration, elapsed: Duration) -> MariaDBError {
        if code == Self.serverStatementTimeout { return .timeout(message) }
        if Self.duplicateKeyCodes.contains(code) { return .duplicateKey(message) }
        if Self.unreachableCodes.contains(code) { return .unreachable(message) }
        // Every other client-side error (2000–2999: lost, out of sync, new metadata…) leaves the session in
        // a state we do not trust: treat it as lost so the connection is thrown away.
        if Self.lostCodes.contains(code) || (2000..<3000).contains(code) {
            return elapsed >= clientTimeout ? .timeout(message) : .connectionLost(message)
        }
        return .server(code: code, sqlState: sqlState, message: message)
    }
}
