import Foundation
import Spool
import Storage

/// The shared deferred queue (`deferred_messages`): messages whose first attempt was deferred, kept in
/// the database so that whichever node is active retries them, and a node can be lost for good
/// without taking deferred mail with it. A message moves in (`put`, then the local file goes) and out
/// (`claim`, the local file is written and fsync'd, then `remove`); a crash between two steps leaves
/// it in both places, which can deliver a copy twice but never loses one.
public struct SharedDeferredQueue: Sendable {
    public struct Item: Sendable {
        public var message: SpooledMessage
        public var progress: DeliveryProgress
        public var body: [UInt8]
        /// Set on items from `claimDue`: the claim that `remove` and `unclaim` must match.
        public var claim: String?
    }

    let pool: ConnectionPool
    let node: String

    public init(pool: ConnectionPool, node: String) {
        self.pool = pool
        self.node = node
    }

    /// Stores a message with its progress (replacing an older copy of it, from an earlier move).
    public func put(_ message: SpooledMessage, progress: DeliveryProgress, body: [UInt8]) async throws {
        let envelope = try JSONEncoder().encode(message)
        let state = try JSONEncoder().encode(progress)
        try await pool.execute(
            """
            INSERT INTO deferred_messages (queue_id, envelope, progress, message, next_attempt_at, from_node, created_at)
            VALUES (?, ?, ?, COMPRESS(?), ?, ?, NOW(6))
            ON DUPLICATE KEY UPDATE envelope = VALUES(envelope), progress = VALUES(progress), message = VALUES(message),
                next_attempt_at = VALUES(next_attempt_at), from_node = VALUES(from_node), claimed_by = NULL, claimed_until = NULL
            """,
            [.text(message.id.text), .blob(Array(envelope)), .blob(Array(state)), .blob(body), .date(progress.nextAttemptAt),
             .text(node)])
    }

    /// Claims up to `limit` messages that are due (or whose claim by a node that died ran out after
    /// `claimFor`), for this node, and reads them.
    public func claimDue(limit: Int, claimFor: Duration) async throws -> [Item] {
        guard limit > 0 else { return [] }
        let token = UUID().uuidString  // fits claimed_by whatever the node's name
        try await pool.execute(
            """
            UPDATE deferred_messages SET claimed_by = ?, claimed_until = NOW(6) + INTERVAL ? MICROSECOND
            WHERE next_attempt_at <= NOW(6) AND (claimed_by IS NULL OR claimed_until < NOW(6))
            ORDER BY next_attempt_at, queue_id LIMIT ?
            """, [.text(token), .int(ActiveLease.micros(claimFor)), .int(Int64(limit))])
        let rows = try await pool.query(
            "SELECT queue_id, envelope, progress, UNCOMPRESS(message) AS body FROM deferred_messages WHERE claimed_by = ?",
            [.text(token)])
        return try rows.compactMap { row in
            var item = try Self.item(row)
            item?.claim = token
            return item
        }
    }

    /// Forgets a message this node has taken into its own spool under `claim`.
    public func remove(_ id: QueueID, claim: String?) async throws {
        try await pool.execute("DELETE FROM deferred_messages WHERE queue_id = ? AND claimed_by <=> ?",
                               [.text(id.text), claim.map { .text($0) } ?? .null])
    }

    /// Gives a claimed message back untouched (this node cannot take it now).
    public func unclaim(_ id: QueueID, claim: String?) async throws {
        try await pool.execute(
            "UPDATE deferred_messages SET claimed_by = NULL, claimed_until = NULL WHERE queue_id = ? AND claimed_by <=> ?",
            [.text(id.text), claim.map { .text($0) } ?? .null])
    }

    /// Everything in the shared queue (for `postern queue list`), oldest first, with the node it came from.
    public func all() async throws -> [(item: Item, fromNode: String)] {
        try await read("SELECT queue_id, envelope, progress, UNCOMPRESS(message) AS body, from_node FROM deferred_messages ORDER BY queue_id", [])
    }

    /// One message of the shared queue, or nil.
    public func item(_ id: QueueID) async throws -> (item: Item, fromNode: String)? {
        try await read("SELECT queue_id, envelope, progress, UNCOMPRESS(message) AS body, from_node FROM deferred_messages WHERE queue_id = ?",
                       [.text(id.text)]).first
    }

    /// Deletes a message nobody is taking right now; false when there is none such.
    public func delete(_ id: QueueID) async throws -> Bool {
        try await pool.execute(
            "DELETE FROM deferred_messages WHERE queue_id = ? AND (claimed_by IS NULL OR claimed_until < NOW(6))",
            [.text(id.text)]).affectedRows == 1
    }

    /// Makes every message of the shared queue due now (`postern queue flush`); how many there are.
    @discardableResult
    public func makeAllDue() async throws -> Int {
        Int(try await pool.execute("UPDATE deferred_messages SET next_attempt_at = NOW(6)").affectedRows)
    }

    private func read(_ sql: String, _ parameters: [SQLValue]) async throws -> [(item: Item, fromNode: String)] {
        try await pool.query(sql, parameters).compactMap { row in
            guard let item = try Self.item(row) else { return nil }
            return (item, try row.string("from_node"))
        }
    }

    static func item(_ row: Row) throws -> Item? {
        guard case .blob(let envelope) = row["envelope"], case .blob(let progress) = row["progress"] else { return nil }
        let body: [UInt8]
        switch row["body"] {
        case .blob(let bytes): body = bytes
        case .text(let text): body = Array(text.utf8)
        default: return nil  // UNCOMPRESS failed: never taken as an empty message
        }
        return Item(message: try JSONDecoder().decode(SpooledMessage.self, from: Data(envelope)),
                    progress: try JSONDecoder().decode(DeliveryProgress.self, from: Data(progress)), body: body)
    }

    public func count() async throws -> Int {
        Int(try await pool.query("SELECT COUNT(*) AS n FROM deferred_messages").first?.int("n") ?? 0)
    }
}
