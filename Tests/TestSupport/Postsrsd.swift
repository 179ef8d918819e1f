import Foundation

/// A real postsrsd daemon (Debian's package) on loopback, asked through Postfix's tcp_table protocol:
/// `get ADDRESS` on the forward or reverse port, answered `200 RESULT` or `500 …`.
public final class Postsrsd: Sendable {
    public let forwardPort: UInt16
    public let reversePort: UInt16
    private let directory: String

    /// Starts the daemon detached (`-D`): it is not our child, so nothing waits on it; `stop` kills it
    /// by the pid it wrote.
    public static func start(domain: String, secrets: [String]) async throws -> Postsrsd {
        let binary = try ThrowawayMariaDB.locate("postsrsd")
        let directory = NSTemporaryDirectory() + "postsrsd-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory + "/chroot", withIntermediateDirectories: true)
        let secretFile = directory + "/secret"
        try (secrets.joined(separator: "\n") + "\n").write(toFile: secretFile, atomically: true, encoding: .utf8)
        let forward = try FreePort.find()
        let reverse = try FreePort.find()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "-d", domain, "-s", secretFile, "-f", String(forward), "-r", String(reverse), "-l", "127.0.0.1",
            "-u", "nobody", "-c", directory + "/chroot", "-D", "-p", directory + "/pid",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()  // the foreground part exits as soon as the daemon is detached
        let daemon = Postsrsd(forwardPort: forward, reversePort: reverse, directory: directory)
        for _ in 0..<100 {
            if (try? daemon.ask(port: forward, "get probe@example.org")) != nil { return daemon }
            try await Task.sleep(for: .milliseconds(50))
        }
        daemon.stop()
        throw ThrowawayMariaDB.Missing(description: "postsrsd did not answer on 127.0.0.1:\(forward)")
    }

    private init(forwardPort: UInt16, reversePort: UInt16, directory: String) {
        self.forwardPort = forwardPort
        self.reversePort = reversePort
        self.directory = directory
    }

    public func stop() {
        if let text = try? String(contentsOfFile: directory + "/pid", encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1
        {
            kill(pid, SIGKILL)
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// What postsrsd makes of a sender (`200 SRS0=…` or `500 …`). tcp_table percent-encodes keys and
    /// values on the wire; this returns the decoded text.
    public func forward(_ address: String) throws -> String { try lookup(port: forwardPort, address) }
    public func reverse(_ address: String) throws -> String { try lookup(port: reversePort, address) }

    private func lookup(port: UInt16, _ key: String) throws -> String {
        var encoded = ""
        for byte in key.utf8 {
            if byte <= 0x20 || byte == UInt8(ascii: "%") || byte >= 0x7f { encoded += String(format: "%%%02X", byte) }
            else { encoded.append(Character(Unicode.Scalar(byte))) }
        }
        let answer = try ask(port: port, "get " + encoded)
        return answer.removingPercentEncoding ?? answer
    }

    /// One request line, one answer line, on a fresh connection.
    func ask(port: UInt16, _ request: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ThrowawayMariaDB.Missing(description: "socket() failed") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw ThrowawayMariaDB.Missing(description: "cannot connect to postsrsd") }
        let line = Array((request + "\n").utf8)
        guard send(fd, line, line.count, 0) == line.count else { throw ThrowawayMariaDB.Missing(description: "send failed") }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while !answer.contains(UInt8(ascii: "\n")) {
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            answer += buffer[0..<count]
        }
        return String(decoding: answer, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
