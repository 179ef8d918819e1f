/// Errors from the database layer, typed by what the caller can do about them.
public enum MariaDBError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server could not be reached or refused us (wrong host, port, socket, credentials).
    case unreachable(String)
    /// The connection broke while in use. The statement may or may not have run on the server.
    case connectionLost(String)
    /// A statement ran longer than the configured limit.
    case timeout(String)
    /// A unique key already holds this value.
    case duplicateKey(String)
    /// Any other error the server reported for a statement: its error number, SQLSTATE and message.
    case server(code: UInt32, sqlState: String, message: String)
    /// No connection became free in time.
    case poolExhausted
    /// The pool was shut down.
    case poolClosed
    /// A column held a value of another type than the caller asked for.
    case decoding(column: String, found: String, expected: String)
    /// The statement took a different number of parameters than were given.
    case parameterCount(expected: Int, given: Int)

    public var description: String {
        switch self {
        case .unreachable(let m): "database unreachable: \(m)"
        case .connectionLost(let m): "database connection lost: \(m)"
        case .timeout(let m): "database timeout: \(m)"
        case .duplicateKey(let m): "duplicate key: \(m)"
        case .server(let code, let state, let m): "database error \(code) (\(state)): \(m)"
        case .poolExhausted: "no database connection became free in time"
        case .poolClosed: "the database pool is closed"
        case .decoding(let c, let f, let e): "column \(c) holds \(f), expected \(e)"
        case .parameterCount(let e, let g): "statement takes \(e) parameters, \(g) given"
        }
    }
}
