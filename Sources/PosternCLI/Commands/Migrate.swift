import ArgumentParser
import Foundation
import Logging
import Storage

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply pending database migrations in order (safe to run from several nodes at once).")

    @OptionGroup var global: GlobalOptions

    @Option(help: "The folder of NNNN_name.sql files (default: ./migrations, or the one shipped with postern).")
    var migrations: String?

    func run() async throws {
        try await reportingFailures {
            let config = try global.loadConfig()
            guard let folder = MigrationsLocator.find(explicit: migrations) else {
                throw CLIFailure("no migrations folder found: pass --migrations DIR or set POSTERN_MIGRATIONS")
            }
            let files = try Migration.load(from: folder)
            // Waiting for another node's migration lock, or rebuilding a big table, may take long: this
            // connection gets a day where normal work gets `database.statement_timeout`.
            var options = config.database.connectionOptions
            options.statementTimeout = max(options.statementTimeout, 86_400)
            let pool = ConnectionPool(options: options, maxConnections: 1)
            print("migrating \(config.database.url.redacted) with \(files.count) migration(s) from \(folder.path)")
            let outcome: Migrator.Outcome
            do {
                outcome = try await Migrator(pool: pool, logger: Logger(label: "postern.migrate")).run(files)
            } catch {
                await pool.close()
                throw error
            }
            for version in outcome.applied {
                if let migration = files.first(where: { $0.version == version }) {
                    print("applied \(String(format: "%04d", version))_\(migration.name)")
                }
            }
            print(outcome.applied.isEmpty
                ? "schema is current (\(outcome.alreadyApplied) migration(s) applied)"
                : "applied \(outcome.applied.count) migration(s); schema is current")
            await pool.close()
        }
    }
}
