import ArgumentParser
import Foundation
import Logging
import PosternConfig
import Storage

/// `--config FILE` on every command (default `$POSTERN_CONFIG`, then /etc/postern/postern.yaml).
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "The configuration file (default: $POSTERN_CONFIG or /etc/postern/postern.yaml).")
    var config: String?

    var configPath: String {
        config ?? ProcessInfo.processInfo.environment["POSTERN_CONFIG"] ?? "/etc/postern/postern.yaml"
    }

    /// Loads and validates the configuration; every problem is printed, one per line.
    func loadConfig() throws -> NodeConfig {
        Logs.bootstrap()
        do {
            return try ConfigLoader.load(path: configPath, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw CLIFailure(lines: error.problems.map { "config: \($0)" })
        }
    }

    func openPool(_ config: NodeConfig, maxConnections: Int? = nil) -> ConnectionPool {
        ConnectionPool(
            options: config.database.connectionOptions, maxConnections: maxConnections ?? config.database.poolSize,
            logger: Logger(label: "postern.storage"))
    }
}

/// Logging goes to stderr, one line per record; `POSTERN_LOG_LEVEL` (trace…critical) sets the level.
enum Logs {
    private static let once: Void = {
        let level = ProcessInfo.processInfo.environment["POSTERN_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level ?? .info
            return handler
        }
    }()

    static func bootstrap() { _ = once }
}
