import Foundation
import Storage

/// An extra username: mail to `ANYTHING@USERNAME.<root>` belongs to its user.
public struct Username: Sendable, Equatable {
    public var id: String
    public var userID: String
    public var username: String
    public var description: String?
    public var fromName: String?
    public var defaultRecipientID: String?
    public var active: Bool
    public var catchAll: Bool
    public var canLogin: Bool
    public var aliasesCount: Int
    public var createdAt: Date
    public var updatedAt: Date
}

/// The usernames toggles addy.io exposes as `POST /X {"id"}` / `DELETE /X/{id}`.
public enum UsernameFlag: String, Sendable { case active, catchAll = "catch_all", canLogin = "can_login" }

public struct Usernames: Sendable {
    let pool: ConnectionPool

    public init(pool: ConnectionPool) { self.pool = pool }

    static let columns = """
        n.id, n.user_id, n.username, n.description, n.from_name, n.default_recipient_id, n.active, n.catch_all,
        n.can_login, n.created_at, n.updated_at,
        (SELECT COUNT(*) FROM aliases a WHERE a.aliasable_type = 'username' AND a.aliasable_id = n.id) AS aliases_count
        """

    static func decode(_ row: Row) throws -> Username {
        Username(
            id: try row.string("id"), userID: try row.string("user_id"), username: try row.string("username"),
            description: try row.optionalString("description"), fromName: try row.optionalString("from_name"),
            defaultRecipientID: try row.optionalString("default_recipient_id"), active: try row.bool("active"),
            catchAll: try row.bool("catch_all"), canLogin: try row.bool("can_login"),
            aliasesCount: Int(try row.int("aliases_count")), createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"))
    }

    public func list(userID: String) async throws -> [Username] {
        try await pool.query(
            "SELECT " + Self.columns + " FROM usernames n WHERE n.user_id = ? ORDER BY n.created_at, n.id", [.text(userID)]
        ).map(Self.decode)
    }

    public func get(id: String, userID: String) async throws -> Username? {
        try await pool.query(
            "SELECT " + Self.columns + " FROM usernames n WHERE n.id = ? AND n.user_id = ?", [.text(id), .text(userID)]
        ).first.map(Self.decode)
    }

    public func create(userID: String, username: String, description: String?) async throws -> Username {
        let name = try Accounts.normalizedUsername(username)
        let now = Date().atDatabasePrecision
        let id = Identifier.make()
        do {
            try await pool.execute(
                "INSERT INTO usernames (id, user_id, username, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                [.text(id), .text(userID), .text(name), .text(description), .date(now), .date(now)])
        } catch MariaDBError.duplicateKey {
            throw DirectoryError.usernameTaken(name)
        }
        guard let created = try await get(id: id, userID: userID) else { throw DirectoryError.notFound }
        return created
    }

    public func update(id: String, userID: String, description: String??, fromName: String??) async throws -> Username {
        guard var username = try await get(id: id, userID: userID) else { throw DirectoryError.notFound }
        if let description { username.description = description }
        if let fromName { username.fromName = fromName }
        try await pool.execute(
            "UPDATE usernames SET description = ?, from_name = ?, updated_at = ? WHERE id = ? AND user_id = ?",
            [.text(username.description), .text(username.fromName), .date(Date().atDatabasePrecision), .text(id), .text(userID)])
        return try await get(id: id, userID: userID) ?? username
    }

    public func set(_ flag: UsernameFlag, _ value: Bool, id: String, userID: String) async throws -> Username {
        let sql: String
        switch flag {
        case .active: sql = "UPDATE usernames SET active = ?, updated_at = ? WHERE id = ? AND user_id = ?"
        case .catchAll: sql = "UPDATE usernames SET catch_all = ?, updated_at = ? WHERE id = ? AND user_id = ?"
        case .canLogin: sql = "UPDATE usernames SET can_login = ?, updated_at = ? WHERE id = ? AND user_id = ?"
        }
        let result = try await pool.execute(sql, [.bool(value), .date(Date().atDatabasePrecision), .text(id), .text(userID)])
        guard result.affectedRows == 1, let username = try await get(id: id, userID: userID) else {
            throw DirectoryError.notFound
        }
        return username
    }

    /// Deletes an extra username. The account's default username stays.
    public func delete(id: String, userID: String) async throws {
        let rows = try await pool.query("SELECT default_username_id FROM users WHERE id = ?", [.text(userID)])
        if try rows.first?.optionalString("default_username_id") == id { throw DirectoryError.defaultUsername }
        let result = try await pool.execute("DELETE FROM usernames WHERE id = ? AND user_id = ?", [.text(id), .text(userID)])
        guard result.affectedRows == 1 else { throw DirectoryError.notFound }
    }
}
