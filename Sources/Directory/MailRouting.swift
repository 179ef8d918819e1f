import Foundation
import MailCore
import Storage

/// Where mail to an alias goes, as the SMTP server needs to know it at RCPT time.
public struct AliasRouting: Sendable, Equatable {
    /// A mailbox the alias forwards to.
    public struct Destination: Sendable, Equatable {
        public var recipientID: String
        public var email: String
        /// Set when mail to this mailbox is encrypted to its key.
        public var encryption: RecipientEncryption?

        public init(recipientID: String, email: String, encryption: RecipientEncryption? = nil) {
            self.recipientID = recipientID
            self.email = email
            self.encryption = encryption
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
    /// The owner has had the hour's messages.
    public var overRate: Bool
    /// The alias's own verified recipients, or else the owner's verified default recipient.
    public var destinations: [Destination]
    /// How the owner wants forwarded mail presented.
    public var style: ForwardingStyle
    /// The display name of mail sent from the alias: its own, else its username's or domain's, else
    /// the owner's.
    public var fromName: String?
    /// On a custom domain whose ownership is not (or no longer) proved: no mail either way.
    public var unverifiedDomain: Bool
}

/// Per-user limits that apply when a user has none of their own (`limits.*`); 0 is no limit.
public struct ForwardingLimits: Sendable, Equatable {
    public var messagesPerHour: Int
    public var newAliasesPerHour: Int
    public var bandwidthPerMonth: Int

    public init(messagesPerHour: Int = 200, newAliasesPerHour: Int = 10, bandwidthPerMonth: Int = 104_857_600) {
        self.messagesPerHour = messagesPerHour
        self.newAliasesPerHour = newAliasesPerHour
        self.bandwidthPerMonth = bandwidthPerMonth
    }
}

/// The lookups mail handling makes: aliases by address, the domains Postern receives for.
public struct MailRouting: Sendable {
    let pool: ConnectionPool
    let limits: ForwardingLimits
    /// Answers of `alias(email:)` kept for a few seconds; nil: every lookup asks the database.
    public let cache: AliasRoutingCache?

    public init(pool: ConnectionPool, limits: ForwardingLimits = .init(), cache: AliasRoutingCache? = nil) {
        self.pool = pool
        self.limits = limits
        self.cache = cache
    }

    /// The alias with this address (compared case-insensitively), deleted or not; nil when none exists.
    /// Recipients: the alias's own verified ones, else its username's or domain's verified default,
    /// else the owner's verified default. From the cache when it holds a fresh answer.
    public func alias(email: String, at now: Date = Date()) async throws -> AliasRouting? {
        guard let cache else { return try await lookUpAlias(email: email, at: now) }
        let time = now.timeIntervalSince1970
        if let kept = cache.answer(for: email, at: time) { return kept }
        let generation = cache.generation
        let found = try await lookUpAlias(email: email, at: now)
        cache.keep(found, for: email, at: time, generation: generation)
        return found
    }

    /// The cache's fresh answer for `email`, without waiting: `.some(nil)` when it knows there is no
    /// such alias, nil when it does not know (no cache, or nothing fresh kept). Not counted: a caller
    /// that decides with it calls `countCacheHit`; one that does not goes on to `alias(email:)`, which
    /// counts.
    public func keptAlias(email: String, at now: Date = Date()) -> AliasRouting?? {
        cache?.answer(for: email, at: now.timeIntervalSince1970, counting: false)
    }

    public func countCacheHit() { cache?.countHit() }

    /// Something that decides how mail is routed changed (an alias, a recipient, a user's settings):
    /// this node forgets its kept answers now, the others when they next read the counter (each second).
    public func routingChanged() async throws {
        cache?.forgetAll()
        try await pool.execute("UPDATE routing_changes SET counter = counter + 1 WHERE id = 1")
    }

    /// The database's change counter (`routing_changes`), for `AliasRoutingCache.follow(counter:)`.
    public func routingChangeCounter() async throws -> UInt64 {
        UInt64(try await pool.query("SELECT CAST(counter AS SIGNED) AS counter FROM routing_changes WHERE id = 1")
            .first?.int("counter") ?? 0)
    }

