import Foundation
import Storage

/// An alias address and its counters.
public struct Alias: Sendable, Equatable {
    /// Which of the user's own domains an alias lives on, if not a shared domain.
    public enum Owner: Sendable, Equatable {
        case username(id: String)
        case customDomain(id: String)
    }

    public var id: String
    public var userID: String
    public var owner: Owner?
    public var localPart: String
    public var extensionPart: String?
    public var domain: String
    public var email: String
    public var description: String?
    public var fromName: String?
    /// `top`, `bottom` or `off` for this alias; nil: the owner's setting.
    public var bannerLocation: String?
    public var active: Bool
    public var attachedRecipientsOnly: Bool
    public var emailsForwarded: Int
    public var emailsBlocked: Int
    public var emailsReplied: Int
    public var emailsSent: Int
    public var lastForwarded: Date?
    public var lastBlocked: Date?
    public var lastReplied: Date?
    public var lastSent: Date?
    public var createdAt: Date
    public var updatedAt: Date
    public var deletedAt: Date?
    public var recipients: [Recipient]
}

/// How a list of aliases is narrowed, ordered and paged (addy.io's `filter[...]`, `sort`, `page[...]`).
public struct AliasQuery: Sendable {
    public enum Deleted: String, Sendable { case without, with, only }

    /// The columns a list may be sorted by; the SQL for each is fixed here, never taken from input.
    public enum SortColumn: String, Sendable, CaseIterable {
        case localPart = "local_part", domain, email, emailsForwarded = "emails_forwarded"
        case emailsBlocked = "emails_blocked", emailsReplied = "emails_replied", emailsSent = "emails_sent"
        case active, createdAt = "created_at", updatedAt = "updated_at", deletedAt = "deleted_at"
        case lastForwarded = "last_forwarded", lastBlocked = "last_blocked", lastReplied = "last_replied"
        case lastSent = "last_sent"

        var sql: String {
            switch self {
            case .localPart: "local_part"
            case .domain: "domain"
            case .email: "email"
            case .emailsForwarded: "emails_forwarded"
            case .emailsBlocked: "emails_blocked"
            case .emailsReplied: "emails_replied"
            case .emailsSent: "emails_sent"
            case .active: "active"
            case .createdAt: "created_at"
            case .updatedAt: "updated_at"
            case .deletedAt: "deleted_at"
            case .lastForwarded: "last_forwarded"
            case .lastBlocked: "last_blocked"
            case .lastReplied: "last_replied"
            case .lastSent: "last_sent"
            }
        }
    }

    public var search: String?
    public var active: Bool?
    public var deleted: Deleted = .without
    public var sort: SortColumn = .createdAt
    public var descending = true
    public var page = 1
    public var pageSize = 30

    public init() {}
}

/// The aliases of users. Every query is scoped to the owning user.
public struct Aliases: Sendable {
    let pool: ConnectionPool

    public init(pool: ConnectionPool) { self.pool = pool }

    static let columns = """
        id, user_id, aliasable_type, aliasable_id, local_part, extension, domain, email, description, from_name, banner_location,
        active, attached_recipients_only, emails_forwarded, emails_blocked, emails_replied, emails_sent,
        last_forwarded, last_blocked, last_replied, last_sent, created_at, updated_at, deleted_at
        """

    /// The WHERE clause of a list and its parameters: only the conditions the query asks for (fixed
    /// fragments, values bound), so that MariaDB answers a plain page from the
    /// `(user_id, deleted_at, created_at)` index instead of reading every alias of the user.
    static func filter(_ userID: String, _ query: AliasQuery) -> (sql: String, parameters: [SQLValue]) {
        var sql = "WHERE user_id = ?"
        var parameters: [SQLValue] = [.text(userID)]
        if let active = query.active {
            sql += " AND active = ?"
            parameters.append(.bool(active))
        }
        switch query.deleted {
        case .without: sql += " AND deleted_at IS NULL"
        case .only: sql += " AND deleted_at IS NOT NULL"
        case .with: break
        }
        if let search = query.search {
            let pattern = SQLValue.text("%" + likeEscaped(search) + "%")
            sql += " AND (email LIKE ? OR description LIKE ?)"
            parameters += [pattern, pattern]
        }
        return (sql, parameters)
    }

