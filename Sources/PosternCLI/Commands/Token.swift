import ArgumentParser
import Directory
import Foundation
import PosternConfig

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Manage API tokens.", subcommands: [Create.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an API token for a user; print it once, alone on the last line.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The username the token acts for.")
        var name: String

        @Option(help: "A label to recognise the token by.")
        var label: String = "cli"

        @Option(help: "How long the token works, like 30d or 12h (default: until revoked).")
        var expires: String?

        func run() async throws {
            try await reportingFailures {
                var expiresAt: Date?
                if let expires {
                    guard let lifetime = DurationText.parse(expires), lifetime > .zero else {
                        throw CLIFailure("--expires '\(expires)': not a duration (like 12h, 30d)")
                    }
                    expiresAt = Date().addingTimeInterval(Double(lifetime.components.seconds))
                }
                let config = try global.loadConfig()
                let pool = global.openPool(config, maxConnections: 1)
                guard let user = try await Accounts(pool: pool).user(named: name) else {
                    await pool.close()
                    throw DirectoryError.unknownUser(name)
                }
                let (token, secret) = try await APITokens(pool: pool).create(userID: user.id, label: label, expiresAt: expiresAt)
                await pool.close()
                let until = token.expiresAt.map { ", expires \($0)" } ?? ""
                print("created API token \(token.id) for \(user.username) (label \"\(token.label)\"\(until)), shown once:")
                print(secret)
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an API token by its id.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The token's id (printed when it was created).")
        var id: String

        func run() async throws {
            try await reportingFailures {
                let config = try global.loadConfig()
                let pool = global.openPool(config, maxConnections: 1)
                do {
                    try await APITokens(pool: pool).revoke(id: id)
                } catch {
                    await pool.close()
                    throw error
                }
                await pool.close()
                print("revoked API token \(id)")
            }
        }
    }
}
