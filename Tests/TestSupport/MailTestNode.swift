import Synchronization
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Storage

/// A real `postern serve` for mail tests: its own database, spool and config, one user `alice` whose
/// default recipient is `alice@dest.test`, and an aiosmtpd sink (Tests/tools/sink.py) as its relay host.
///
/// The two child processes are held in mutexes, so a node may be read from any thread.
public final class MailTestNode: Sendable {
    public let configPath: String
    public let folder: String
    public let smtpPort: UInt16
    public let apiPort: UInt16
    public let sinkPort: UInt16
    public let sinkFolder: String
    public let database: DatabaseURL
    public let token: String
    private let server = Mutex<Process?>(nil)
    private let sink = Mutex<Process?>(nil)
    public var logPath: String { folder + "/serve.log" }

    /// `smtp` and `delivery` are extra YAML members of those sections (`{sink}` in `delivery` stands for
    /// the sink's port); `extra`, whole sections. `aliasCacheTTL` is `smtp.alias_cache_ttl`: off unless
    /// asked for, because most tests change the database by hand between two messages (a change made
    /// through the API or by another node reaches a node with the cache within a second; AliasCacheTests).
    public init(smtp: String = "", delivery: String = "first_retry: 1s, max_retry_interval: 2s, max_lifetime: 1h",
                relay: Bool = true, extra: String = "", database given: DatabaseURL? = nil, name: String = "mail1",
                token givenToken: String? = nil, aliasCacheTTL: String = "0s") async throws {
        if let given { database = given } else { database = try await TestDatabase.makeDatabase() }
        folder = NSTemporaryDirectory() + "postern-mail-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        smtpPort = try FreePort.find()
        apiPort = try FreePort.find()
        sinkPort = try FreePort.find()
        sinkFolder = folder + "/sink"
        let relayLine = relay ? "relay_host: \"127.0.0.1:\(sinkPort)\", " : ""
        let yaml = """
            node: { name: \(name), hostname: mx.relay.test }
            database: { url: "\(PosternProcess.databaseURLText(database))" }
            smtp: { listen: "127.0.0.1:\(smtpPort)", alias_cache_ttl: \(aliasCacheTTL)\(smtp.isEmpty ? "" : ", " + smtp) }
            delivery: { \(relayLine)\(delivery.replacingOccurrences(of: "{sink}", with: "\(sinkPort)")) }
            spool: { path: \(folder)/spool }
            api: { listen: "127.0.0.1:\(apiPort)", rate_limit: 0 }
            domains: { root: relay.test, shared: [relay.test] }
            srs: { domain: relay.test, secrets: ["test-secret"] }
            dkim: { selector: s1, keys_dir: \(folder)/dkim }
            \(extra)
            """
        configPath = folder + "/postern.yaml"
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        let migrate = try await PosternProcess.run(["migrate", "--config", configPath])
        guard migrate.status == 0 else { throw Failure("migrate: \(migrate.stderr)") }
        // A second node on the same database shares the first one's user (and its token).
        if let givenToken {
            token = givenToken
            return
        }
        let user = try await PosternProcess.run(["user", "create", "alice", "--recipient", "alice@dest.test", "--config", configPath])
        guard user.status == 0, let token = user.stdoutLines.last else { throw Failure("user create: \(user.stderr)") }
        self.token = token
    }

    /// Runs one statement against this node's database (for settings the API does not expose).
    @discardableResult
    public func sql(_ statement: String, _ parameters: [SQLValue] = []) async throws -> QueryResult {
        let connection = try await MariaDBConnection.connect(ConnectionOptions(url: database))
        do {
            let result = try await connection.execute(statement, parameters)
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    // MARK: - Processes

    /// Starts the sink; with `tls` (certificate and key files) it offers STARTTLS.
    public func startSink(tls: (certificate: String, key: String)? = nil) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.tool("sink.py"), "\(sinkPort)", sinkFolder] + (tls.map { [$0.certificate, $0.key] } ?? [])
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        sink.withLock { $0 = process }
        try await Self.waitForPort(sinkPort)
    }

    public func stopSink() {
        sink.withLock { sink in
            if let running = sink, running.isRunning { kill(running.processIdentifier, SIGKILL) }
            sink = nil
        }
    }

