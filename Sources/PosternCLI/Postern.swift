import ArgumentParser
import Foundation

@main
struct Postern: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postern",
        abstract: "Postern: an email alias and forwarding relay.",
        subcommands: [Serve.self, Migrate.self, ConfigCommand.self, UserCommand.self, TokenCommand.self, QueueCommand.self, DKIMCommand.self,
                      NodeCommand.self, Failover.self, Drain.self, Undrain.self])

    /// Runs the command, then ends the process with `_exit`. A normal `exit` runs the C libraries'
    /// exit handlers (OpenSSL's cleanup among them) while MariaDB connection threads may still be
    /// finishing, which corrupted the heap now and then; nothing Postern needs happens in those handlers.
    static func main() async {
        var status: Int32 = 0
        do {
            var command = try parseAsRoot()
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if !message.isEmpty {
                if code == .success { print(message) } else { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            }
            status = code.rawValue
        }
        fflush(nil)  // every open output stream
        _exit(status)
    }
}
