import Crypto
import Foundation
import Storage

/// An API token's record. The token itself is shown once at creation and never stored.
public struct APIToken: Sendable, Equatable {
    public var id: String
    public var userID: String
    public var label: String
    public var createdAt: Date
    public var expiresAt: Date?
}

/// Bearer tokens for the REST API. Only SHA-256 hashes of tokens reach the database.
public struct APITokens: Sendable {
    let pool: ConnectionPool

    public init(pool: ConnectionPool) { self.pool = pool }

    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    static let tokenLength = 40

    /// A new random token: 40 characters of [A-Za-z0-9] (about 238 bits) from the system's CSPRNG.
    public static func generateSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<tokenLength).map { _ in alphabet.randomElement(using: &generator)! })
    }

    public static func hash(_ token: String) -> [UInt8] { Array(SHA256.hash(data: Data(token.utf8))) }

    /// Creates a token for a user and returns its record and the token to hand out (once).
    public func create(userID: String, label: String, expiresAt: Date? = nil) async throws -> (APIToken, String) {
        guard (1...255).contains(label.count) else { throw DirectoryError.invalidLabel }
        let secret = Self.generateSecret()
        let record = APIToken(id: Identifier.make(), userID: userID, label: label, createdAt: Date().atDatabasePrecision, expiresAt: expiresAt)
        try await pool.execute(
            "INSERT INTO api_tokens (id, user_id, label, token_hash, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [.text(record.id), .text(userID), .text(label), .blob(Self.hash(secret)), .date(expiresAt),
             .date(record.createdAt)])
        return (record, secret)
    }

    /// Revokes (deletes) a token by id.
    public func revoke(id: String) async throws {
        let result = try await pool.execute("DELETE FROM api_tokens WHERE id = ?", [.text(id)])
        guard result.affectedRows == 1 else { throw DirectoryError.unknownToken(id) }
    }

    /// How often the last use of a token is written down: not on every request.
    static let lastUseResolution: TimeInterval = 60

    /// The token record a presented bearer token belongs to, if it exists and has not expired.
    /// Records the use (at most once a minute per token, so a busy client does not write on every request).
    public func authenticate(_ presented: String, now: Date = Date()) async throws -> APIToken? {
        let rows = try await pool.query(
            "SELECT id, user_id, label, created_at, expires_at, last_used_at FROM api_tokens WHERE token_hash = ?",
            [.blob(Self.hash(presented))])
        guard let row = rows.first else { return nil }
        let token = APIToken(
            id: try row.string("id"), userID: try row.string("user_id"), label: try row.string("label"),
            createdAt: try row.date("created_at"), expiresAt: try row.optionalDate("expires_at"))
        if let expiry = token.expiresAt, expiry <= now { return nil }
        let lastUse = try row.optionalDate("last_used_at")
        if lastUse.map({ now.timeIntervalSince($0) >= Self.lastUseResolution }) ?? true {
            try await pool.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [.date(now), .text(token.id)])
        }
        return token
    }
}
