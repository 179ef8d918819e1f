import Foundation
import TestSupport
import Testing

/// STARTTLS on both sides: offered by the listener, used opportunistically towards next hops.
@Suite(.serialized) struct TLSTests {
    @Test func startTLSInAndOut() async throws {
        let folder = NSTemporaryDirectory() + "postern-tls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let server = try await MailTestNode.makeCertificate(in: folder, name: "mx.relay.test")
        let sinkCertificate = try await MailTestNode.makeCertificate(in: folder, name: "sink.dest.test")
        let node = try await MailTestNode(smtp: "tls_certificate: \(server.certificate), tls_key: \(server.key)")
        defer { node.shutdown() }
        try await node.startSink(tls: sinkCertificate)
        try await node.startServer()
        try await node.createAlias("shop")

        let (status, output) = try await MailTestNode.run("swaks", [
            "--server", "127.0.0.1:\(node.smtpPort)", "--from", "bob@sender.test", "--to", "shop@relay.test", "--tls",
            "--header", "Subject: over tls",
        ])
        #expect(status == 0, "\(output)")
        #expect(output.contains("TLS started"), "\(output)")
        #expect(await node.waitUntil { node.received().count == 1 }, "\(node.log)")
        let received = try #require(node.received().first)
        #expect(received.envelope["tls"] as? Bool == true, "the next hop offered STARTTLS, so Postern used it")
        #expect(received.message.contains("Subject: over tls"))
    }

    @Test func commandsPipelinedAfterSTARTTLSAreNeverExecuted() async throws {
        let folder = NSTemporaryDirectory() + "postern-tls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let server = try await MailTestNode.makeCertificate(in: folder, name: "mx.relay.test")
        let node = try await MailTestNode(smtp: "tls_certificate: \(server.certificate), tls_key: \(server.key)")
        defer { node.shutdown() }
        try await node.startServer()
        let (status, output) = try await MailTestNode.run("python3", [MailTestNode.tool("starttls_injection.py"), "\(node.smtpPort)"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("starttls: 220 2.0.0"), "\(output)")
        #expect(output.contains("first inside tls: 250-mx.relay.test"), "the EHLO is answered, not the injected command: \(output)")
    }

    @Test func withoutACertificateThereIsNoSTARTTLS() async throws {
        let node = try await MailTestNode()
        defer { node.shutdown() }
        try await node.startServer()
        let client = try RawSMTPClient(port: node.smtpPort)
        defer { client.close() }
        try client.send("EHLO c.test\r\n")
        #expect(!(try client.reply().text.contains("STARTTLS")))
        try client.send("STARTTLS\r\n")
        #expect(try client.reply().code == 502)
    }
}
