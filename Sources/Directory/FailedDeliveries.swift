import Foundation
import Storage

/// A message that could not be delivered to a recipient, kept for its owner to see.
public struct FailedDelivery: Sendable, Equatable {
    public var id: String
    public var userID: String
    public var recipientID: String?
    public var recipientEmail: String?
    public var aliasID: String?
    public var aliasEmail: String?
    public var bounceType: String?
    public var remoteMTA: String?
    public var sender: String?
    public var emailType: String?
    public var status: String?
    public var code: String?
    public var attemptedAt: Date
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, userID: String, recipientID: String?, recipientEmail: String?, aliasID: String?, aliasEmail: String?,
        bounceType: String?, remoteMTA: String?, sender: String?, emailType: String?, status: String?, code: String?,
        attemptedAt: Date, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.userID = userID
        self.recipientID = recipientID
        self.recipientEmail = recipientEmail
        self.aliasID = aliasID
        self.aliasEmail = aliasEmail
        self.bounceType = bounceType
        self.remoteMTA = remoteMTA
        self.sender = sender
        self.emailType = emailType
        self.status = status
        self.code = code
        self.attemptedAt = attemptedAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

public struct FailedDeliveries: Sendable {
    let pool: ConnectionPool

    public init(pool: ConnectionPool) { self.pool = pool }

    static let columns = """
        f.id, f.user_id, f.recipient_id, r.email AS recipient_email, f.alias_id, a.email AS alias_email, f.bounce_type,
        f.remote_mta, f.sender, f.email_type, f.status, f.code, f.attempted_at, f.created_at, f.updated_at
        FROM failed_deliveries f LEFT JOIN recipients r ON r.id = f.recipient_id LEFT JOIN aliases a ON a.id = f.alias_id
        """

    static func decode(_ row: Row) throws -> FailedDelivery {
        FailedDelivery(
            id: try row.string("id"), userID: try row.string("user_id"), recipientID: try row.optionalString("recipient_id"),
            recipientEmail: try row.optionalString("recipient_email"), aliasID: try row.optionalString("alias_id"),
            aliasEmail: try row.optionalString("alias_email"), bounceType: try row.optionalString("bounce_type"),
            remoteMTA: try row.optionalString("remote_mta"), sender: try row.optionalString("sender"),
            emailType: try row.optionalString("email_type"), status: try row.optionalString("status"),
            code: try row.optionalString("code"), attemptedAt: try row.date("attempted_at"),
            createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"))
    }

    public func list(userID: String) async throws -> [FailedDelivery] {
        try await pool.query(
            "SELECT " + Self.columns + " WHERE f.user_id = ? ORDER BY f.created_at DESC, f.id", [.text(userID)]
        ).map(Self.decode)
    }

    public func get(id: String, userID: String) async throws -> FailedDelivery? {
        try await pool.query("SELECT " + Self.columns + " WHERE f.id = ? AND f.user_id = ?", [.text(id), .text(userID)])
            .first.map(Self.decode)
    }

    /// Records a failure (the delivery queue calls this; tests use it to make records).
    public func record(_ delivery: FailedDelivery) async throws {
        try await pool.execute(
            """
            INSERT INTO failed_deliveries (id, user_id, recipient_id, alias_id, bounce_type, remote_mta, sender, email_type,
                status, code, attempted_at, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [.text(delivery.id), .text(delivery.userID), .text(delivery.recipientID), .text(delivery.aliasID),
             .text(delivery.bounceType), .text(delivery.remoteMTA), .text(delivery.sender), .text(delivery.emailType),
             .text(delivery.status), .text(delivery.code), .date(delivery.attemptedAt), .date(delivery.createdAt),
             .date(delivery.updatedAt)])
    }

    /// Messages larger than this are not kept for re-sending.
    public static let maxKeptMessage = 10 * 1024 * 1024

    /// Keeps the message of a failed delivery until `until`, for `resend`.
    public func keepMessage(of id: String, sender: String?, message: [UInt8], until: Date) async throws {
        guard message.count <= Self.maxKeptMessage else { return }
        try await pool.execute(
            "INSERT INTO failed_delivery_messages (failed_delivery_id, sender, message, expires_at) VALUES (?, ?, ?, ?)",
            [.text(id), .text(sender), .blob(message), .date(until)])
    }

    /// The kept message of one of a user's failed deliveries, unless it has expired.
    public func keptMessage(of id: String, userID: String, at now: Date = Date()) async throws -> (sender: String?, message: [UInt8])? {
        guard let row = try await pool.query(
            """
            SELECT m.sender, m.message FROM failed_delivery_messages m JOIN failed_deliveries f ON f.id = m.failed_delivery_id
            WHERE m.failed_delivery_id = ? AND f.user_id = ? AND m.expires_at > ?
            """, [.text(id), .text(userID), .date(now)]).first
        else { return nil }
        guard case .blob(let bytes) = row["message"] else { return nil }
        return (try row.optionalString("sender"), bytes)
    }

    /// Drops the kept message of a failed delivery (once it has been sent again).
    public func dropKeptMessage(of id: String) async throws {
        try await pool.execute("DELETE FROM failed_delivery_messages WHERE failed_delivery_id = ?", [.text(id)])
    }

    /// Drops kept messages past their time, and hourly message counts of hours long gone.
    public func purgeKeptMessages(at now: Date = Date()) async throws {
        try await pool.execute("DELETE FROM failed_delivery_messages WHERE expires_at <= ?", [.date(now)])
        try await pool.execute("DELETE FROM user_hourly_messages WHERE hour < ?", [.date(now.addingTimeInterval(-7200))])
    }

    /// Forgets failed-delivery records older than `age` (their kept messages went after 7 days).
    public func pruneRecords(olderThan age: TimeInterval, at now: Date = Date()) async throws {
        try await pool.execute("DELETE FROM failed_deliveries WHERE created_at < ?", [.date(now.addingTimeInterval(-age))])
    }

    public func delete(id: String, userID: String) async throws {
        let result = try await pool.execute(
            "DELETE FROM failed_deliveries WHERE id = ? AND user_id = ?", [.text(id), .text(userID)])
        guard result.affectedRows == 1 else { throw DirectoryError.notFound }
    }
}
