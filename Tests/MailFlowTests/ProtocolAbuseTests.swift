import Foundation
import TestSupport
import Testing

/// Hostile and careless clients against a real node: smuggling, overlong lines, oversize messages,
/// floods of pipelined commands, idle and surplus sessions. Every case gets its proper reply.
@Suite(.serialized) struct ProtocolAbuseTests {
    static func makeNode() async throws -> MailTestNode {
        let node = try await MailTestNode(smtp: "max_message_size: 20000, idle_timeout: 2s, max_sessions: 30")
        try await node.startSink()
        try await node.startServer()
        try await node.createAlias("shop")
        return node
    }

    func openTransaction(_ node: MailTestNode) throws -> RawSMTPClient {
        let client = try RawSMTPClient(port: node.smtpPort)
        try client.send("EHLO client.test\r\nMAIL FROM:<bob@sender.test>\r\nRCPT TO:<shop@relay.test>\r\nDATA\r\n")
        #expect(try client.codes(4) == [250, 250, 250, 354])
        return client
    }

    @Test func noSmugglingVariantStartsASecondMessage() async throws {
        let node = try await Self.makeNode()
        defer { node.shutdown() }
        let smuggled = "MAIL FROM:<evil@sender.test>\r\nRCPT TO:<shop@relay.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n"
        let endings = ["\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r.\r\n", "\r\n.\r", "\r\n\r.\r\n", "\n..\n"]
        for ending in endings {
            let client = try openTransaction(node)
            try client.send("Subject: first\r\n\r\nbody" + ending + smuggled + ".\r\n")
            let reply = try client.reply()
            #expect(reply.text.hasPrefix("550 5.5.2"), "ending \(ending.debugDescription): \(reply.text)")
            try client.send("NOOP\r\n")
            #expect(try client.reply().code == 250, "exactly one reply for the whole message, session in step")
            client.close()
        }
        let clean = try openTransaction(node)
        try clean.send("Subject: clean\r\n\r\nbody\r\n.\r\n")
        #expect(try clean.reply().code == 250)
        clean.close()
        #expect(await node.waitUntil { node.received().count == 1 })
        try await Task.sleep(for: .seconds(1))
        #expect(node.received().count == 1)
        #expect(!node.received().contains { $0.message.contains("smuggled") })
    }

    @Test func overlongLinesAndOversizeMessages() async throws {
        let node = try await Self.makeNode()
        defer { node.shutdown() }
        let client = try RawSMTPClient(port: node.smtpPort)
        defer { client.close() }
        try client.send("NOOP " + String(repeating: "x", count: 600) + "\r\n")
        #expect(try client.reply().text.hasPrefix("500 5.5.2"))
        try client.send("EHLO client.test\r\n")
        let ehlo = try client.reply()
        #expect(ehlo.text.contains("SIZE 20000"))
        try client.send("MAIL FROM:<bob@sender.test> SIZE=30000\r\n")
        #expect(try client.reply().text.hasPrefix("552 5.3.4"))
        try client.send("MAIL FROM:<bob@sender.test>\r\nRCPT TO:<shop@relay.test>\r\nDATA\r\n")
        #expect(try client.codes(3) == [250, 250, 354])
        try client.send("Subject: long\r\n\r\n" + String(repeating: "y", count: 1200) + "\r\n.\r\n")
        #expect(try client.reply().text.hasPrefix("550 5.5.2"))
        try client.send("MAIL FROM:<bob@sender.test>\r\nRCPT TO:<shop@relay.test>\r\nDATA\r\n")
        #expect(try client.codes(3) == [250, 250, 354])
        let big = (0..<400).map { _ in String(repeating: "z", count: 70) + "\r\n" }.joined()
        try client.send("Subject: big\r\n\r\n" + big + ".\r\n")
        #expect(try client.reply().text.hasPrefix("552 5.3.4"))
        try client.send("QUIT\r\n")
        #expect(try client.reply().code == 221)
        try await Task.sleep(for: .milliseconds(500))
        #expect(node.received().isEmpty)
    }

    @Test func aMessageThatLoopedIsRefused() async throws {
        let node = try await Self.makeNode()
        defer { node.shutdown() }
        let client = try openTransaction(node)
        defer { client.close() }
        let hops = String(repeating: "Received: from a by b; Mon, 23 Nov 2026 10:00:00 +0000\r\n", count: 51)
        try client.send(hops + "Subject: loop\r\n\r\nx\r\n.\r\n")
        #expect(try client.reply().text.hasPrefix("554 5.4.6"))
        try await Task.sleep(for: .milliseconds(300))
        #expect(node.received().isEmpty)
    }

