import Logging
import Synchronization

/// A bounded pool of `MariaDBConnection`s shared by the whole process.
///
/// A broken connection is closed and forgotten, never reconnected in place; the next caller gets a
/// fresh one. A connection that sat idle for a while is pinged before it is handed out, so a server
/// restart or a killed session is noticed before a write is attempted on it.
public final class ConnectionPool: Sendable {
    public let options: ConnectionOptions
    public let maxConnections: Int
    private let acquireTimeout: Duration
    private let idleCheckAfter: Duration
    private let logger: Logger
    private let state = Mutex(State())

    private struct Idle {
        let connection: MariaDBConnection
        let since: ContinuousClock.Instant
    }

    /// What a caller is granted: a connection to use, or room to open a new one.
    private enum Grant {
        case idle(Idle)
        case openNew
    }

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Grant, any Error>
    }

    private struct State {
        var idle: [Idle] = []
        var open = 0
        var waiters: [Waiter] = []
        var nextWaiterID: UInt64 = 0
        var closed = false
    }

    public init(
        options: ConnectionOptions, maxConnections: Int = 10, acquireTimeout: Duration = .seconds(10),
        idleCheckAfter: Duration = .seconds(5), logger: Logger = Logger(label: "postern.storage")
    ) {
        self.options = options
        self.maxConnections = max(1, maxConnections)
        self.acquireTimeout = acquireTimeout
        self.idleCheckAfter = idleCheckAfter
        self.logger = logger
    }

    /// Lends a connection to `body` and takes it back afterwards (discarding it if it broke).
    public func withConnection<T>(
        isolation: isolated (any Actor)? = #isolation, _ body: (MariaDBConnection) async throws -> T
    ) async throws -> T {
        let connection = try await acquire()
        do {
            let result = try await body(connection)
            await release(connection)
            return result
        } catch {
            await release(connection)
            throw error
        }
    }

    /// Runs `body` inside a transaction: committed when it returns, rolled back when it throws.
    public func transaction<T>(
        isolation: isolated (any Actor)? = #isolation, _ body: (MariaDBConnection) async throws -> T
    ) async throws -> T {
        try await withConnection { connection in
            try await connection.beginTransaction()
            do {
                let result = try await body(connection)
                try await connection.commit()
                return result
            } catch {
                try? await connection.rollback()
                throw error
            }
        }
    }

    /// Runs one statement on any connection. An `idempotent` statement (a read, or a write that is
    /// safe to repeat) is tried once more on a fresh connection when the first one turns out lost.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [SQLValue] = [], idempotent: Bool = false) async throws
        -> QueryResult
    {
        do {
            return try await withConnection { try await $0.execute(sql, parameters) }
        } catch MariaDBError.connectionLost(let message) where idempotent {
            logger.info("retrying a read after a lost connection", metadata: ["error": "\(message)"])
            return try await withConnection { try await $0.execute(sql, parameters) }
        }
    }

    /// Runs a read: retried once on a fresh connection if the connection was lost.
    public func query(_ sql: String, _ parameters: [SQLValue] = []) async throws -> [Row] {
        try await execute(sql, parameters, idempotent: true).rows
    }

    /// Closes every idle connection and fails waiting callers; connections in use close on return.
    public func close() async {
        let (idle, waiters) = state.withLock { state in
            state.closed = true
            state.open -= state.idle.count
            defer {
                state.idle.removeAll()
                state.waiters.removeAll()
            }
            return (state.idle, state.waiters)
        }
        for waiter in waiters { waiter.continuation.resume(throwing: MariaDBError.poolClosed) }
        for entry in idle { await entry.connection.close() }
    }

    /// How many connections are open (idle or lent out) right now.
    public var openConnections: Int { state.withLock { $0.open } }

    private func acquire() async throws -> MariaDBConnection {
        while true {
            switch try await grant() {
            case .idle(let entry):
                if ContinuousClock.now - entry.since < idleCheckAfter {
                    return entry.connection
                }
                if await entry.connection.ping() { return entry.connection }
                logger.info("discarding a database connection that no longer answers")
                await entry.connection.close()
                giveBackCapacity()
            case .openNew:
                do {
                    return try await MariaDBConnection.connect(options)
                } catch {
                    giveBackCapacity()
                    throw error
                }
            }
        }
    }

    private func grant() async throws -> Grant {
        let timeout = acquireTimeout
        return try await withCheckedThrowingContinuation { continuation in
            let immediate: Result<Grant, any Error>? = state.withLock { state in
                if state.closed { return .failure(MariaDBError.poolClosed) }
                if let entry = state.idle.popLast() { return .success(.idle(entry)) }
                if state.open < maxConnections {
                    state.open += 1
                    return .success(.openNew)
                }
                let id = state.nextWaiterID
                state.nextWaiterID += 1
                state.waiters.append(Waiter(id: id, continuation: continuation))
                Task { [weak self] in
                    try? await Task.sleep(for: timeout)
                    self?.expireWaiter(id)
                }
                return nil
            }
            if let immediate { continuation.resume(with: immediate) }
        }
    }

    private func expireWaiter(_ id: UInt64) {
        let waiter = state.withLock { state -> Waiter? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(throwing: MariaDBError.poolExhausted)
    }

    private func release(_ connection: MariaDBConnection) async {
        if await connection.isBroken {
            await connection.close()
            giveBackCapacity()
            return
        }
        enum Next { case waiter(Waiter), kept, close }
        let next = state.withLock { state -> Next in
            if state.closed {
                state.open -= 1
                return .close
            }
            if state.waiters.isEmpty {
                state.idle.append(Idle(connection: connection, since: .now))
                return .kept
            }
            return .waiter(state.waiters.removeFirst())
        }
        switch next {
        case .waiter(let waiter): waiter.continuation.resume(returning: .idle(Idle(connection: connection, since: .now)))
        case .kept: break
        case .close: await connection.close()
        }
    }

    /// A connection went away: let a waiting caller open a new one, or lower the count.
    private func giveBackCapacity() {
        let waiter = state.withLock { state -> Waiter? in
            if state.waiters.isEmpty {
                state.open -= 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.continuation.resume(returning: .openNew)
    }
}
