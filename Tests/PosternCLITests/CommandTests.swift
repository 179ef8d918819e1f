import Directory
import Synchronization
import Foundation
import Storage
import TestSupport
import Testing

/// The `postern` executable, run as a process the way an operator runs it.
@Suite struct CommandTests {
    static let migrationsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("migrations").path

    func configForFreshDatabase() async throws -> (config: String, url: DatabaseURL) {
        let url = try await TestDatabase.makeDatabase()
        return (try PosternProcess.writeConfig(database: url), url)
    }

    @Test func twoMigrateProcessesStartedTogetherBothSucceedAndApplyOnce() async throws {
        let (config, url) = try await configForFreshDatabase()
        let arguments = ["migrate", "--config", config, "--migrations", Self.migrationsFolder]
        async let first = PosternProcess.run(arguments)
        async let second = PosternProcess.run(arguments)
        let outcomes = try await [first, second]
        for outcome in outcomes { #expect(outcome.status == 0, "stderr: \(outcome.stderr)") }
        let migrationCount = try Migration.load(from: URL(fileURLWithPath: Self.migrationsFolder)).count
        let appliedLines = outcomes.flatMap(\.stdoutLines).filter { $0.hasPrefix("applied 0") }
        #expect(appliedLines.count == migrationCount, "\(outcomes.map(\.stdout))")

        let pool = ConnectionPool(options: ConnectionOptions(url: url))
        #expect(try await pool.query("SELECT COUNT(*) AS n FROM schema_migrations").first?.int("n") == Int64(migrationCount))
        await pool.close()

        let again = try await PosternProcess.run(arguments)
        #expect(again.status == 0)
        #expect(again.stdout.contains("schema is current"))
    }

    @Test func anEditedAppliedMigrationIsRefused() async throws {
        let (config, _) = try await configForFreshDatabase()
        let folder = NSTemporaryDirectory() + "edited-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let file = folder + "/0001_widgets.sql"
        try "CREATE TABLE widgets (id INT PRIMARY KEY);\n".write(toFile: file, atomically: true, encoding: .utf8)
        let arguments = ["migrate", "--config", config, "--migrations", folder]
        #expect(try await PosternProcess.run(arguments).status == 0)

        try "CREATE TABLE widgets (id BIGINT PRIMARY KEY);\n".write(toFile: file, atomically: true, encoding: .utf8)
        let refused = try await PosternProcess.run(arguments)
        #expect(refused.status != 0)
        #expect(refused.stderrLines.count == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("0001_widgets.sql was changed after it was applied"))
    }

    @Test func configCheckPrintsOneLinePerProblemAndExitsOne() async throws {
        let folder = NSTemporaryDirectory() + "badconfig-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/postern.yaml"
        try """
            node: { name: mx1 }
            database: { url: "mariadb://u@localhost/db" }
            smtp: { listen: "0.0.0.0:99999", max_message_size: big }
            domains: { root: "not a domain" }
            srs: { secrets: [s] }
            cluster: { lease_timeout: soon, colour: blue }
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let outcome = try await PosternProcess.run(["config", "check", "--config", path])
        #expect(outcome.status == 1)
        let lines = outcome.stderrLines
        #expect(lines.count == 5, "\(lines)")
        for key in ["smtp.listen", "smtp.max_message_size", "domains.root", "cluster.lease_timeout", "cluster.colour"] {
            #expect(lines.contains { $0.contains(" \(key): ") }, "no line names \(key): \(lines)")
        }

        let good = try await PosternProcess.run(["config", "check"], environment: [
            "POSTERN_CONFIG": path, "POSTERN_SMTP_LISTEN": "127.0.0.1:2525", "POSTERN_SMTP_MAX_MESSAGE_SIZE": "1000000",
            "POSTERN_DOMAINS_ROOT": "relay.example", "POSTERN_CLUSTER_LEASE_TIMEOUT": "30s",
        ])
        #expect(good.status == 1, "the unknown key cluster.colour still stands")
        #expect(good.stderrLines == ["postern: config: cluster.colour: unknown key"])

        let missing = try await PosternProcess.run(["config", "check", "--config", folder + "/nope.yaml"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no such configuration file"))
    }

    @Test func anUnreachableDatabaseIsOneClearLineAndAFailingExit() async throws {
        let port = try FreePort.find()
        let url = DatabaseURL(user: "postern", password: "pw", host: "127.0.0.1", port: port, database: "postern")
        let config = try PosternProcess.writeConfig(database: url)
        for arguments in [["migrate"], ["serve"], ["user", "create", "jane", "--recipient", "jane@example.com"]] {
            let outcome = try await PosternProcess.run(arguments + ["--config", config])
            #expect(outcome.status != 0, "\(arguments)")
            let errors = outcome.stderrLines.filter { $0.hasPrefix("postern: ") }
            #expect(errors.count == 1, "\(arguments): \(outcome.stderr)")
            #expect(errors.first?.contains("database unreachable") == true, "\(outcome.stderr)")
            #expect(!outcome.stderr.contains(":pw@"), "the password must not be printed")
        }
    }

    @Test func userCreatePrintsAWorkingTokenAloneOnTheLastLine() async throws {
        let (config, url) = try await configForFreshDatabase()
        #expect(try await PosternProcess.run(["migrate", "--config", config, "--migrations", Self.migrationsFolder]).status == 0)

        let created = try await PosternProcess.run(["user", "create", "jane", "--recipient", "jane@example.com", "--config", config])
        #expect(created.status == 0, "\(created.stderr)")
        let token = try #require(created.stdoutLines.last)
        #expect(token.count == 40 && !token.contains(" "))

        let pool = ConnectionPool(options: ConnectionOptions(url: url))
        let owner = try #require(try await APITokens(pool: pool).authenticate(token))
        let jane = try #require(try await Accounts(pool: pool).user(named: "jane"))
        #expect(owner.userID == jane.id)

        let again = try await PosternProcess.run(["user", "create", "jane", "--recipient", "j2@example.com", "--config", config])
        #expect(again.status != 0)
        #expect(again.stderrLines == ["postern: the username 'jane' is already taken"])

        let badRecipient = try await PosternProcess.run(["user", "create", "bob", "--recipient", "not-an-address", "--config", config])
        #expect(badRecipient.status != 0)
        #expect(badRecipient.stderr.contains("--recipient 'not-an-address'"))

        // token create / revoke
        let second = try await PosternProcess.run(["token", "create", "jane", "--label", "phone", "--config", config])
        #expect(second.status == 0, "\(second.stderr)")
        let secondToken = try #require(second.stdoutLines.last)
        let record = try #require(try await APITokens(pool: pool).authenticate(secondToken))
        #expect(record.label == "phone")
        let revoked = try await PosternProcess.run(["token", "revoke", record.id, "--config", config])
        #expect(revoked.status == 0, "\(revoked.stderr)")
        #expect(try await APITokens(pool: pool).authenticate(secondToken) == nil)
        #expect(try await APITokens(pool: pool).authenticate(token) != nil, "the other token still works")

        let expiring = try await PosternProcess.run(["token", "create", "jane", "--expires", "2h", "--config", config])
        #expect(expiring.status == 0, "\(expiring.stderr)")
        let expiringToken = try #require(expiring.stdoutLines.last)
        let expiringRecord = try #require(try await APITokens(pool: pool).authenticate(expiringToken))
        let lifetime = try #require(expiringRecord.expiresAt).timeIntervalSinceNow
        #expect(lifetime > 7100 && lifetime <= 7200)
        let badExpiry = try await PosternProcess.run(["token", "create", "jane", "--expires", "soon", "--config", config])
        #expect(badExpiry.stderrLines == ["postern: --expires 'soon': not a duration (like 12h, 30d)"])

        let unknownUser = try await PosternProcess.run(["token", "create", "nobody", "--config", config])
        #expect(unknownUser.stderrLines == ["postern: no user named 'nobody'"])
        let unknownToken = try await PosternProcess.run(["token", "revoke", "no-such-id", "--config", config])
        #expect(unknownToken.status != 0)
        #expect(unknownToken.stderrLines == ["postern: no API token with id 'no-such-id'"])
        await pool.close()
    }

    @Test func commandsOnAnUnmigratedDatabaseSaySoClearly() async throws {
        let (config, _) = try await configForFreshDatabase()
        let outcome = try await PosternProcess.run(["user", "create", "jane", "--recipient", "jane@example.com", "--config", config])
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains("run `postern migrate` first"))
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func serveStartsAndStopsCleanlyOnASignal(signal: Int32) async throws {
        let (config, _) = try await configForFreshDatabase()
        #expect(try await PosternProcess.run(["migrate", "--config", config, "--migrations", Self.migrationsFolder]).status == 0)
        let (process, _, errors) = try PosternProcess.start(["serve", "--config", config])
        let log = LineCollector(errors)
        try await log.waitFor("serving", timeout: .seconds(20))
        #expect(process.isRunning)

        let sent = ContinuousClock.now
        kill(process.processIdentifier, signal)
        while process.isRunning && ContinuousClock.now - sent < .seconds(20) { try await Task.sleep(for: .milliseconds(5)) }
        let took = ContinuousClock.now - sent
        #expect(!process.isRunning)
        // Not a timing test (the machine is shared): it must stop by itself, well before any watchdog would.
        #expect(took < .seconds(10), "took \(took)")
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
        try await log.waitFor("stopped", timeout: .seconds(2))
    }
}

/// Collects what a process writes to a pipe, so a test can wait for a line.
final class LineCollector: Sendable {
    private let text = Mutex("")

    init(_ pipe: Pipe) {
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil; return }
            self.text.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
    }

    var contents: String { text.withLock { $0 } }

    func waitFor(_ fragment: String, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while !contents.contains(fragment) {
            guard ContinuousClock.now < deadline else {
                Issue.record("no '\(fragment)' within \(timeout); output so far:\n\(contents)")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
