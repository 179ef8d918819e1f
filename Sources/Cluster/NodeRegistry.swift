import Foundation
import Storage

/// The nodes sharing the database (`nodes`): each writes its row at every heartbeat.
public struct NodeRegistry: Sendable {
    /// What `postern node list` shows of a node.
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var hostname: String
        public var smtpAddress: String?
        public var version: String?
        /// `running`, `draining`, `drained` or `stopped`.
        public var state: String
        public var drainRequested: Bool
        public var queueDepth: Int
        public var lastHeartbeat: Date
        /// Seconds since the last heartbeat, in the database's clock.
        public var silentFor: Double
        public var isActive: Bool
    }

    let pool: ConnectionPool

    public init(pool: ConnectionPool) { self.pool = pool }

    /// Writes this node's row: who it is, its state and queue depth, and the time (the database's).
    /// Returns whether an administrator asked it to drain.
    public func heartbeat(name: String, hostname: String, smtpAddress: String, version: String, state: String,
                          queueDepth: Int) async throws -> Bool {
        try await pool.execute(
            """
            INSERT INTO nodes (name, hostname, smtp_address, version, state, queue_depth, started_at, last_heartbeat)
            VALUES (?, ?, ?, ?, ?, ?, NOW(6), NOW(6))
            ON DUPLICATE KEY UPDATE hostname = VALUES(hostname), smtp_address = VALUES(smtp_address),
                version = VALUES(version), state = VALUES(state), queue_depth = VALUES(queue_depth), last_heartbeat = NOW(6)
            """,
            [.text(name), .text(hostname), .text(smtpAddress), .text(version), .text(state), .int(Int64(queueDepth))])
        let rows = try await pool.query("SELECT drain_requested FROM nodes WHERE name = ?", [.text(name)])
        return try rows.first?.bool("drain_requested") ?? false
    }

    public func list() async throws -> [Entry] {
        try await pool.query(
            """
            SELECT n.name, n.hostname, n.smtp_address, n.version, n.state, n.drain_requested, n.queue_depth, n.last_heartbeat,
                CAST(TIMESTAMPDIFF(MICROSECOND, n.last_heartbeat, NOW(6)) AS SIGNED) AS silent_micros,
                (l.holder <=> n.name AND l.expires_at > NOW(6)) AS active
            FROM nodes n LEFT JOIN cluster_lease l ON l.name = 'active'
            ORDER BY n.name
            """
        ).map { row in
            Entry(name: try row.string("name"), hostname: try row.string("hostname"), smtpAddress: try row.optionalString("smtp_address"),
                  version: try row.optionalString("version"), state: try row.string("state"),
                  drainRequested: try row.bool("drain_requested"), queueDepth: Int(try row.int("queue_depth")),
                  lastHeartbeat: try row.date("last_heartbeat"), silentFor: Double(try row.int("silent_micros")) / 1e6,
                  isActive: try row.bool("active"))
        }
    }

    /// Asks a node to drain (or to take mail again); false when no such node is known.
    public func requestDrain(_ name: String, _ drain: Bool) async throws -> Bool {
        let result = try await pool.execute("UPDATE nodes SET drain_requested = ? WHERE name = ?", [.int(drain ? 1 : 0), .text(name)])
        if result.affectedRows == 1 { return true }
        return try await !pool.query("SELECT name FROM nodes WHERE name = ?", [.text(name)]).isEmpty
    }
}
