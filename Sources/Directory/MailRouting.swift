import Foundation
import Storage

/// Where mail to an alias goes, as the SMTP server needs to know it at RCPT time.
public struct AliasRouting: Sendable, Equatable {
    /// A mailbox the alias forwards to.
    public struct Destination: Sendable, Equatable {
        public var recipientID: String
        public var email: String

        public init(recipientID: String, email: String) {
            self.recipientID = recipientID
            self.email = email
        }
    }

    public var aliasID: String
    public var userID: String
    public var email: String
    public var active: Bool
    public var deleted: Bool
    /// The owner wants mail to a deactivated alias refused (550) rather than accepted and dropped.
    public var rejectDeactivated: Bool
    /// The owner has used up the month's bandwidth.
    public var overBandwidth: Bool
    /// The alias's own verified recipients, or else the owner's verified default recipient.
    public var destinations: [Destination]
}

/// The lookups mail handling makes: aliases by address, the domains Postern receives for.
public struct MailRouting: Sendable {
    let pool: ConnectionPool

    public init(pool: ConnectionPool) { self.pool = pool }

    /// The alias with this address (compared case-insensitively), deleted or not; nil when none exists.
    public func alias(email: String) async throws -> AliasRouting? {
        let rows = try await pool.query(
            """
            SELECT a.id, a.user_id, a.email, a.active, a.deleted_at IS NOT NULL AS deleted, u.reject_deactivated,
                (u.bandwidth_limit > 0 AND u.bandwidth >= u.bandwidth_limit) AS over_bandwidth,
                d.id AS default_id, d.email AS default_email, r.id AS own_id, r.email AS own_email
            FROM aliases a JOIN users u ON u.id = a.user_id
            LEFT JOIN recipients d ON d.id = u.default_recipient_id AND d.email_verified_at IS NOT NULL
            LEFT JOIN alias_recipients ar ON ar.alias_id = a.id
            LEFT JOIN recipients r ON r.id = ar.recipient_id AND r.email_verified_at IS NOT NULL
            WHERE a.email = ?
            ORDER BY r.created_at, r.id
            """, [.text(email)])
        guard let first = rows.first else { return nil }
        var own: [AliasRouting.Destination] = []
        for row in rows {
            if let id = try row.optionalString("own_id"), let address = try row.optionalString("own_email") {
                own.append(.init(recipientID: id, email: address))
            }
        }
        if own.isEmpty, let id = try first.optionalString("default_id"), let address = try first.optionalString("default_email") {
            own = [.init(recipientID: id, email: address)]
        }
        return AliasRouting(
            aliasID: try first.string("id"), userID: try first.string("user_id"), email: try first.string("email"),
            active: try first.bool("active"), deleted: try first.bool("deleted"),
            rejectDeactivated: try first.bool("reject_deactivated"), overBandwidth: try first.bool("over_bandwidth"),
            destinations: own)
    }

    /// Whether a user's verified, active custom domain has this name.
    public func isCustomDomain(_ domain: String) async throws -> Bool {
        try await !pool.query(
            "SELECT 1 AS found FROM domains WHERE domain = ? AND active = 1 AND domain_verified_at IS NOT NULL",
            [.text(domain)]
        ).isEmpty
    }

    /// Whether an active username has this name.
    public func isActiveUsername(_ username: String) async throws -> Bool {
        try await !pool.query("SELECT 1 AS found FROM usernames WHERE username = ? AND active = 1", [.text(username)]).isEmpty
    }

    /// Counts a message dropped because its alias is deactivated.
    public func countBlocked(aliasID: String, at now: Date = Date()) async throws {
        try await pool.execute(
            "UPDATE aliases SET emails_blocked = emails_blocked + 1, last_blocked = ? WHERE id = ?",
            [.date(now), .text(aliasID)])
    }

    /// Counts messages forwarded for aliases, and their size against the owners' bandwidth, in one transaction.
    public func countForwarded(_ counts: [(aliasID: String, userID: String, messages: Int, bytes: Int, at: Date)]) async throws {
        try await pool.transaction { connection in
            for count in counts {
                _ = try await connection.execute(
                    "UPDATE aliases SET emails_forwarded = emails_forwarded + ?, last_forwarded = ? WHERE id = ?",
                    [.int(Int64(count.messages)), .date(count.at), .text(count.aliasID)])
                _ = try await connection.execute(
                    "UPDATE users SET bandwidth = bandwidth + ? WHERE id = ?", [.int(Int64(count.bytes)), .text(count.userID)])
            }
        }
    }
}