    private func lookUpAlias(email: String, at now: Date) async throws -> AliasRouting? {
        let rows = try await pool.query(
            """
            SELECT a.id, a.user_id, a.email, a.active, a.deleted_at IS NOT NULL AS deleted, u.reject_deactivated,
                (COALESCE(un.active, dm.active, 1) = 0) AS parent_inactive,
                (COALESCE(u.bandwidth_limit, ?) > 0 AND u.bandwidth_month <=> ? AND u.bandwidth >= COALESCE(u.bandwidth_limit, ?))
                    AS over_bandwidth,
                (COALESCE(u.messages_per_hour_limit, ?) > 0 AND COALESCE(h.messages, 0) >= COALESCE(u.messages_per_hour_limit, ?))
                    AS over_rate,
                u.display_from_format, u.use_reply_to, u.dmarc_fail_warning, COALESCE(a.banner_location, u.banner_location) AS banner_location,
                COALESCE(a.from_name, un.from_name, dm.from_name, u.from_name) AS from_name,
                (a.aliasable_type <=> 'domain' AND dm.domain_verified_at IS NULL) AS unverified_domain,
                u.encryption_key_failure,
                \(Self.destinationColumns("d", "default")), \(Self.destinationColumns("pd", "parent_default")),
                \(Self.destinationColumns("r", "own"))
            FROM aliases a JOIN users u ON u.id = a.user_id
            LEFT JOIN usernames un ON a.aliasable_type = 'username' AND un.id = a.aliasable_id
            LEFT JOIN domains dm ON a.aliasable_type = 'domain' AND dm.id = a.aliasable_id
            LEFT JOIN recipients pd ON pd.id = COALESCE(un.default_recipient_id, dm.default_recipient_id)
                AND pd.email_verified_at IS NOT NULL
            LEFT JOIN recipients d ON d.id = u.default_recipient_id AND d.email_verified_at IS NOT NULL
            LEFT JOIN user_hourly_messages h ON h.user_id = u.id AND h.hour = ?
            LEFT JOIN alias_recipients ar ON ar.alias_id = a.id
            LEFT JOIN recipients r ON r.id = ar.recipient_id AND r.email_verified_at IS NOT NULL
            WHERE a.email = ?
            ORDER BY r.created_at, r.id
            """,
            [.int(Int64(limits.bandwidthPerMonth)), .text(Self.month(of: now)), .int(Int64(limits.bandwidthPerMonth)),
             .int(Int64(limits.messagesPerHour)), .int(Int64(limits.messagesPerHour)), .date(Self.hour(of: now)), .text(email)])
        guard let first = rows.first else { return nil }
        let whenKeyFails = RecipientEncryption.WhenKeyFails(rawValue: try first.string("encryption_key_failure")) ?? .deliver
        var own: [AliasRouting.Destination] = []
        for row in rows {
            if let destination = try Self.destination(row, "own", whenKeyFails: whenKeyFails) { own.append(destination) }
        }
        for prefix in ["parent_default", "default"] where own.isEmpty {
            if let destination = try Self.destination(first, prefix, whenKeyFails: whenKeyFails) { own = [destination] }
        }
        return AliasRouting(
            aliasID: try first.string("id"), userID: try first.string("user_id"), email: try first.string("email"),
            active: try first.bool("active") && !first.bool("parent_inactive"), deleted: try first.bool("deleted"),
            rejectDeactivated: try first.bool("reject_deactivated"), overBandwidth: try first.bool("over_bandwidth"),
            overRate: try first.bool("over_rate"),
            destinations: own, style: ForwardingStyle(
                fromDisplay: ForwardingStyle.FromDisplay(rawValue: Int(try first.int("display_from_format"))) ?? .nameAndAddress,
                useReplyTo: try first.bool("use_reply_to"),
                banner: ForwardingStyle.BannerLocation(rawValue: try first.string("banner_location")) ?? .top,
                dmarcWarning: ForwardingStyle.DMARCWarning(rawValue: try first.string("dmarc_fail_warning"))),
            fromName: try first.optionalString("from_name"), unverifiedDomain: try first.bool("unverified_domain"))
    }

