import Foundation
import MailCore
import Storage

/// A user's own domain. Mail is taken for it once the user proved they own it (a TXT record holding
/// `verificationRecord`); the MX and sending checks tell them whether mail reaches the relay and
/// whether mail sent from it passes SPF, DKIM and DMARC.
public struct CustomDomain: Sendable, Equatable {
    public var id: String
    public var userID: String
    public var domain: String
    public var description: String?
    public var fromName: String?
    public var defaultRecipientID: String?
    /// The random part of the TXT record that proves ownership.
    public var verificationToken: String?
    public var active: Bool
    public var catchAll: Bool
    public var verifiedAt: Date?
    public var mxValidatedAt: Date?
    public var sendingVerifiedAt: Date?
    public var aliasesCount: Int
    public var createdAt: Date
    public var updatedAt: Date

    /// What the user publishes as a TXT record at the domain.
    public var verificationRecord: String? { verificationToken.map { "postern-verify=" + $0 } }
}

public enum CustomDomainFlag: String, Sendable { case active, catchAll = "catch_all" }

public struct CustomDomains: Sendable {
    let pool: ConnectionPool

    public init(pool: ConnectionPool) { self.pool = pool }

    static let columns = """
        d.id, d.user_id, d.domain, d.description, d.from_name, d.default_recipient_id, d.verification_token, d.active, d.catch_all,
        d.domain_verified_at, d.domain_mx_validated_at, d.domain_sending_verified_at, d.created_at, d.updated_at,
        (SELECT COUNT(*) FROM aliases a WHERE a.aliasable_type = 'domain' AND a.aliasable_id = d.id) AS aliases_count
        """

    static func decode(_ row: Row) throws -> CustomDomain {
        CustomDomain(
            id: try row.string("id"), userID: try row.string("user_id"), domain: try row.string("domain"),
            description: try row.optionalString("description"), fromName: try row.optionalString("from_name"),
            defaultRecipientID: try row.optionalString("default_recipient_id"),
            verificationToken: try row.optionalString("verification_token"), active: try row.bool("active"),
            catchAll: try row.bool("catch_all"), verifiedAt: try row.optionalDate("domain_verified_at"),
            mxValidatedAt: try row.optionalDate("domain_mx_validated_at"),
            sendingVerifiedAt: try row.optionalDate("domain_sending_verified_at"),
            aliasesCount: Int(try row.int("aliases_count")), createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"))
    }

    public func list(userID: String) async throws -> [CustomDomain] {
        try await pool.query(
            "SELECT " + Self.columns + " FROM domains d WHERE d.user_id = ? ORDER BY d.created_at, d.id", [.text(userID)]
        ).map(Self.decode)
    }

    public func get(id: String, userID: String) async throws -> CustomDomain? {
        try await pool.query(
            "SELECT " + Self.columns + " FROM domains d WHERE d.id = ? AND d.user_id = ?", [.text(id), .text(userID)]
        ).first.map(Self.decode)
    }

    public func create(userID: String, domain: String, description: String?) async throws -> CustomDomain {
        let now = Date().atDatabasePrecision
        let id = Identifier.make()
        do {
            try await pool.execute(
                """
                INSERT INTO domains (id, user_id, domain, description, verification_token, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
                [.text(id), .text(userID), .text(domain.lowercased()), .text(description), .text(Self.makeToken()), .date(now),
                 .date(now)])
        } catch MariaDBError.duplicateKey {
            throw DirectoryError.duplicate("domain", domain.lowercased())
        }
        guard let created = try await get(id: id, userID: userID) else { throw DirectoryError.notFound }
        return created
    }

    public func update(id: String, userID: String, description: String??, fromName: String??) async throws -> CustomDomain {
        guard var domain = try await get(id: id, userID: userID) else { throw DirectoryError.notFound }
        if let description { domain.description = description }
        if let fromName { domain.fromName = fromName }
        try await pool.execute(
            "UPDATE domains SET description = ?, from_name = ?, updated_at = ? WHERE id = ? AND user_id = ?",
            [.text(domain.description), .text(domain.fromName), .date(Date().atDatabasePrecision), .text(id), .text(userID)])
        return try await get(id: id, userID: userID) ?? domain
    }

    public func set(_ flag: CustomDomainFlag, _ value: Bool, id: String, userID: String) async throws -> CustomDomain {
        let sql: String
        switch flag {
        case .active: sql = "UPDATE domains SET active = ?, updated_at = ? WHERE id = ? AND user_id = ?"
        case .catchAll: sql = "UPDATE domains SET catch_all = ?, updated_at = ? WHERE id = ? AND user_id = ?"
        }
        let result = try await pool.execute(sql, [.bool(value), .date(Date().atDatabasePrecision), .text(id), .text(userID)])
        guard result.affectedRows == 1, let domain = try await get(id: id, userID: userID) else {
            throw DirectoryError.notFound
        }
        return domain
    }

    /// 40 random hex digits.
    static func makeToken() -> String {
        NodeSignature.lowercaseHex((0..<20).map { _ in UInt8.random(in: 0...255) })
    }

    /// Writes what the DNS checks found. Ownership, once proved, stays proved; the MX and sending
    /// checks hold only as long as they pass.
    public func recordChecks(id: String, userID: String, ownership: Bool, mx: Bool, sending: Bool, at now: Date = Date())
        async throws -> CustomDomain
    {
        let time = now.atDatabasePrecision
        try await pool.execute(
            """
            UPDATE domains SET domain_verified_at = IF(?, COALESCE(domain_verified_at, ?), domain_verified_at),
                domain_mx_validated_at = IF(?, ?, NULL), domain_sending_verified_at = IF(?, ?, NULL),
                updated_at = ?
            WHERE id = ? AND user_id = ?
            """,
            [.bool(ownership), .date(time), .bool(mx), .date(time), .bool(sending), .date(time), .date(time),
             .text(id), .text(userID)])
        guard let domain = try await get(id: id, userID: userID) else { throw DirectoryError.notFound }
        return domain
    }

    public func delete(id: String, userID: String) async throws {
        let result = try await pool.execute("DELETE FROM domains WHERE id = ? AND user_id = ?", [.text(id), .text(userID)])
        guard result.affectedRows == 1 else { throw DirectoryError.notFound }
    }
}
