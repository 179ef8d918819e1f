/// How a connection behaves: where it goes and how long it may wait.
public struct ConnectionOptions: Sendable, Equatable {
    public var url: DatabaseURL
    /// Limit for establishing the TCP/socket connection and the handshake, in seconds.
    public var connectTimeout: UInt32
    /// Limit for one statement on the server (`max_statement_time`), in seconds. The client-side
    /// read/write timeouts are set a little longer so a stuck network is also noticed.
    public var statementTimeout: UInt32

    public init(url: DatabaseURL, connectTimeout: UInt32 = 5, statementTimeout: UInt32 = 30) {
        self.url = url
        self.connectTimeout = connectTimeout
        self.statementTimeout = statementTimeout
    }
}
