import Foundation
import Storage
import TestSupport
import Testing

@Suite struct MigratorTests {
    /// The project's real migrations.
    static var projectMigrations: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("migrations")
    }

    func tables(_ pool: ConnectionPool) async throws -> Set<String> {
        Set(try await pool.query(
            "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
        ).map { try $0.string("name") })
    }

    @Test func appliesTheInitialSchemaOnceAndIsANoOpAfterwards() async throws {
        let pool = ConnectionPool(options: ConnectionOptions(url: try await TestDatabase.makeDatabase()))
        let migrations = try Migration.load(from: Self.projectMigrations)
        let first = try await Migrator(pool: pool).run(migrations)
        #expect(first.applied == migrations.map(\.version))
        let created = try await tables(pool)
        for table in ["users", "usernames", "domains", "aliases", "recipients", "alias_recipients", "api_tokens",
                      "failed_deliveries", "nodes", "schema_migrations"] {
            #expect(created.contains(table), "missing table \(table)")
        }
        let second = try await Migrator(pool: pool).run(migrations)
        #expect(second.applied.isEmpty)
        #expect(second.alreadyApplied == migrations.count)
        await pool.close()
    }

    @Test func concurrentRunsApplyEachMigrationOnce() async throws {
        let url = try await TestDatabase.makeDatabase()
        let migrations = try Migration.load(from: Self.projectMigrations)
        let outcomes = try await withThrowingTaskGroup(of: Migrator.Outcome.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    let pool = ConnectionPool(options: ConnectionOptions(url: url), maxConnections: 1)
                    defer { Task { await pool.close() } }
                    return try await Migrator(pool: pool).run(migrations)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.flatMap(\.applied).sorted() == migrations.map(\.version))
        let pool = ConnectionPool(options: ConnectionOptions(url: url))
        #expect(try await pool.query("SELECT COUNT(*) AS n FROM schema_migrations").first?.int("n") == Int64(migrations.count))
        await pool.close()
    }

    @Test func anEditedAppliedMigrationIsRefused() async throws {
        let pool = ConnectionPool(options: ConnectionOptions(url: try await TestDatabase.makeDatabase()))
        let original = [Migration(version: 1, name: "things", sql: "CREATE TABLE things (id INT PRIMARY KEY);")]
        _ = try await Migrator(pool: pool).run(original)
        let edited = [Migration(version: 1, name: "things", sql: "CREATE TABLE things (id BIGINT PRIMARY KEY);")]
        await #expect {
            _ = try await Migrator(pool: pool).run(edited + [Migration(version: 2, name: "more", sql: "CREATE TABLE more (x INT)")])
        } throws: { error in
            guard case Migrator.Failure.edited(let version, _) = error else { return false }
            return version == 1
        }
        // Nothing after the refusal was applied.
        #expect(try await tables(pool) == ["things", "schema_migrations"])
        await pool.close()
    }

    @Test func aFailingStatementNamesTheFileAndStatement() async throws {
        let pool = ConnectionPool(options: ConnectionOptions(url: try await TestDatabase.makeDatabase()))
        let broken = [Migration(version: 1, name: "broken", sql: "CREATE TABLE a (x INT);\nCREATE TABLE b (x NOSUCHTYPE);")]
        await #expect {
            _ = try await Migrator(pool: pool).run(broken)
        } throws: { error in
            "\(error)".contains("0001_broken.sql failed at statement 2")
        }
        await pool.close()
    }

    @Test func aDatabaseAheadOfThisNodeIsRefused() async throws {
        let pool = ConnectionPool(options: ConnectionOptions(url: try await TestDatabase.makeDatabase()))
        let two = [Migration(version: 1, name: "a", sql: "CREATE TABLE a (x INT)"),
                   Migration(version: 2, name: "b", sql: "CREATE TABLE b (x INT)")]
        _ = try await Migrator(pool: pool).run(two)
        await #expect {
            _ = try await Migrator(pool: pool).run([two[0]])
        } throws: { error in
            if case Migrator.Failure.unknownApplied(2) = error { return true }
            return false
        }
        await pool.close()
    }

    @Test func loadsFilesInVersionOrderAndRejectsBadNames() throws {
        let folder = URL(fileURLWithPath: NSTemporaryDirectory() + "migrations-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try "SELECT 2".write(to: folder.appendingPathComponent("0010_later.sql"), atomically: true, encoding: .utf8)
        try "SELECT 1".write(to: folder.appendingPathComponent("0002_earlier.sql"), atomically: true, encoding: .utf8)
        try "notes".write(to: folder.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
        let loaded = try Migration.load(from: folder)
        #expect(loaded.map(\.version) == [2, 10])
        #expect(loaded.map(\.name) == ["earlier", "later"])
        try "SELECT 3".write(to: folder.appendingPathComponent("third.sql"), atomically: true, encoding: .utf8)
        #expect(throws: Migration.LoadError.self) { try Migration.load(from: folder) }
    }
}