    /// The columns of a recipient joined as `table` that make a destination, named `prefix_…`.
    static func destinationColumns(_ table: String, _ prefix: String) -> String {
        """
        \(table).id AS \(prefix)_id, \(table).email AS \(prefix)_email, \(table).inline_encryption AS \(prefix)_inline,
        \(table).protected_headers AS \(prefix)_protected,
        IF(\(table).should_encrypt = 1, \(table).fingerprint, NULL) AS \(prefix)_fingerprint,
        IF(\(table).should_encrypt = 1, SHA2(\(table).public_key, 256), NULL) AS \(prefix)_key_digest
        """
    }

    static func destination(_ row: Row, _ prefix: String, whenKeyFails: RecipientEncryption.WhenKeyFails) throws
        -> AliasRouting.Destination?
    {
        guard let id = try row.optionalString(prefix + "_id"), let address = try row.optionalString(prefix + "_email") else { return nil }
        let encryption = try row.optionalString(prefix + "_fingerprint").map {
            RecipientEncryption(fingerprint: $0, keyDigest: try row.optionalString(prefix + "_key_digest"),
                                inline: try row.bool(prefix + "_inline"), protectedHeaders: try row.bool(prefix + "_protected"),
                                whenKeyFails: whenKeyFails)
        }
        return .init(recipientID: id, email: address, encryption: encryption)
    }

    /// How mail to a recipient is encrypted now; nil when it is not (or the recipient is gone).
    public func encryption(ofRecipient recipientID: String) async throws -> RecipientEncryption? {
        guard let row = try await pool.query(
            """
            SELECT u.encryption_key_failure, \(Self.destinationColumns("r", "own"))
            FROM recipients r JOIN users u ON u.id = r.user_id WHERE r.id = ?
            """, [.text(recipientID)]).first else { return nil }
        let whenKeyFails = RecipientEncryption.WhenKeyFails(rawValue: try row.string("encryption_key_failure")) ?? .deliver
        return try Self.destination(row, "own", whenKeyFails: whenKeyFails)?.encryption
    }

    /// The OpenPGP key of a recipient as uploaded (armoured); nil when it has none.
    public func publicKey(ofRecipient recipientID: String) async throws -> String? {
        try await pool.query("SELECT public_key FROM recipients WHERE id = ?", [.text(recipientID)])
            .first?.optionalString("public_key")
    }

    /// Turns encryption off for a recipient whose key `fingerprint` cannot be encrypted to (unless a
    /// different key was uploaded meanwhile). True when it was on.
    @discardableResult
    public func turnOffEncryption(recipientID: String, fingerprint: String, at now: Date = Date()) async throws -> Bool {
        let changed = try await pool.execute(
            "UPDATE recipients SET should_encrypt = 0, updated_at = ? WHERE id = ? AND fingerprint = ? AND should_encrypt = 1",
            [.date(now.atDatabasePrecision), .text(recipientID), .text(fingerprint)]).affectedRows > 0
        if changed { try await routingChanged() }
        return changed
    }

    /// A user's verified mailboxes (recipients), and whether each may reply and send through the
    /// aliases (`can_reply_send`). An unverified address is anyone's: it counts as a stranger's.
    public func mailboxes(ofUser userID: String) async throws -> [(email: String, maySend: Bool)] {
        try await pool.query(
            "SELECT email, (can_reply_send = 1) AS may_send FROM recipients WHERE user_id = ? AND email_verified_at IS NOT NULL",
            [.text(userID)]
        ).map { (try $0.string("email"), try $0.bool("may_send")) }
    }

    /// Counts a message sent through an alias: a reply (`emails_replied`) or a new message (`emails_sent`).
    public func countSent(aliasID: String, reply: Bool, at now: Date = Date()) async throws {
        let sql = reply
            ? "UPDATE aliases SET emails_replied = emails_replied + 1, last_replied = ? WHERE id = ?"
            : "UPDATE aliases SET emails_sent = emails_sent + 1, last_sent = ? WHERE id = ?"
        try await pool.execute(sql, [.date(now.atDatabasePrecision), .text(aliasID)])
    }

