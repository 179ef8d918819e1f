import ArgumentParser

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with the configuration file.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load and validate the configuration; print each problem with its key, exit 1 on any.")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await reportingFailures {
                let config = try global.loadConfig()
                print("\(global.configPath): OK (node \(config.node.name), database \(config.database.url.redacted))")
            }
        }
    }
}
