import Directory
import Foundation
import MailCore
import Storage
import TestSupport
import Testing

@Suite struct AccountsTests {
    func migratedPool() async throws -> ConnectionPool { try await TestDatabase.migratedPool() }

    @Test func createsAUserWithAVerifiedDefaultRecipient() async throws {
        let pool = try await migratedPool()
        let accounts = Accounts(pool: pool)
        let (user, recipient) = try await accounts.createUser(
            username: "Jane", recipient: try EmailAddress(parsing: "jane@example.com"))
        #expect(user.username == "jane")
        #expect(user.defaultRecipientID == recipient.id)
        #expect(recipient.verifiedAt != nil)
        #expect(try await accounts.user(named: "JANE") == user)
        #expect(try await accounts.recipients(of: user.id).map(\.email) == ["jane@example.com"])
        #expect(try await accounts.user(named: "nobody") == nil)
        await pool.close()
    }

    @Test func aTakenUsernameIsRefusedAndNothingIsLeftBehind() async throws {
        let pool = try await migratedPool()
        let accounts = Accounts(pool: pool)
        _ = try await accounts.createUser(username: "jane", recipient: try EmailAddress(parsing: "jane@example.com"))
        await #expect(throws: DirectoryError.usernameTaken("jane")) {
            _ = try await accounts.createUser(username: "Jane", recipient: try EmailAddress(parsing: "other@example.com"))
        }
        #expect(try await pool.query("SELECT COUNT(*) AS n FROM users").first?.int("n") == 1)
        #expect(try await pool.query("SELECT COUNT(*) AS n FROM recipients").first?.int("n") == 1)
        await pool.close()
    }

    @Test(arguments: ["", "has space", "dots.not.ok", "x-y", String(repeating: "a", count: 21), "ünïcode"])
    func invalidUsernamesAreRefused(name: String) {
        #expect(throws: DirectoryError.invalidUsername(name)) { try Accounts.normalizedUsername(name) }
    }

    @Test(arguments: ["MX", "www", "postmaster", "autodiscover"])
    func hostAndOperatorNamesAreReserved(name: String) {
        #expect(throws: DirectoryError.reservedUsername(name.lowercased())) { try Accounts.normalizedUsername(name) }
    }

    @Test func tokensAreStoredOnlyAsHashesAndAuthenticate() async throws {
        let pool = try await migratedPool()
        let (user, _) = try await Accounts(pool: pool).createUser(
            username: "jane", recipient: try EmailAddress(parsing: "jane@example.com"))
        let tokens = APITokens(pool: pool)
        let (record, secret) = try await tokens.create(userID: user.id, label: "laptop")
        #expect(secret.count == 40)
        #expect(secret.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) })

        let stored = try await pool.query("SELECT token_hash, label FROM api_tokens WHERE id = ?", [.text(record.id)])
        #expect(stored.first?["token_hash"] == .blob(APITokens.hash(secret)))
        let everything = try await pool.query("SELECT * FROM api_tokens").flatMap(\.values)
        #expect(!everything.contains(.text(secret)))

        let authenticated = try #require(try await tokens.authenticate(secret))
        #expect(authenticated.userID == user.id)
        #expect(try await pool.query("SELECT last_used_at FROM api_tokens").first?["last_used_at"].isNull == false)
        #expect(try await tokens.authenticate(secret + "x") == nil)

        try await tokens.revoke(id: record.id)
        #expect(try await tokens.authenticate(secret) == nil)
        await #expect(throws: DirectoryError.unknownToken(record.id)) { try await tokens.revoke(id: record.id) }
        await pool.close()
    }

    @Test func expiredTokensDoNotAuthenticate() async throws {
        let pool = try await migratedPool()
        let (user, _) = try await Accounts(pool: pool).createUser(
            username: "jane", recipient: try EmailAddress(parsing: "jane@example.com"))
        let tokens = APITokens(pool: pool)
        let (_, secret) = try await tokens.create(userID: user.id, label: "old", expiresAt: Date(timeIntervalSinceNow: -1))
        #expect(try await tokens.authenticate(secret) == nil)
        await pool.close()
    }
}
