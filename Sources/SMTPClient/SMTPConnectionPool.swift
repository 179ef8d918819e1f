import NIOSSL

/// Open connections to next hops, kept for reuse between messages (Postfix's connection cache).
/// A connection idle longer than `idleLimit` is closed instead of reused.
public actor SMTPConnectionPool {
    private var idle: [String: [(connection: SMTPClientConnection, since: ContinuousClock.Instant)]] = [:]
    private let idleLimit: Duration
    private let maxIdlePerHop: Int

    public init(idleLimit: Duration = .seconds(10), maxIdlePerHop: Int = 32) {
        self.idleLimit = idleLimit
        self.maxIdlePerHop = maxIdlePerHop
    }

    /// An idle connection to `endpoint` that is still open, or nil.
    public func take(_ endpoint: String) -> SMTPClientConnection? {
        let now = ContinuousClock.now
        while var list = idle[endpoint], let last = list.popLast() {
            idle[endpoint] = list
            if last.connection.isActive && now - last.since < idleLimit { return last.connection }
            Task { await last.connection.close() }
        }
        return nil
    }

    /// Gives a connection back after a transaction.
    public func put(_ connection: SMTPClientConnection) async {
        guard connection.isActive, idle[connection.endpoint, default: []].count < maxIdlePerHop else {
            await connection.close()
            return
        }
        idle[connection.endpoint, default: []].append((connection, ContinuousClock.now))
    }

    /// Closes connections idle too long.
    public func sweep() async {
        let now = ContinuousClock.now
        var stale: [SMTPClientConnection] = []
        for (endpoint, list) in idle {
            let keep = list.filter { $0.connection.isActive && now - $0.since < idleLimit }
            stale += list.filter { !($0.connection.isActive && now - $0.since < idleLimit) }.map(\.connection)
            idle[endpoint] = keep
        }
        for connection in stale { await connection.close() }
    }

    public func closeAll() async {
        let all = idle.values.flatMap { $0.map(\.connection) }
        idle = [:]
        for connection in all { await connection.close() }
    }
}
