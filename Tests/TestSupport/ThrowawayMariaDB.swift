import Foundation
import Synchronization
import Storage

/// A private MariaDB server for one test run: initialised in a temporary folder, listening on a
/// unix socket and a free loopback port. A watchdog shell stops it and removes its folder as soon
/// as the test process is gone, however the process ends.
public struct ThrowawayMariaDB: Sendable {
    public let directory: String
    public let socketPath: String
    public let port: UInt16

    public struct Missing: Error, CustomStringConvertible {
        public let description: String
    }

    static func start() async throws -> ThrowawayMariaDB {
        let directory = NSTemporaryDirectory() + "postern-test-mariadb-\(getpid())"
        return try await create(in: directory, removeWhenDone: true)
    }

    /// A server of its own, for a test that stops and restarts it (`stop()`, `restart()`). Its files are
    /// left in place when it stops; `remove()` deletes them.
    public static func startDedicated() async throws -> ThrowawayMariaDB {
        let directory = NSTemporaryDirectory() + "postern-test-mariadb-\(getpid())-\(UUID().uuidString.prefix(8))"
        return try await create(in: directory, removeWhenDone: false)
    }

    private static func create(in directory: String, removeWhenDone: Bool) async throws -> ThrowawayMariaDB {
        let installer = try locate("mariadb-install-db")
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let install = try await offPool {
            try run(installer, [
                "--no-defaults", "--datadir=\(directory)/data", "--user=root",
                "--auth-root-authentication-method=normal", "--skip-test-db",
            ])
        }
        guard install == 0 else {
            throw Missing(description: "mariadb-install-db failed (exit \(install)) in \(directory)")
        }
        let database = ThrowawayMariaDB(directory: directory, socketPath: "\(directory)/sock", port: try FreePort.find())
        try database.launch(removeWhenDone: removeWhenDone)
        try await database.waitUntilReady()
        return database
    }

    /// Runs mariadbd under a watchdog shell that stops it when the test process ends.
    private func launch(removeWhenDone: Bool) throws {
        let server = try Self.locate("mariadbd")
        let serverCommand = [
            server, "--no-defaults", "--datadir=\(directory)/data", "--socket=\(socketPath)", "--port=\(port)",
            "--bind-address=127.0.0.1", "--user=root", "--pid-file=\(directory)/pid",
            "--log-error=\(directory)/err.log", "--skip-name-resolve", "--innodb-buffer-pool-size=64M",
            "--innodb-flush-log-at-trx-commit=2", "--max-connections=500",
        ].map(shellQuoted).joined(separator: " ")
        let cleanup = removeWhenDone ? "rm -rf \(shellQuoted(directory))" : "true"
        let watchdog = """
            \(serverCommand) & child=$!
            while kill -0 \(getpid()) 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 0.5; done
            kill $child 2>/dev/null; wait $child; \(cleanup)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", watchdog]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// Stops the server (as an outage would) and waits until it is gone.
    public func stop() async throws {
        guard let text = try? String(contentsOfFile: "\(directory)/pid", encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return }
        kill(pid, SIGKILL)
        for _ in 0..<300 where kill(pid, 0) == 0 { try await Task.sleep(for: .milliseconds(50)) }
        try? FileManager.default.removeItem(atPath: "\(directory)/pid")
    }

    /// Starts the server again on the same files and port.
    public func restart() async throws {
        try launch(removeWhenDone: false)
        try await waitUntilReady()
    }

    public func remove() async {
        try? await stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The superuser over the unix socket.
    public var rootURL: DatabaseURL {
        DatabaseURL(user: "root", password: nil, host: "localhost", database: "mysql", socketPath: socketPath)
    }

    private func waitUntilReady() async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        var lastError: any Error = Missing(description: "mariadbd did not start")
        while ContinuousClock.now < deadline {
            do {
                let connection = try await MariaDBConnection.connect(ConnectionOptions(url: rootURL, connectTimeout: 2))
                await connection.close()
                return
            } catch {
                lastError = error
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        let log = (try? String(contentsOfFile: "\(directory)/err.log", encoding: .utf8)) ?? ""
        throw Missing(description: "mariadbd did not become ready: \(lastError)\n\(log.suffix(2000))")
    }

    public static func locate(_ program: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for folder in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/bin", "/sbin"] {
            let candidate = "\(folder)/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw Missing(description: """
            \(program) not found: the tests need a MariaDB server. Install it with \
            `apt-get install mariadb-server` (scripts/test does this), or point POSTERN_TEST_DATABASE_URL \
            at a server where the user may create databases.
            """)
    }

    private static func run(_ executable: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}

func shellQuoted(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }

/// A loopback port nobody uses right now, for TCP and for UDP (dnsmasq binds both).
public enum FreePort {
    /// Ports already handed out in this process: the kernel may offer a just-closed port again, and two
    /// listeners of one test must never get the same one.
    private static let given = Mutex<Set<UInt16>>([])

    public static func find() throws -> UInt16 {
        for _ in 0..<100 {
            let port = try probe()
            guard udpFree(port) else { continue }
            if given.withLock({ $0.insert(port).inserted }) { return port }
        }
        throw ThrowawayMariaDB.Missing(description: "no free port")
    }

    private static func udpFree(_ port: UInt16) -> Bool {
        (try? bindLoopback(SOCK_DGRAM, port: port)) != nil
    }

    private static func probe() throws -> UInt16 {
        try bindLoopback(SOCK_STREAM, port: 0)
    }

    /// Binds a socket of `type` to 127.0.0.1:`port` (0: any), closes it, and returns the port it got.
    private static func bindLoopback(_ type: __socket_type, port: UInt16) throws -> UInt16 {
        let fd = socket(AF_INET, Int32(type.rawValue), 0)
        guard fd >= 0 else { throw ThrowawayMariaDB.Missing(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard bound == 0 else { throw ThrowawayMariaDB.Missing(description: "no free port") }
        return UInt16(bigEndian: address.sin_port)
    }
}