    @Test func recipientAndErrorLimits() async throws {
        let node = try await Self.makeNode()
        defer { node.shutdown() }
        let client = try RawSMTPClient(port: node.smtpPort)
        defer { client.close() }
        try client.send("EHLO client.test\r\nMAIL FROM:<bob@sender.test>\r\n")
        _ = try client.codes(2)
        try client.send(String(repeating: "RCPT TO:<shop@relay.test>\r\n", count: 101))
        let codes = try client.codes(101)
        #expect(codes.prefix(100).allSatisfy { $0 == 250 })
        #expect(codes.last == 452)
        try client.send("RSET\r\n")
        #expect(try client.reply().code == 250)

        let noisy = try RawSMTPClient(port: node.smtpPort)
        defer { noisy.close() }
        try noisy.send(String(repeating: "BOGUS\r\n", count: 12))
        let replies = try (0..<11).map { _ in try noisy.reply().code }
        #expect(replies.prefix(10).allSatisfy { $0 == 500 })
        #expect(replies.last == 421, "too many errors ends the session")
        #expect(noisy.isClosedByServer())
    }

    @Test func tenThousandPipelinedCommandsWithFlatMemory() async throws {
        let node = try await Self.makeNode()
        defer { node.shutdown() }
        let client = try RawSMTPClient(port: node.smtpPort, timeout: 30)
        defer { client.close() }
        try client.send("EHLO client.test\r\n")
        _ = try client.reply()
        let before = node.serverMemoryKiB
        for _ in 0..<5 {
            try client.send(String(repeating: "NOOP\r\nRSET\r\n", count: 1000))
            let codes = try client.codes(2000)
            #expect(codes.allSatisfy { $0 == 250 })
        }
        // A client that pipelines and never reads: the server stops reading too instead of buffering.
        let flooder = try RawSMTPClient(port: node.smtpPort, timeout: 2)
        defer { flooder.close() }
        var sent = 0
        let chunk = Array(String(repeating: "NOOP\r\n", count: 1000).utf8)
        while sent < 20_000_000, (try? flooder.send(chunk)) != nil { sent += chunk.count }
        #expect(sent < 20_000_000, "the server applied backpressure instead of reading everything")
        let after = node.serverMemoryKiB
        #expect(after - before < 60_000, "memory grew by \(after - before) KiB")
        #expect(node.serverIsRunning)
    }

    @Test func idleAndSurplusSessions() async throws {
        let node = try await Self.makeNode()
        defer { node.shutdown() }
        let slow = try RawSMTPClient(port: node.smtpPort, timeout: 10)
        defer { slow.close() }
        try slow.send("EHLO sl")  // and then nothing: a slow-loris client
        let reply = try slow.reply()
        #expect(reply.text.hasPrefix("421 4.4.2"), "\(reply.text)")
        #expect(slow.isClosedByServer())

        var open: [RawSMTPClient] = []
        defer { open.forEach { $0.close() } }
        for _ in 0..<30 { open.append(try RawSMTPClient(port: node.smtpPort)) }
        let surplus = try RawSMTPClient(port: node.smtpPort, readGreeting: false)
        defer { surplus.close() }
        #expect(try surplus.reply().text.hasPrefix("421 4.7.0"))
        open.first?.close()
        open.removeFirst()
        try await Task.sleep(for: .milliseconds(300))
        let later = try RawSMTPClient(port: node.smtpPort, readGreeting: false)
        defer { later.close() }
        #expect(try later.reply().code == 220, "a place is free again")
    }

    /// A client that floods commands and never reads its replies: the idle timeout's 421 can never be
    /// written, and the session must still end and free its place.
    @Test func aClientThatNeverReadsLosesItsSession() async throws {
        // The idle timeout leaves the surplus client below time to see the place taken on a busy machine.
        let node = try await MailTestNode(smtp: "idle_timeout: 8s, max_sessions: 1")
        defer { node.shutdown() }
        try await node.startServer()
        // The one place may still be held by startServer's probe connection for a moment.
        var flooder = try RawSMTPClient(port: node.smtpPort, timeout: 1, readGreeting: false)
        while try flooder.reply().code != 220 {
            flooder.close()
            try await Task.sleep(for: .milliseconds(100))
            flooder = try RawSMTPClient(port: node.smtpPort, timeout: 1, readGreeting: false)
        }
        defer { flooder.close() }
        let chunk = Array(String(repeating: "NOOP\r\n", count: 1000).utf8)
        var sent = 0
        while sent < 20_000_000, (try? flooder.send(chunk)) != nil { sent += chunk.count }
        #expect(sent < 20_000_000, "the server stopped reading")
        let surplus = try RawSMTPClient(port: node.smtpPort, readGreeting: false)
        let refusal = try surplus.reply().text
        #expect(refusal.hasPrefix("421 4.7.0"), "the one place is taken: \(refusal)")
        surplus.close()
        var greeting = 0
        // Idle timeout plus linger; generous, as a loaded machine is slow to get there.
        let deadline = ContinuousClock.now + .seconds(45)
        while greeting != 220, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(500))
            if let next = try? RawSMTPClient(port: node.smtpPort, readGreeting: false) {
                greeting = (try? next.reply().code) ?? 0
                next.close()
            }
        }
        #expect(greeting == 220, "the place was freed after idle timeout and linger")
    }
}