    /// Who may get aliases created on first receipt at `domain`: a username's subdomain of the root
    /// domain, or a user's verified custom domain. Nil when the domain is neither.
    public func catchAllOwner(domain: String, rootDomain: String, at now: Date = Date()) async throws -> CatchAllOwner? {
        let rows: [Row]
        if !rootDomain.isEmpty, domain.hasSuffix("." + rootDomain) {
            let username = String(domain.dropLast(rootDomain.count + 1))
            rows = try await pool.query(
                """
                SELECT n.id, n.user_id, n.active, n.catch_all, u.reject_deactivated,
                    CAST(COALESCE(u.new_aliases_per_hour_limit, ?) AS SIGNED) AS new_aliases_per_hour_limit,
                    (SELECT COUNT(*) FROM aliases a WHERE a.user_id = n.user_id AND a.created_at > ?) AS created
                FROM usernames n JOIN users u ON u.id = n.user_id WHERE n.username = ?
                """, [.int(Int64(limits.newAliasesPerHour)), .date(now.addingTimeInterval(-3600)), .text(username)])
            return try rows.first.map { try CatchAllOwner(row: $0, kind: .username) }
        }
        rows = try await pool.query(
            """
            SELECT d.id, d.user_id, d.active, d.catch_all, u.reject_deactivated,
                    CAST(COALESCE(u.new_aliases_per_hour_limit, ?) AS SIGNED) AS new_aliases_per_hour_limit,
                (SELECT COUNT(*) FROM aliases a WHERE a.user_id = d.user_id AND a.created_at > ?) AS created
            FROM domains d JOIN users u ON u.id = d.user_id WHERE d.domain = ? AND d.domain_verified_at IS NOT NULL
            """, [.int(Int64(limits.newAliasesPerHour)), .date(now.addingTimeInterval(-3600)), .text(domain)])
        return try rows.first.map { try CatchAllOwner(row: $0, kind: .domain) }
    }

