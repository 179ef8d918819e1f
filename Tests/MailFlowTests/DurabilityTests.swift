import Foundation
import Storage
import TestSupport
import Testing

/// The promise of SPEC §4: a message that got 250 is never lost, not by kill -9 nor by a database outage.
@Suite(.serialized) struct DurabilityTests {
    func tokens(in node: MailTestNode) -> Set<String> {
        Set(node.received().compactMap { item in
            item.message.split(separator: "\r\n").first { $0.hasPrefix("Subject: ") }.map { String($0.dropFirst(9)) }
        })
    }

    @Test func killNineDuringABurstLosesNothingThatGot250() async throws {
        let node = try await MailTestNode(extra: "limits: { messages_per_hour: 0 }")  // a burst of 2000
        defer { node.shutdown() }
        try await node.startSink()
        try await node.startServer()
        try await node.createAlias("burst")
        let acceptedFile = node.folder + "/accepted.txt"
        let burst = Process()
        burst.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        burst.arguments = ["python3", MailTestNode.tool("burst.py"), "127.0.0.1", "\(node.smtpPort)", "burst@relay.test",
                           "2000", "10", acceptedFile]
        burst.standardOutput = FileHandle.nullDevice
        burst.standardError = FileHandle.nullDevice
        try burst.run()
        func accepted() -> [String] {
            ((try? String(contentsOfFile: acceptedFile, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        #expect(await node.waitUntil(seconds: 60) { accepted().count >= 300 })
        node.killServer()
        let beforeKill = accepted().count
        // The burst goes on against a dead port for a moment, then the node comes back and takes the rest.
        try await Task.sleep(for: .milliseconds(300))
        try await node.startServer()
        while burst.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        let all = Set(accepted())
        #expect(all.count > beforeKill, "the node took mail again after the restart")
        #expect(await node.waitUntil(seconds: 120) { all.isSubset(of: tokens(in: node)) },
                "missing: \(all.subtracting(tokens(in: node)).count) of \(all.count)")
    }

    @Test func databaseOutageGives451AndLosesNothing() async throws {
        let server = try await ThrowawayMariaDB.startDedicated()
        defer { Task { await server.remove() } }
        let admin = try await MariaDBConnection.connect(ConnectionOptions(url: server.rootURL, connectTimeout: 5))
        _ = try await admin.execute("CREATE DATABASE postern")
        await admin.close()
        var url = server.rootURL
        url.database = "postern"
        // With the alias cache on, as nodes run by default: the alias is kept from the first RCPT.
        let node = try await MailTestNode(database: url, aliasCacheTTL: "5s")
        defer { node.shutdown() }
        try await node.startSink()
        try await node.startServer()
        try await node.createAlias("shop")

        let client = try RawSMTPClient(port: node.smtpPort)
        defer { client.close() }
        try client.send("EHLO client.test\r\nMAIL FROM:<bob@sender.test>\r\nRCPT TO:<shop@relay.test>\r\nDATA\r\n")
        #expect(try client.codes(4) == [250, 250, 250, 354])
        try await server.stop()
        // The message whose recipient was checked before the outage is still accepted and delivered.
        try client.send("Subject: before\r\n\r\nx\r\n.\r\n")
        #expect(try client.reply().code == 250)
        // The node reads the routing change counter each second; once it cannot, it answers nothing
        // from the cache.
        try await Task.sleep(for: .seconds(3))
        try client.send("MAIL FROM:<bob@sender.test>\r\nRCPT TO:<shop@relay.test>\r\nRSET\r\n")
        let duringOutage = try client.reply()
        let rcpt = try client.reply()
        #expect(duringOutage.code == 250)
        #expect(rcpt.text.hasPrefix("451 4.3.0"), "\(rcpt.text)")
        #expect(try client.reply().code == 250)
        #expect(await node.waitUntil { tokens(in: node).contains("before") }, "delivery goes on without the database")

        try await server.restart()
        var recovered = false
        for _ in 0..<100 where !recovered {
            try client.send("MAIL FROM:<bob@sender.test>\r\nRCPT TO:<shop@relay.test>\r\n")
            _ = try client.reply()
            recovered = try client.reply().code == 250
            if !recovered {
                try client.send("RSET\r\n")
                _ = try client.reply()
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        #expect(recovered, "RCPT works again once the database is back, without a restart")
        try client.send("DATA\r\n")
        #expect(try client.reply().code == 354)
        try client.send("Subject: after\r\n\r\nx\r\n.\r\n")
        #expect(try client.reply().code == 250)
        #expect(await node.waitUntil { tokens(in: node).contains("after") })
    }
}
