import Foundation
import Logging

/// Applies pending migrations in order. Safe to run from several nodes at once: the whole run holds
/// the named lock `postern.migrate:<database>`, and each node re-reads what was applied after taking it.
/// The run lifts the session's statement time limit (a migration may rebuild a large table) and puts
/// it back before the connection returns to the pool.
public struct Migrator: Sendable {
    public let pool: ConnectionPool
    public let logger: Logger

    public init(pool: ConnectionPool, logger: Logger = Logger(label: "postern.migrate")) {
        self.pool = pool
        self.logger = logger
    }

    public enum Failure: Error, CustomStringConvertible {
        case lockTimeout
        case lockFailed
        case edited(version: Int, name: String)
        case unknownApplied(version: Int)
        case statementFailed(version: Int, name: String, statement: Int, error: any Error)

        public var description: String {
            switch self {
            case .lockTimeout:
                "another node has held the migration lock for too long; try again"
            case .lockFailed:
                "the server refused the migration lock (GET_LOCK returned NULL)"
            case .edited(let v, let n):
                "migration \(String(format: "%04d", v))_\(n).sql was changed after it was applied "
                    + "(checksum differs); never edit an applied migration, add a new one"
            case .unknownApplied(let v):
                "the database has migration \(v) applied, which this node does not have: run a newer postern"
            case .statementFailed(let v, let n, let s, let e):
                "migration \(String(format: "%04d", v))_\(n).sql failed at statement \(s): \(e)"
            }
        }
    }

    /// What one run did.
    public struct Outcome: Sendable, Equatable {
        public var applied: [Int]
        public var alreadyApplied: Int
    }

    public func run(_ migrations: [Migration], lockTimeoutSeconds: Int = 120) async throws -> Outcome {
        let statementLimit = Int64(pool.options.statementTimeout)
        return try await pool.withConnection { connection in
            _ = try await connection.execute("SET SESSION max_statement_time = 0")
            // Asked for in waits of two seconds: one long GET_LOCK would outlast the connection's read
            // timeout (`database.statement_timeout`) while another node migrates.
            var waited = 0
            while true {
                let locked = try await connection.execute(
                    "SELECT GET_LOCK(CONCAT('postern.migrate:', DATABASE()), ?) AS locked", [.int(2)])
                guard case .int(let answer) = locked.rows.first?["locked"] else { throw Failure.lockFailed }
                if answer == 1 { break }
                waited += 2
                if waited >= lockTimeoutSeconds { throw Failure.lockTimeout }
            }
            do {
                let outcome = try await applyPending(migrations, on: connection)
                try await finish(connection, statementLimit)
                return outcome
            } catch {
                try? await finish(connection, statementLimit)
                throw error
            }
        }
    }

    private func finish(_ connection: MariaDBConnection, _ statementLimit: Int64) async throws {
        _ = try await connection.execute("SELECT RELEASE_LOCK(CONCAT('postern.migrate:', DATABASE()))")
        _ = try await connection.execute("SET SESSION max_statement_time = ?", [.int(statementLimit)])
    }

    private func applyPending(_ migrations: [Migration], on connection: MariaDBConnection) async throws -> Outcome {
        _ = try await connection.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version INT UNSIGNED NOT NULL PRIMARY KEY,
                name VARCHAR(255) NOT NULL,
                checksum CHAR(64) NOT NULL,
                applied_at DATETIME(6) NOT NULL
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
            """)
        let rows = try await connection.execute("SELECT version, checksum FROM schema_migrations").rows
        var applied: [Int: String] = [:]
        for row in rows { applied[Int(try row.int("version"))] = try row.string("checksum") }
        let known = Set(migrations.map(\.version))
        if let stranger = applied.keys.sorted().first(where: { !known.contains($0) }) {
            throw Failure.unknownApplied(version: stranger)
        }
        for migration in migrations {
            if let checksum = applied[migration.version], checksum != migration.checksum {
                throw Failure.edited(version: migration.version, name: migration.name)
            }
        }
        var outcome = Outcome(applied: [], alreadyApplied: applied.count)
        for migration in migrations where applied[migration.version] == nil {
            for (index, statement) in SQLScript.statements(in: migration.sql).enumerated() {
                do {
                    _ = try await connection.execute(statement)
                } catch {
                    throw Failure.statementFailed(
                        version: migration.version, name: migration.name, statement: index + 1, error: error)
                }
            }
            _ = try await connection.execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
                [.int(Int64(migration.version)), .text(migration.name), .text(migration.checksum), .date(Date())])
            logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            outcome.applied.append(migration.version)
        }
        return outcome
    }
}
