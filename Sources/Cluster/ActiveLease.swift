import Foundation
import Storage

/// The active role in the database (`cluster_lease`): one row, changed only by compare-and-set
/// UPDATEs whose conditions name the holder and epoch a node believes in. Expiry is in the
/// database's clock (NOW(6)), so the nodes' clocks need not agree.
public struct ActiveLease: Sendable {
    let pool: ConnectionPool

    public init(pool: ConnectionPool) { self.pool = pool }

    /// The row as it is now.
    public func read() async throws -> (lease: LeaseDecision.Lease, expiresAt: Date) {
        guard let row = try await pool.query(
            """
            SELECT holder, epoch, expires_at, (expires_at < NOW(6)) AS expired,
                IF(handoff_until > NOW(6), handoff_to, NULL) AS handoff_to
            FROM cluster_lease WHERE name = 'active'
            """).first
        else { throw ClusterError.noLeaseRow }
        return (LeaseDecision.Lease(holder: try row.optionalString("holder"), epoch: UInt64(try row.int("epoch")),
                                    expired: try row.bool("expired"), handoffTo: try row.optionalString("handoff_to")),
                try row.date("expires_at"))
    }

    /// Takes the role if it is free, expired, or being handed to `node`; returns the new epoch, or nil
    /// when another node was quicker.
    public func acquire(node: String, for timeout: Duration, autoFailover: Bool) async throws -> UInt64? {
        let result = try await pool.execute(
            """
            UPDATE cluster_lease SET holder = ?, epoch = epoch + 1, expires_at = NOW(6) + INTERVAL ? MICROSECOND,
                handoff_to = NULL, handoff_until = NULL, updated_at = NOW(6)
            WHERE name = 'active'
                AND (holder IS NULL OR (expires_at < NOW(6) AND (? OR (handoff_to <=> ? AND handoff_until > NOW(6)))))
                AND (handoff_to IS NULL OR handoff_until < NOW(6) OR handoff_to = ?)
            """,
            [.text(node), .int(Self.micros(timeout)), .int(autoFailover ? 1 : 0), .text(node), .text(node)])
        guard result.affectedRows == 1 else { return nil }
        let (lease, _) = try await read()
        return lease.holder == node ? lease.epoch : nil
    }

    /// Extends the lease held with `epoch`; false when it is no longer this node's. A lease that
    /// expired is renewed too while its epoch stands: no other node has taken it meanwhile (taking it
    /// moves the epoch on), so the role does not stay vacant after a database outage.
    public func renew(node: String, epoch: UInt64, for timeout: Duration) async throws -> Bool {
        try await pool.execute(
            """
            UPDATE cluster_lease SET expires_at = NOW(6) + INTERVAL ? MICROSECOND, updated_at = NOW(6)
            WHERE name = 'active' AND holder = ? AND epoch = ?
            """, [.int(Self.micros(timeout)), .text(node), .uint(epoch)]).affectedRows == 1
    }

    /// Gives the role up (after singleton work stopped). A pending handoff stays, so its target takes it.
    public func release(node: String, epoch: UInt64) async throws {
        try await pool.execute(
            "UPDATE cluster_lease SET holder = NULL, expires_at = NOW(6), updated_at = NOW(6) WHERE name = 'active' AND holder = ? AND epoch = ?",
            [.text(node), .uint(epoch)])
    }

    /// Asks the holder to hand the role to `target` within `within` (`postern failover`).
    public func requestHandoff(to target: String, within: Duration) async throws {
        try await pool.execute(
            "UPDATE cluster_lease SET handoff_to = ?, handoff_until = NOW(6) + INTERVAL ? MICROSECOND, updated_at = NOW(6) WHERE name = 'active'",
            [.text(target), .int(Self.micros(within))])
    }

    /// Records the start of a run of singleton work, only if `node` still holds the lease with
    /// `epoch` (fencing): the run's id, or nil when the lease is gone.
    public func startRun(_ job: String, node: String, epoch: UInt64) async throws -> UInt64? {
        let result = try await pool.execute(
            """
            INSERT INTO singleton_runs (job, node, epoch, started_at)
            SELECT ?, ?, ?, NOW(6) FROM cluster_lease
            WHERE name = 'active' AND holder = ? AND epoch = ? AND expires_at > NOW(6)
            """, [.text(job), .text(node), .uint(epoch), .text(node), .uint(epoch)])
        return result.affectedRows == 1 ? result.lastInsertID : nil
    }

    public func finishRun(_ id: UInt64) async throws {
        try await pool.execute("UPDATE singleton_runs SET finished_at = NOW(6) WHERE id = ?", [.uint(id)])
    }

    /// Forgets runs of singleton work older than `age`.
    public func pruneRuns(olderThan age: Duration) async throws {
        try await pool.execute("DELETE FROM singleton_runs WHERE started_at < NOW(6) - INTERVAL ? MICROSECOND", [.int(Self.micros(age))])
    }

    static func micros(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
    }
}

public enum ClusterError: Error, CustomStringConvertible {
    case noLeaseRow
    case unknownNode(String)
    case noOtherNode
    case timedOut(String)

    public var description: String {
        switch self {
        case .noLeaseRow: "the database has no cluster lease row: run `postern migrate`"
        case .unknownNode(let name): "no node named \(name) has ever run against this database"
        case .noOtherNode: "no other live node can take the active role"
        case .timedOut(let what): what
        }
    }
}
