import ArgumentParser
import Directory
import MailCore

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage accounts.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an account with a verified default recipient; print its first API token.",
            discussion: "The token is printed once, alone on the last line of standard output.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The username (letters and digits; it also names the username domain).")
        var name: String

        @Option(help: "The real mailbox this account's mail is forwarded to.")
        var recipient: String

        func run() async throws {
            try await reportingFailures {
                let address: EmailAddress
                do {
                    address = try EmailAddress(parsing: recipient)
                } catch {
                    throw CLIFailure("--recipient '\(recipient)': \(error)")
                }
                let name = try Accounts.normalizedUsername(name)
                let config = try global.loadConfig()
                let pool = global.openPool(config, maxConnections: 2)
                let (user, recipientRecord) = try await Accounts(pool: pool).createUser(username: name, recipient: address)
                let (token, secret) = try await APITokens(pool: pool).create(userID: user.id, label: "default")
                await pool.close()
                print("created user \(user.username) (id \(user.id))")
                print("default recipient \(recipientRecord.email) (verified, id \(recipientRecord.id))")
                print("API token \(token.id) (shown once, keep it safe):")
                print(secret)
            }
        }
    }
}