    /// `%`, `_` and `\` match themselves in a search.
    static func likeEscaped(_ text: String) -> String {
        var out = ""
        for c in text {
            if c == "%" || c == "_" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out
    }

    /// One page of a user's aliases and the total that match.
    public func list(userID: String, query: AliasQuery) async throws -> (aliases: [Alias], total: Int) {
        let (filter, parameters) = Self.filter(userID, query)
        let count = try await pool.query("SELECT COUNT(*) AS n FROM aliases " + filter, parameters)
        let total = Int(try count.first?.int("n") ?? 0)
        // The ORDER BY column and direction come from fixed lists (`SortColumn`), never from input text.
        // Ties go by id in the same direction, so an index on the column gives the page in order.
        let direction = query.descending ? " DESC" : " ASC"
        let order = " ORDER BY " + query.sort.sql + direction + ", id" + direction + " LIMIT ? OFFSET ?"
        let rows = try await pool.query(
            "SELECT " + Self.columns + " FROM aliases " + filter + order,
            parameters + [.int(Int64(query.pageSize)), .int(Int64((query.page - 1) * query.pageSize))])
        return (try await withRecipients(rows.map(Self.decode)), total)
    }

    /// One alias of a user (deleted ones too), or nil.
    public func get(id: String, userID: String) async throws -> Alias? {
        let rows = try await pool.query(
            "SELECT " + Self.columns + " FROM aliases WHERE id = ? AND user_id = ?", [.text(id), .text(userID)])
        return try await withRecipients(rows.map(Self.decode)).first
    }

    /// Creates an alias. Throws `DirectoryError.duplicate` when the address exists already (for anyone),
    /// so random formats can draw again.
    public func create(
        id: String = Identifier.make(), userID: String, owner: Alias.Owner?, localPart: String, domain: String,
        description: String?, recipientIDs: [String]
    ) async throws -> Alias {
        let now = Date().atDatabasePrecision
        let email = localPart + "@" + domain
        let (ownerType, ownerID): (String?, String?) =
            switch owner {
            case .username(let id)?: ("username", id)
            case .customDomain(let id)?: ("domain", id)
            case nil: (nil, nil)
            }
        do {
            try await pool.transaction { db in
                _ = try await db.execute(
                    """
                    INSERT INTO aliases (id, user_id, aliasable_type, aliasable_id, local_part, domain, email, description,
                        created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [.text(id), .text(userID), .text(ownerType), .text(ownerID), .text(localPart), .text(domain),
                     .text(email), .text(description), .date(now), .date(now)])
                try await Self.attach(recipientIDs, to: id, userID: userID, now: now, db)
            }
        } catch MariaDBError.duplicateKey {
            throw DirectoryError.duplicate("alias", email)
        }
        guard let alias = try await get(id: id, userID: userID) else { throw DirectoryError.notFound }
        return alias
    }

    /// Links recipients to an alias (they must be the user's and verified), inside a transaction.
    static func attach(_ recipientIDs: [String], to aliasID: String, userID: String, now: Date,
                       _ db: MariaDBConnection) async throws {
        for recipientID in Set(recipientIDs) {
            let inserted = try await db.execute(
                """
                INSERT INTO alias_recipients (alias_id, recipient_id, created_at)
                SELECT ?, id, ? FROM recipients WHERE id = ? AND user_id = ? AND email_verified_at IS NOT NULL
                """, [.text(aliasID), .date(now), .text(recipientID), .text(userID)])
            if inserted.affectedRows != 1 { throw DirectoryError.unknownRecipient(recipientID) }
        }
    }

    /// Replaces an alias's recipients (an empty list means "the default recipient").
    public func setRecipients(_ recipientIDs: [String], aliasID: String, userID: String) async throws -> Alias {
        let now = Date().atDatabasePrecision
        try await pool.transaction { db in
            let owned = try await db.execute(
                "UPDATE aliases SET updated_at = ? WHERE id = ? AND user_id = ?", [.date(now), .text(aliasID), .text(userID)])
            guard owned.affectedRows == 1 else { throw DirectoryError.notFound }
            _ = try await db.execute("DELETE FROM alias_recipients WHERE alias_id = ?", [.text(aliasID)])
            try await Self.attach(recipientIDs, to: aliasID, userID: userID, now: now, db)
        }
        guard let alias = try await get(id: aliasID, userID: userID) else { throw DirectoryError.notFound }
        return alias
    }

    /// Changes description and/or from name (nil leaves a field as it is; `.some(nil)` clears it).
    public func update(id: String, userID: String, description: String??, fromName: String??,
                       bannerLocation: String?? = nil) async throws -> Alias {
        guard var alias = try await get(id: id, userID: userID) else { throw DirectoryError.notFound }
        if let description { alias.description = description }
        if let fromName { alias.fromName = fromName }
        if let bannerLocation { alias.bannerLocation = bannerLocation }
        try await pool.execute(
            "UPDATE aliases SET description = ?, from_name = ?, banner_location = ?, updated_at = ? WHERE id = ? AND user_id = ?",
            [.text(alias.description), .text(alias.fromName), .text(alias.bannerLocation), .date(Date().atDatabasePrecision),
             .text(id), .text(userID)])
        return try await get(id: id, userID: userID) ?? alias
    }

    /// Turns forwarding on or off. A deleted alias cannot be activated.
    public func setActive(_ active: Bool, id: String, userID: String) async throws -> Alias {
        let result = try await pool.execute(
            "UPDATE aliases SET active = ?, updated_at = ? WHERE id = ? AND user_id = ? AND deleted_at IS NULL",
            [.bool(active), .date(Date().atDatabasePrecision), .text(id), .text(userID)])
        guard result.affectedRows == 1, let alias = try await get(id: id, userID: userID) else {
            throw DirectoryError.notFound
        }
        return alias
    }

    /// Soft delete: the alias stops forwarding and leaves the default list, but keeps its address.
    public func delete(id: String, userID: String) async throws {
        let now = Date().atDatabasePrecision
        let result = try await pool.execute(
            "UPDATE aliases SET active = 0, deleted_at = COALESCE(deleted_at, ?), updated_at = ? WHERE id = ? AND user_id = ?",
            [.date(now), .date(now), .text(id), .text(userID)])
        guard result.affectedRows == 1 else { throw DirectoryError.notFound }
    }

    /// Undoes a delete.
    public func restore(id: String, userID: String) async throws -> Alias {
        let result = try await pool.execute(
            "UPDATE aliases SET active = 1, deleted_at = NULL, updated_at = ? WHERE id = ? AND user_id = ? AND deleted_at IS NOT NULL",
            [.date(Date().atDatabasePrecision), .text(id), .text(userID)])
        guard result.affectedRows == 1, let alias = try await get(id: id, userID: userID) else {
            throw DirectoryError.notFound
        }
        return alias
    }

    /// Removes the alias from the account for good.
    public func forget(id: String, userID: String) async throws {
        let result = try await pool.execute("DELETE FROM aliases WHERE id = ? AND user_id = ?", [.text(id), .text(userID)])
        guard result.affectedRows == 1 else { throw DirectoryError.notFound }
    }

    static func decode(_ row: Row) throws -> Alias {
        let ownerID = try row.optionalString("aliasable_id")
        let owner: Alias.Owner? =
            switch try row.optionalString("aliasable_type") {
            case "username": ownerID.map { .username(id: $0) }
            case "domain": ownerID.map { .customDomain(id: $0) }
            default: nil
            }
        return Alias(
            id: try row.string("id"), userID: try row.string("user_id"), owner: owner,
            localPart: try row.string("local_part"), extensionPart: try row.optionalString("extension"),
            domain: try row.string("domain"), email: try row.string("email"),
            description: try row.optionalString("description"), fromName: try row.optionalString("from_name"),
            bannerLocation: try row.optionalString("banner_location"),
            active: try row.bool("active"), attachedRecipientsOnly: try row.bool("attached_recipients_only"),
            emailsForwarded: Int(try row.int("emails_forwarded")), emailsBlocked: Int(try row.int("emails_blocked")),
            emailsReplied: Int(try row.int("emails_replied")), emailsSent: Int(try row.int("emails_sent")),
            lastForwarded: try row.optionalDate("last_forwarded"), lastBlocked: try row.optionalDate("last_blocked"),
            lastReplied: try row.optionalDate("last_replied"), lastSent: try row.optionalDate("last_sent"),
            createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"),
            deletedAt: try row.optionalDate("deleted_at"), recipients: [])
    }

    /// Fills in each alias's recipients with one query.
    private func withRecipients(_ aliases: [Alias]) async throws -> [Alias] {
        guard !aliases.isEmpty else { return aliases }
        // One `?` per alias id: the placeholders are generated, the ids are bound.
        let placeholders = Array(repeating: "?", count: aliases.count).joined(separator: ",")
        let rows = try await pool.query(
            "SELECT ar.alias_id, " + Recipients.columns
                + " FROM alias_recipients ar JOIN recipients r ON r.id = ar.recipient_id WHERE ar.alias_id IN ("
                + placeholders + ") ORDER BY r.created_at, r.id",
            aliases.map { .text($0.id) })
        var byAlias: [String: [Recipient]] = [:]
        for row in rows { byAlias[try row.string("alias_id"), default: []].append(try Recipients.decode(row)) }
        return aliases.map { alias in
            var alias = alias
            alias.recipients = byAlias[alias.id] ?? []
            return alias
        }
    }
}