    public func setSinkMode(_ mode: String) throws {
        try FileManager.default.createDirectory(atPath: sinkFolder, withIntermediateDirectories: true)
        try mode.write(toFile: sinkFolder + "/mode", atomically: true, encoding: .utf8)
    }

    /// `GET /api/v1/failed-deliveries`, asked again every 100 ms until it lists at least `count`
    /// records or `seconds` pass (failures are written a moment after the log line).
    public func failedDeliveries(atLeast count: Int = 1, seconds: Double = 10) async throws -> [[String: Any]] {
        let end = Date().addingTimeInterval(seconds)
        while true {
            let records = (try await api("GET", "/api/v1/failed-deliveries").1["data"] as? [[String: Any]]) ?? []
            if records.count >= count || Date() >= end { return records }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Sends one message into this node with swaks; its exit status and what it printed.
    @discardableResult
    public func sendMail(from: String = "bob@sender.test", to: String = "shop@relay.test", _ extra: [String] = []) async throws
        -> (Int32, String)
    {
        try await Self.run("swaks", ["--server", "127.0.0.1:\(smtpPort)", "--from", from, "--to", to] + extra)
    }

    /// Runs `postern ARGS --config` this node's config.
    public func cli(_ arguments: [String]) async throws -> PosternProcess.Outcome {
        try await PosternProcess.run(arguments + ["--config", configPath])
    }

    /// The memory the server process holds now (VmRSS), in KiB.
    public var serverMemoryKiB: Int {
        guard let pid = server.withLock({ $0?.processIdentifier }),
              let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }

    public var serverIsRunning: Bool { server.withLock { $0?.isRunning ?? false } }

    public func startServer() async throws {
        let log = FileManager.default.fileExists(atPath: logPath) ? FileHandle(forWritingAtPath: logPath)! : {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
            return FileHandle(forWritingAtPath: logPath)!
        }()
        log.seekToEndOfFile()
        let process = Process()
        process.executableURL = try PosternProcess.executable()
        process.arguments = ["serve", "--config", configPath]
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "POSTERN_CONFIG")
        process.environment = env
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        server.withLock { $0 = process }
        try await Self.waitForPort(smtpPort)
        try await Self.waitForPort(apiPort)
    }

    /// kill -9: no chance to finish anything.
    public func killServer() {
        signalServer(SIGKILL)
        waitGone()
    }

    /// SIGTERM, then wait for a clean exit.
    public func stopServer() {
        signalServer(SIGTERM)
        waitGone()
    }

    private func signalServer(_ signal: Int32) {
        server.withLock { server in
            if let running = server, running.isRunning { kill(running.processIdentifier, signal) }
        }
    }

    private func waitGone() {
        server.withLock { server in
            guard let running = server else { return }
            for _ in 0..<600 where running.isRunning { usleep(50_000) }
            if running.isRunning { kill(running.processIdentifier, SIGKILL) }
            server = nil
        }
    }

    public func shutdown() {
        stopServer()
        stopSink()
    }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    // MARK: - Sink contents

    /// The messages the sink received: envelope JSON text and message bytes.
    public func received() -> [(envelope: [String: Any], message: String)] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: sinkFolder)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        return names.compactMap { name in
            let base = sinkFolder + "/" + name.dropLast(5)
            guard let json = FileManager.default.contents(atPath: base + ".json"),
                  let envelope = try? JSONSerialization.jsonObject(with: json) as? [String: Any],
                  let message = FileManager.default.contents(atPath: base + ".eml")
            else { return nil }
            return (envelope, String(decoding: message, as: UTF8.self))
        }
    }

    /// Waits until `condition` holds, up to `seconds`. It sleeps without holding a thread: the test
    /// process serves HTTP for other suites on the same two-thread pool.
    public func waitUntil(seconds: Double = 30, _ condition: () throws -> Bool) async rethrows -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if try condition() { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return try condition()
    }

    /// `waitUntil` for a condition that asks something asynchronously (the database); an error counts as not yet.
    public func waitUntilAsync(seconds: Double = 30, _ condition: () async throws -> Bool) async -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if (try? await condition()) == true { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return (try? await condition()) == true
    }

    // MARK: - API

    /// `postern dkim generate DOMAIN --algorithm A`; returns the DNS record it prints, its quoted
    /// strings joined as a resolver hands them over (`v=DKIM1; k=…; p=…`).
    public func generateDKIMKey(_ algorithm: String = "ed25519", domain: String = "relay.test") async throws -> String {
        let generated = try await cli(["dkim", "generate", domain, "--algorithm", algorithm])
        guard generated.status == 0, let line = generated.stdoutLines.last else { throw Failure("dkim generate: \(generated.stderr)") }
        return line.split(separator: "\"").enumerated().filter { $0.offset % 2 == 1 }.map(\.element).joined()
    }

    /// The first alias's `counter` (`emails_forwarded`, `emails_replied`, …) once it reaches `value`
    /// (counts are written a moment after delivery), or what it is after five seconds.
    public func aliasCounter(_ counter: String, reaching value: Int) async throws -> Int? {
        var seen: Int?
        for _ in 0..<50 where seen != value {
            let (_, list) = try await api("GET", "/api/v1/aliases")
            seen = (list["data"] as? [[String: Any]])?.first?[counter] as? Int
            if seen != value { try await Task.sleep(for: .milliseconds(100)) }
        }
        return seen
    }

    /// A node whose `dns.resolver` is a dnsmasq serving `records` (dnsmasq options such as
    /// `--txt-record=dest.test,v=spf1 -all`); stop both when done.
    public static func withDNS(_ records: [String], delivery: String = "first_retry: 1s, max_retry_interval: 2s, max_lifetime: 1h",
                               relay: Bool = true, extra: String = "") async throws -> (MailTestNode, Dnsmasq) {
        let port = try FreePort.find()
        let dns = try Dnsmasq(port: port, records)
        do {
            let node = try await MailTestNode(delivery: delivery, relay: relay,
                                              extra: "dns: { resolver: \"127.0.0.1:\(port)\" }\n" + extra)
            return (node, dns)
        } catch {
            dns.stop()
            throw error
        }
    }

    /// Creates an alias through the REST API (as a user would): `local@relay.test`.
    @discardableResult
    public func createAlias(_ local: String, domain: String = "relay.test") async throws -> [String: Any] {
        let body: [String: Any] = ["domain": domain, "format": "custom", "local_part": local]
        let (status, json) = try await api("POST", "/api/v1/aliases", body: body)
        guard status == 201, let data = json["data"] as? [String: Any] else { throw Failure("alias create: \(status) \(json)") }
        return data
    }

    public func api(_ method: String, _ path: String, body: [String: Any]? = nil) async throws -> (Int, [String: Any]) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(apiPort)\(path)")!)
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
        }
        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }
        let (data, response) = try await session.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let json = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        return (status, json)
    }

    public func get(_ path: String) async throws -> (Int, String) {
        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }
        let (data, response) = try await session.data(from: URL(string: "http://127.0.0.1:\(apiPort)\(path)")!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    // MARK: - Helpers

    /// A self-signed certificate and key (PEM) for `name`, made by openssl in `folder`.
    public static func makeCertificate(in folder: String, name: String) async throws -> (certificate: String, key: String) {
        let certificate = folder + "/\(name).crt"
        let key = folder + "/\(name).key"
        let (status, output) = try await run("openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-days", "2",
            "-subj", "/CN=\(name)",
        ])
        guard status == 0 else { throw Failure("openssl: \(output)") }
        return (certificate, key)
    }

    public static func tool(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("tools/" + name).path
    }

    public static func waitForPort(_ port: UInt16, seconds: Double = 60) async throws {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if let client = try? RawSMTPClient(port: port, readGreeting: false) {
                client.close()
                return
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        throw Failure("nothing listens on port \(port)")
    }

    /// Runs a program to completion and returns its exit status and output, waiting on a thread of its
    /// own rather than one of the test process's cooperative threads.
    @discardableResult
    public static func run(_ program: String, _ arguments: [String]) async throws -> (Int32, String) {
        try await offPool { try runBlocking(program, arguments) }
    }

    /// `run`, blocking the calling thread (for short programs started from synchronous code).
    @discardableResult
    public static func runBlocking(_ program: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
