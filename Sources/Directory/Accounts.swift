import Foundation
import MailCore
import Storage

/// An account: whoever owns aliases. Its default username names its username domain.
public struct User: Sendable, Equatable {
    public var id: String
    public var username: String
    public var defaultRecipientID: String?
    public var createdAt: Date
}

/// A real mailbox that aliases forward to.
public struct Recipient: Sendable, Equatable {
    public var id: String
    public var userID: String
    public var email: String
    public var verifiedAt: Date?
    public var canReplySend: Bool
    public var shouldEncrypt: Bool = false
    public var inlineEncryption: Bool = false
    public var protectedHeaders: Bool = false
    public var fingerprint: String? = nil
    public var aliasesCount: Int = 0
    public var createdAt: Date
    public var updatedAt: Date
}

/// Users and their recipients.
public struct Accounts: Sendable {
    let pool: ConnectionPool

    public init(pool: ConnectionPool) { self.pool = pool }

    /// Usernames become DNS labels (`ANYTHING@USERNAME.root`), so they are letters and digits only,
    /// stored in lower case (as addy.io allows them).
    public static func normalizedUsername(_ name: String) throws(DirectoryError) -> String {
        let lower = name.lowercased()
        guard (1...20).contains(lower.count), lower.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            throw .invalidUsername(name)
        }
        guard !reservedUsernames.contains(lower) else { throw .reservedUsername(lower) }
        return lower
    }

    /// Host names a relay's own domain commonly uses, and operator mailbox names: no user may take them
    /// as `NAME.<root domain>`.
    public static let reservedUsernames: Set<String> = [
        "www", "mail", "mx", "mx1", "mx2", "smtp", "imap", "pop", "pop3", "api", "app", "admin", "root", "ns", "ns1",
        "ns2", "autoconfig", "autodiscover", "postmaster", "abuse", "hostmaster", "webmaster", "noreply", "bounces",
    ]

    /// Creates an account, its default username, and its default recipient (already verified:
    /// the operator vouches for it). All or nothing.
    public func createUser(username: String, recipient: EmailAddress) async throws -> (User, Recipient) {
        let name = try Self.normalizedUsername(username)
        let now = Date().atDatabasePrecision
        let userID = Identifier.make()
        let usernameID = Identifier.make()
        let recipientID = Identifier.make()
        let recipient = recipient.normalized
        do {
            try await pool.transaction { db in
                _ = try await db.execute(
                    """
                    INSERT INTO users (id, default_username_id, default_recipient_id, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?)
                    """, [.text(userID), .text(usernameID), .text(recipientID), .date(now), .date(now)])
                _ = try await db.execute(
                    "INSERT INTO usernames (id, user_id, username, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                    [.text(usernameID), .text(userID), .text(name), .date(now), .date(now)])
                _ = try await db.execute(
                    """
                    INSERT INTO recipients (id, user_id, email, email_verified_at, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                    [.text(recipientID), .text(userID), .text(recipient.description), .date(now), .date(now), .date(now)])
            }
        } catch MariaDBError.duplicateKey {
            throw DirectoryError.usernameTaken(name)
        }
        return (
            User(id: userID, username: name, defaultRecipientID: recipientID, createdAt: now),
            Recipient(
                id: recipientID, userID: userID, email: recipient.description, verifiedAt: now, canReplySend: true,
                createdAt: now, updatedAt: now)
        )
    }

    /// The account that owns a username (any of its usernames), or nil.
    public func user(named username: String) async throws -> User? {
        guard let name = try? Self.normalizedUsername(username) else { return nil }
        let rows = try await pool.query(
            """
            SELECT u.id, n.username, u.default_recipient_id, u.created_at
            FROM usernames n JOIN users u ON u.id = n.user_id
            WHERE n.username = ?
            """, [.text(name)])
        guard let row = rows.first else { return nil }
        return User(
            id: try row.string("id"), username: try row.string("username"),
            defaultRecipientID: try row.optionalString("default_recipient_id"), createdAt: try row.date("created_at"))
    }

    public func recipients(of userID: String) async throws -> [Recipient] {
        try await Recipients(pool: pool).list(userID: userID)
    }
}

/// Record ids: random UUIDs, lower case, as addy.io's API shows them.
public enum Identifier {
    public static func make() -> String { UUID().uuidString.lowercased() }
}
