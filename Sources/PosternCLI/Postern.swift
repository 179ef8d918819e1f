import ArgumentParser

@main
struct Postern: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postern",
        abstract: "Postern: an email alias and forwarding relay.",
        subcommands: [Serve.self, Migrate.self, ConfigCommand.self, UserCommand.self, TokenCommand.self, QueueCommand.self])
}
