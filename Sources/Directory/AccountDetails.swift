import Foundation
import MailCore
import Storage

/// What `account-details` shows of an account: settings and totals.
public struct AccountDetails: Sendable {
    /// How many usernames an account may have (shown to clients; not enforced yet).
    public static let usernameLimit = 20

    public var id: String
    public var username: String
    public var fromName: String?
    public var bannerLocation: String
    /// How forwarded mail failing an enforced DMARC policy is marked: subject, banner or off.
    public var dmarcFailWarning: String
    /// `deliver` or `hold` (`RecipientEncryption.WhenKeyFails`).
    public var encryptionKeyFailure: String
    public var bandwidth: UInt64
    public var bandwidthLimit: UInt64
    public var defaultUsernameID: String?
    public var defaultRecipientID: String?
    public var defaultAliasDomain: String?
    public var defaultAliasFormat: String
    public var usernameCount: Int
    public var recipientCount: Int
    public var activeDomainCount: Int
    public var activeSharedDomainAliasCount: Int
    public var totalForwarded: Int
    public var totalBlocked: Int
    public var totalReplied: Int
    public var totalSent: Int
    public var totalAliases: Int
    public var totalActiveAliases: Int
    public var totalInactiveAliases: Int
    public var totalDeletedAliases: Int
    public var createdAt: Date
    public var updatedAt: Date
}

extension Accounts {
    /// `defaultBandwidthLimit`: the node's `limits.bandwidth_per_month`, for users without their own.
    public func details(userID: String, defaultBandwidthLimit: Int = 0) async throws -> AccountDetails? {
        let rows = try await pool.query(
            """
            SELECT u.id, n.username, u.default_username_id, u.from_name, u.banner_location, u.dmarc_fail_warning, u.encryption_key_failure,
                IF(u.bandwidth_month <=> ?, u.bandwidth, 0) AS bandwidth, CAST(COALESCE(u.bandwidth_limit, ?) AS SIGNED) AS bandwidth_limit,
                u.default_recipient_id, u.default_alias_domain, u.default_alias_format, u.created_at, u.updated_at,
                (SELECT COUNT(*) FROM usernames x WHERE x.user_id = u.id) AS username_count,
                (SELECT COUNT(*) FROM recipients r WHERE r.user_id = u.id) AS recipient_count,
                (SELECT COUNT(*) FROM domains d WHERE d.user_id = u.id AND d.active = 1) AS active_domain_count,
                (SELECT COUNT(*) FROM aliases a WHERE a.user_id = u.id AND a.aliasable_type IS NULL AND a.active = 1
                    AND a.deleted_at IS NULL) AS active_shared,
                (SELECT COALESCE(SUM(a.emails_forwarded), 0) FROM aliases a WHERE a.user_id = u.id) AS forwarded,
                (SELECT COALESCE(SUM(a.emails_blocked), 0) FROM aliases a WHERE a.user_id = u.id) AS blocked,
                (SELECT COALESCE(SUM(a.emails_replied), 0) FROM aliases a WHERE a.user_id = u.id) AS replied,
                (SELECT COALESCE(SUM(a.emails_sent), 0) FROM aliases a WHERE a.user_id = u.id) AS sent,
                (SELECT COUNT(*) FROM aliases a WHERE a.user_id = u.id) AS total,
                (SELECT COUNT(*) FROM aliases a WHERE a.user_id = u.id AND a.active = 1 AND a.deleted_at IS NULL) AS active,
                (SELECT COUNT(*) FROM aliases a WHERE a.user_id = u.id AND a.active = 0 AND a.deleted_at IS NULL) AS inactive,
                (SELECT COUNT(*) FROM aliases a WHERE a.user_id = u.id AND a.deleted_at IS NOT NULL) AS deleted
            FROM users u LEFT JOIN usernames n ON n.id = u.default_username_id
            WHERE u.id = ?
            """, [.text(MailRouting.month(of: Date())), .int(Int64(defaultBandwidthLimit)), .text(userID)])
        guard let row = rows.first else { return nil }
        func count(_ column: String) throws -> Int {
            switch row[column] {
            case .text(let s): Int(Double(s) ?? 0)  // SUM() of integers comes back as DECIMAL text
            default: Int(try row.int(column))
            }
        }
        return AccountDetails(
            id: try row.string("id"), username: try row.optionalString("username") ?? "",
            fromName: try row.optionalString("from_name"), bannerLocation: try row.string("banner_location"),
            dmarcFailWarning: try row.string("dmarc_fail_warning"), encryptionKeyFailure: try row.string("encryption_key_failure"), bandwidth: UInt64(try count("bandwidth")), bandwidthLimit: UInt64(try count("bandwidth_limit")),
            defaultUsernameID: try row.optionalString("default_username_id"),
            defaultRecipientID: try row.optionalString("default_recipient_id"),
            defaultAliasDomain: try row.optionalString("default_alias_domain"),
            defaultAliasFormat: try row.string("default_alias_format"), usernameCount: try count("username_count"),
            recipientCount: try count("recipient_count"), activeDomainCount: try count("active_domain_count"),
            activeSharedDomainAliasCount: try count("active_shared"), totalForwarded: try count("forwarded"),
            totalBlocked: try count("blocked"), totalReplied: try count("replied"), totalSent: try count("sent"),
            totalAliases: try count("total"), totalActiveAliases: try count("active"),
            totalInactiveAliases: try count("inactive"), totalDeletedAliases: try count("deleted"),
            createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"))
    }
}

extension Accounts {
    /// Sets how forwarded mail failing an enforced DMARC policy is marked (`ForwardingStyle.DMARCWarning`).
    public func setDMARCFailWarning(_ value: ForwardingStyle.DMARCWarning?, userID: String) async throws {
        try await pool.execute("UPDATE users SET dmarc_fail_warning = ?, updated_at = ? WHERE id = ?",
                               [.text(value?.rawValue ?? "off"), .date(Date().atDatabasePrecision), .text(userID)])
    }

    /// Sets what happens to mail for a mailbox whose OpenPGP key cannot be encrypted to.
    public func setEncryptionKeyFailure(_ value: RecipientEncryption.WhenKeyFails, userID: String) async throws {
        try await pool.execute("UPDATE users SET encryption_key_failure = ?, updated_at = ? WHERE id = ?",
                               [.text(value.rawValue), .date(Date().atDatabasePrecision), .text(userID)])
    }
}
