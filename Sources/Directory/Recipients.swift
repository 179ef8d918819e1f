import Crypto
import Foundation
import MailCore
import Storage

/// The recipient toggles addy.io exposes as `POST /X {"id"}` / `DELETE /X/{id}`.
public enum RecipientFlag: String, Sendable, CaseIterable {
    case shouldEncrypt = "should_encrypt"
    case inlineEncryption = "inline_encryption"
    case protectedHeaders = "protected_headers"
    case canReplySend = "can_reply_send"
}

/// Recipients: the real mailboxes of a user. Every query is scoped to the owning user.
public struct Recipients: Sendable {
    let pool: ConnectionPool

    public init(pool: ConnectionPool) { self.pool = pool }

    static let columns = """
        r.id, r.user_id, r.email, r.email_verified_at, r.can_reply_send, r.should_encrypt, r.inline_encryption,
        r.protected_headers, r.fingerprint, r.created_at, r.updated_at,
        (SELECT COUNT(*) FROM alias_recipients ar WHERE ar.recipient_id = r.id) AS aliases_count
        """

    static func decode(_ row: Row) throws -> Recipient {
        Recipient(
            id: try row.string("id"), userID: try row.string("user_id"), email: try row.string("email"),
            verifiedAt: try row.optionalDate("email_verified_at"), canReplySend: try row.bool("can_reply_send"),
            shouldEncrypt: try row.bool("should_encrypt"), inlineEncryption: try row.bool("inline_encryption"),
            protectedHeaders: try row.bool("protected_headers"), fingerprint: try row.optionalString("fingerprint"),
            aliasesCount: Int(try row.int("aliases_count")), createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"))
    }

    public func list(userID: String) async throws -> [Recipient] {
        try await pool.query(
            "SELECT " + Self.columns + " FROM recipients r WHERE r.user_id = ? ORDER BY r.created_at, r.id",
            [.text(userID)]
        ).map(Self.decode)
    }

    public func get(id: String, userID: String) async throws -> Recipient? {
        try await pool.query(
            "SELECT " + Self.columns + " FROM recipients r WHERE r.id = ? AND r.user_id = ?", [.text(id), .text(userID)]
        ).first.map(Self.decode)
    }

    /// Adds an unverified recipient and returns it with the token of its verification link.
    public func create(userID: String, email: EmailAddress) async throws -> (Recipient, String) {
        let email = email.normalized
        let now = Date().atDatabasePrecision
        let id = Identifier.make()
        let token = APITokens.generateSecret()
        do {
            try await pool.execute(
                """
                INSERT INTO recipients (id, user_id, email, verification_token_hash, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """, [.text(id), .text(userID), .text(email.description), .blob(APITokens.hash(token)), .date(now), .date(now)])
        } catch MariaDBError.duplicateKey {
            throw DirectoryError.duplicate("recipient", email.description)
        }
        guard let created = try await get(id: id, userID: userID) else { throw DirectoryError.notFound }
        return (created, token)
    }

    /// A fresh verification token for a user's recipient that is not verified yet (the old link stops
    /// working); nil when there is no such recipient, it is verified already, or it was changed less
    /// than `pause` ago (so the route cannot be used to mail a stranger again and again).
    public func renewVerification(id: String, userID: String, pause: TimeInterval = 60) async throws -> (Recipient, String)? {
        let token = APITokens.generateSecret()
        let now = Date().atDatabasePrecision
        let result = try await pool.execute(
            """
            UPDATE recipients SET verification_token_hash = ?, updated_at = ?
            WHERE id = ? AND user_id = ? AND email_verified_at IS NULL AND updated_at <= ?
            """, [.blob(APITokens.hash(token)), .date(now), .text(id), .text(userID), .date(now.addingTimeInterval(-pause))])
        guard result.affectedRows == 1, let recipient = try await get(id: id, userID: userID) else { return nil }
        return (recipient, token)
    }

    /// Follows a verification link: marks the recipient verified. Returns false for an unknown token.
    public func verify(token: String) async throws -> Bool {
        let now = Date().atDatabasePrecision
        let result = try await pool.execute(
            """
            UPDATE recipients SET email_verified_at = ?, verification_token_hash = NULL, updated_at = ?
            WHERE verification_token_hash = ?
            """, [.date(now), .date(now), .blob(APITokens.hash(token))])
        return result.affectedRows > 0
    }

    /// Deletes a recipient. The account's default recipient cannot be deleted.
    public func delete(id: String, userID: String) async throws {
        let rows = try await pool.query("SELECT default_recipient_id FROM users WHERE id = ?", [.text(userID)])
        if try rows.first?.optionalString("default_recipient_id") == id { throw DirectoryError.defaultRecipient }
        let result = try await pool.execute("DELETE FROM recipients WHERE id = ? AND user_id = ?", [.text(id), .text(userID)])
        guard result.affectedRows == 1 else { throw DirectoryError.notFound }
    }

    public func set(_ flag: RecipientFlag, _ value: Bool, id: String, userID: String) async throws -> Recipient {
        let sql: String
        switch flag {
        case .shouldEncrypt: sql = "UPDATE recipients SET should_encrypt = ?, updated_at = ? WHERE id = ? AND user_id = ?"
        case .inlineEncryption: sql = "UPDATE recipients SET inline_encryption = ?, updated_at = ? WHERE id = ? AND user_id = ?"
        case .protectedHeaders: sql = "UPDATE recipients SET protected_headers = ?, updated_at = ? WHERE id = ? AND user_id = ?"
        case .canReplySend: sql = "UPDATE recipients SET can_reply_send = ?, updated_at = ? WHERE id = ? AND user_id = ?"
        }
        let result = try await pool.execute(sql, [.bool(value), .date(Date().atDatabasePrecision), .text(id), .text(userID)])
        guard result.affectedRows == 1, let recipient = try await get(id: id, userID: userID) else {
            throw DirectoryError.notFound
        }
        return recipient
    }

    /// Stores a recipient's OpenPGP public key and fingerprint (already checked by the caller), or removes
    /// it (which also turns encryption off).
    public func setKey(_ key: (armored: String, fingerprint: String)?, id: String, userID: String) async throws -> Recipient {
        let now = Date().atDatabasePrecision
        let result: QueryResult
        if let key {
            result = try await pool.execute(
                "UPDATE recipients SET public_key = ?, fingerprint = ?, should_encrypt = 1, updated_at = ? WHERE id = ? AND user_id = ?",
                [.text(key.armored), .text(key.fingerprint), .date(now), .text(id), .text(userID)])
        } else {
            result = try await pool.execute(
                """
                UPDATE recipients SET public_key = NULL, fingerprint = NULL, should_encrypt = 0, inline_encryption = 0,
                protected_headers = 0, updated_at = ? WHERE id = ? AND user_id = ?
                """, [.date(now), .text(id), .text(userID)])
        }
        guard result.affectedRows == 1, let recipient = try await get(id: id, userID: userID) else {
            throw DirectoryError.notFound
        }
        return recipient
    }
}
