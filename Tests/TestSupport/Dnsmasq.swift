import Foundation

/// A real DNS server on loopback (dnsmasq) answering only from the records a test gives it: names
/// under `.test` that it does not know get NXDOMAIN.
///
/// dnsmasq runs as a daemon of its own and is stopped by the pid it writes: Foundation's `Process`
/// blocks in `waitpid` on it otherwise (the same trouble as with postsrsd).
public final class Dnsmasq: Sendable {
    public let port: UInt16
    private let pidFile: String

    /// `options` are dnsmasq record options, like `--mx-host=dest.test,mx.dest.test,10`.
    public init(port: UInt16, _ options: [String]) throws {
        self.port = port
        pidFile = NSTemporaryDirectory() + "postern-dnsmasq-\(port).pid"
        let arguments = [
            "--no-resolv", "--no-hosts", "--no-poll", "--listen-address=127.0.0.1", "--bind-interfaces", "--port=\(port)",
            "--local=/test/", "--local-ttl=300", "--user=root", "--pid-file=\(pidFile)",
        ] + options
        // The port was found free for TCP and UDP, but a DNS client elsewhere in the test process may take
        // it as its ephemeral UDP source port for a moment before dnsmasq binds: wait that out.
        var attempt = 0
        while true {
            let (status, output) = try MailTestNode.runBlocking(try ThrowawayMariaDB.locate("dnsmasq"), arguments)
            if status == 0 { break }
            attempt += 1
            guard output.contains("in use"), attempt < 50 else {
                throw ThrowawayMariaDB.Missing(description: "dnsmasq did not start: \(output)")
            }
            usleep(100_000)
        }
    }

    public func stop() {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return }
        kill(pid, SIGKILL)
        try? FileManager.default.removeItem(atPath: pidFile)
    }
}
