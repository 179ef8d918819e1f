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
        let (status, output) = try MailTestNode.runBlocking(try ThrowawayMariaDB.locate("dnsmasq"), [
            "--no-resolv", "--no-hosts", "--no-poll", "--listen-address=127.0.0.1", "--bind-interfaces", "--port=\(port)",
            "--local=/test/", "--local-ttl=300", "--user=root", "--pid-file=\(pidFile)",
        ] + options)
        guard status == 0 else { throw ThrowawayMariaDB.Missing(description: "dnsmasq did not start: \(output)") }
    }

    public func stop() {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return }
        kill(pid, SIGKILL)
        try? FileManager.default.removeItem(atPath: pidFile)
    }
}