    /// Creates the alias `localPart@domain` for a catch-all owner. Another node may create the same
    /// alias at the same moment: that is not an error, the alias exists either way.
    public func createCatchAllAlias(localPart: String, domain: String, owner: CatchAllOwner, at now: Date = Date()) async throws {
        let time = now.atDatabasePrecision
        do {
            try await pool.execute(
                """
                INSERT INTO aliases (id, user_id, aliasable_type, aliasable_id, local_part, domain, email, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [.text(Identifier.make()), .text(owner.userID), .text(owner.kind.rawValue), .text(owner.id), .text(localPart),
                 .text(domain), .text(localPart + "@" + domain), .date(time), .date(time)])
        } catch MariaDBError.duplicateKey {}
        // Each node may have kept "no such alias" for this address.
        try await routingChanged()
    }

    /// UTC 'YYYY-MM': the month bandwidth is counted in.
    public static func month(of date: Date) -> String {
        let parts = date.utcFields
        let month = parts.tm_mon + 1
        return "\(parts.tm_year + 1900)-\(month < 10 ? "0" : "")\(month)"
    }

    /// The start of the UTC hour messages are counted in.
    public static func hour(of date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 3600).rounded(.down) * 3600)
    }

    /// The verified default recipient of the one user who has `email` as a verified recipient; nil when
    /// no user or several do.
    public func ownerMailbox(ofRecipient email: String) async throws -> (email: String, recipientID: String)? {
        let rows = try await pool.query(
            """
            SELECT d.email, d.id FROM recipients r JOIN users u ON u.id = r.user_id
            JOIN recipients d ON d.id = u.default_recipient_id AND d.email_verified_at IS NOT NULL
            WHERE r.email = ? AND r.email_verified_at IS NOT NULL
            """, [.text(email)])
        return rows.count == 1 ? (try rows[0].string("email"), try rows[0].string("id")) : nil
    }

    /// The one user who has `email` as a verified recipient; nil when no user or several do.
    public func ownerUserID(ofRecipient email: String) async throws -> String? {
        let rows = try await pool.query(
            "SELECT user_id FROM recipients WHERE email = ? AND email_verified_at IS NOT NULL", [.text(email)])
        return rows.count == 1 ? try rows[0].string("user_id") : nil
    }

    /// A user's verified default recipient, or nil.
    public func defaultRecipient(userID: String) async throws -> String? {
        try await pool.query(
            """
            SELECT r.email FROM users u JOIN recipients r ON r.id = u.default_recipient_id
            WHERE u.id = ? AND r.email_verified_at IS NOT NULL
            """, [.text(userID)]).first?.string("email")
    }

    /// The id of a user's recipient with this address, or nil.
    public func recipientID(userID: String, email: String) async throws -> String? {
        try await pool.query("SELECT id FROM recipients WHERE user_id = ? AND email = ?", [.text(userID), .text(email)])
            .first?.string("id")
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

    /// The counters of `aliases` aliases in one statement: fixed text with a placeholder for each id
    /// and count (bound: ids and counts, then ids and times, then the ids again).
    static func forwardCountersStatement(aliases: Int) -> String {
        let whens = Array(repeating: "WHEN ? THEN ?", count: aliases).joined(separator: " ")
        let ids = Array(repeating: "?", count: aliases).joined(separator: ", ")
        return "UPDATE aliases SET emails_forwarded = emails_forwarded + CASE id " + whens
            + " END, last_forwarded = CASE id " + whens + " END WHERE id IN (" + ids + ")"
    }

    /// Counts messages forwarded for aliases, their size against the owners' monthly bandwidth, and
    /// messages accepted per owner and hour, in one transaction.
    public func countForwarded(_ counts: [(aliasID: String, userID: String, messages: Int, bytes: Int, at: Date)],
                               accepted: [(userID: String, messages: Int, hour: Date)] = []) async throws {
        // Bytes per owner and month: one UPDATE of a user however many of its aliases forwarded.
        struct OwnerMonth: Hashable, Comparable {
            var userID: String
            var month: String
            static func < (a: Self, b: Self) -> Bool { (a.userID, a.month) < (b.userID, b.month) }
        }
        var bytes: [OwnerMonth: Int] = [:]
        for count in counts { bytes[OwnerMonth(userID: count.userID, month: Self.month(of: count.at)), default: 0] += count.bytes }
        try await pool.transaction { connection in
            // Aliases in statements of up to 64 (one round trip each, not one per alias): a node that
            // forwards to a thousand aliases a second writes their counters in 16.
            var start = counts.startIndex
            while start < counts.endIndex {
                let part = counts[start..<min(start + 64, counts.endIndex)]
                start = part.endIndex
                _ = try await connection.execute(
                    Self.forwardCountersStatement(aliases: part.count),
                    part.flatMap { [SQLValue.text($0.aliasID), .int(Int64($0.messages))] }
                        + part.flatMap { [SQLValue.text($0.aliasID), .date($0.at)] } + part.map { .text($0.aliasID) })
            }
            for (key, total) in bytes.sorted(by: { $0.key < $1.key }) {
                _ = try await connection.execute(
                    """
                    UPDATE users SET bandwidth = IF(bandwidth_month <=> ?, bandwidth, 0) + ?, bandwidth_month = ? WHERE id = ?
                    """, [.text(key.month), .int(Int64(total)), .text(key.month), .text(key.userID)])
            }
            for count in accepted {
                _ = try await connection.execute(
                    """
                    INSERT INTO user_hourly_messages (user_id, hour, messages) VALUES (?, ?, ?)
                    ON DUPLICATE KEY UPDATE messages = messages + VALUES(messages)
                    """, [.text(count.userID), .date(count.hour), .int(Int64(count.messages))])
            }
        }
    }
}

/// The username or custom domain whose catch-all creates aliases on first receipt.
public struct CatchAllOwner: Sendable, Equatable {
    public enum Kind: String, Sendable { case username, domain }

    public var kind: Kind
    public var id: String
    public var userID: String
    public var active: Bool
    public var catchAll: Bool
    public var rejectDeactivated: Bool
    /// Aliases the user may get created per hour, and how many were created in the last hour.
    public var newAliasesPerHour: Int
    public var createdLastHour: Int

    init(row: Row, kind: Kind) throws {
        self.kind = kind
        id = try row.string("id")
        userID = try row.string("user_id")
        active = try row.bool("active")
        catchAll = try row.bool("catch_all")
        rejectDeactivated = try row.bool("reject_deactivated")
        newAliasesPerHour = Int(try row.int("new_aliases_per_hour_limit"))
        createdLastHour = Int(try row.int("created"))
    }
}
