import Foundation
import Storage

/// Runs the real `postern` executable, as an operator would.
public enum PosternProcess {
    public struct Outcome: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String

        public var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }
        public var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }
    }

    /// `$POSTERN_BIN`, else `postern` beside the test bundle (`swift build` puts both in one folder).
    public static func executable() throws -> URL {
        if let given = ProcessInfo.processInfo.environment["POSTERN_BIN"] { return URL(fileURLWithPath: given) }
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var folder = URL(fileURLWithPath: me).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = folder.appendingPathComponent("postern")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        throw ThrowawayMariaDB.Missing(description: "no postern executable beside \(me): run `swift build` first")
    }

    /// Starts `postern ARGS` with the given extra environment; the caller waits for it.
    public static func start(_ arguments: [String], environment: [String: String] = [:]) throws
        -> (Process, Pipe, Pipe)
    {
        let process = Process()
        process.executableURL = try executable()
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "POSTERN_CONFIG")
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return (process, out, err)
    }

    /// Runs `postern ARGS` to completion and collects what it printed.
    public static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> Outcome {
        let (process, out, err) = try start(arguments, environment: environment)
        async let stdout = offPool { out.fileHandleForReading.readDataToEndOfFile() }
        async let stderr = offPool { err.fileHandleForReading.readDataToEndOfFile() }
        let (o, e) = try await (stdout, stderr)
        while process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        return Outcome(
            status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
            stderr: String(decoding: e, as: UTF8.self))
    }

    /// A config file for a test node on the given database, in a new temporary folder.
    public static func writeConfig(database: DatabaseURL, extra: String = "") throws -> String {
        let folder = NSTemporaryDirectory() + "postern-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let smtp = try FreePort.find()
        let api = try FreePort.find()
        let url = databaseURLText(database)
        let yaml = """
            node: { name: test1, hostname: mx.relay.test }
            database: { url: "\(url)" }
            smtp: { listen: "127.0.0.1:\(smtp)" }
            spool: { path: \(folder)/spool }
            api: { listen: "127.0.0.1:\(api)" }
            domains: { root: relay.test, shared: [relay.test] }
            srs: { domain: relay.test, secrets: ["test-secret"] }
            dkim: { selector: s1, keys_dir: \(folder)/dkim }
            \(extra)
            """
        let path = folder + "/postern.yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A URL text for a database URL, with the password percent-encoded.
    public static func databaseURLText(_ url: DatabaseURL) -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let user = url.user.addingPercentEncoding(withAllowedCharacters: allowed) ?? url.user
        let password = url.password.map { ":" + ($0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0) } ?? ""
        if let socket = url.socketPath {
            return "mariadb://\(user)\(password)@localhost/\(url.database)?socket=\(socket)"
        }
        return "mariadb://\(user)\(password)@\(url.host):\(url.port)/\(url.database)"
    }
}
