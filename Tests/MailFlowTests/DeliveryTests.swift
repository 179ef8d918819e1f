import Foundation
import TestSupport
import Testing

/// The queue against a next hop that is down, refuses for now, or refuses for good.
@Suite(.serialized) struct DeliveryTests {
    func send(_ node: MailTestNode, to: String = "shop@relay.test", subject: String = "hello") async throws -> String {
        let (status, output) = try await MailTestNode.run("swaks", [
            "--server", "127.0.0.1:\(node.smtpPort)", "--from", "bob@sender.test", "--to", to, "--header", "Subject: \(subject)",
        ])
        #expect(status == 0, "\(output)")
        let line = try #require(output.split(separator: "\n").first { $0.contains("queued as") })
        return String(line.split(separator: " ").last ?? "")
    }

    /// Starts `node` with its sink answering per `sinkMode` (Tests/tools/sink.py) and the alias `shop`.
    @discardableResult
    func start(_ node: MailTestNode, sinkMode: String) async throws -> [String: Any] {
        try node.setSinkMode(sinkMode)
        try await node.startSink()
        try await node.startServer()
        return try await node.createAlias("shop")
    }

    @Test func deferredWhileTheNextHopIsDownThenDelivered() async throws {
        let node = try await MailTestNode()
        defer { node.shutdown() }
        try await node.startServer()
        try await node.createAlias("shop")
        let id = try await send(node)  // the sink is not running: nothing listens on the relay host
        #expect(await node.waitUntil { node.log.contains("deferred") }, "\(node.log)")
        let list = try await node.cli(["queue", "list"])
        #expect(list.status == 0)
        #expect(list.stdout.contains(id) && list.stdout.contains("alice@dest.test"), "\(list.stdout)")
        let show = try await node.cli(["queue", "show", id])
        #expect(show.stdout.contains("Subject: hello"), "\(show.stdout)")
        #expect(show.stdout.contains("last problem: 451"), "\(show.stdout)")

        try await node.startSink()
        let flush = try await node.cli(["queue", "flush"])
        #expect(flush.status == 0, "\(flush.stderr)")
        #expect(await node.waitUntil { node.received().count == 1 }, "\(node.log)")
        #expect(await node.waitUntil { node.log.contains("removed") }, "\(node.log)")
        let after = try await node.cli(["queue", "list"])
        #expect(after.stdout.contains("0 messages queued"), "\(after.stdout)")
        let metrics = try await node.get("/metrics").1
        #expect(metrics.contains("postern_deliveries_deferred_total"))
        #expect(!metrics.contains("postern_deliveries_deferred_total 0\n"))
    }

    /// More new mail waiting to start than there are places: the session that brings it waits before
    /// its 250 (in-flow delay), for a bounded time, and no message is lost.
    @Test func sessionsAreHeldBackWhileNewMailWaitsForAPlace() async throws {
        let node = try await MailTestNode(delivery: "first_retry: 1s, max_retry_interval: 2s, max_lifetime: 1h, concurrency: 1, timeout: 4s")
        defer { node.shutdown() }
        try await start(node, sinkMode: "hang")
        // The first takes the only place (and hangs at the sink); the second waits within the limit.
        _ = try await send(node, subject: "one")
        _ = try await send(node, subject: "two")
        var held: [Double] = []
        for subject in ["three", "four"] {
            let started = Date()
            _ = try await send(node, subject: subject)
            held.append(Date().timeIntervalSince(started))
        }
        #expect(held.allSatisfy { $0 >= 0.9 && $0 < 10 }, "held back about a second each, then accepted: \(held)")
        let metrics = try await node.get("/metrics").1
        #expect(metrics.contains("postern_sessions_held_back_total 2\n"), "\(metrics)")

        try node.setSinkMode("ok")
        #expect(await node.waitUntil { node.received().count == 4 }, "\(node.log)")
        let received = node.received()
        for subject in ["one", "two", "three", "four"] {
            #expect(received.filter { $0.message.contains("Subject: \(subject)") }.count == 1, "\(subject)")
        }
    }

    @Test func permanentRefusalBecomesAFailedDelivery() async throws {
        let node = try await MailTestNode()
        defer { node.shutdown() }
        try await start(node, sinkMode: "permfail")
        _ = try await send(node)
        #expect(await node.waitUntil { node.log.contains("failed") }, "\(node.log)")
        let records = try await node.failedDeliveries()
        let record = try #require(records.first)
        #expect((record["code"] as? String)?.contains("550 5.1.1") == true, "\(record)")
        #expect(record["alias_id"] as? String != nil)
        #expect(node.received().isEmpty)
    }

    @Test func temporaryRefusalsUntilTheLifetimeRunsOut() async throws {
        let node = try await MailTestNode(delivery: "first_retry: 1s, max_retry_interval: 1s, max_lifetime: 4s")
        defer { node.shutdown() }
        try await start(node, sinkMode: "tempfail")
        _ = try await send(node)
        #expect(await node.waitUntil(seconds: 20) { node.log.contains("5.4.7") }, "\(node.log)")
        let records = (try await node.api("GET", "/api/v1/failed-deliveries").1["data"] as? [[String: Any]]) ?? []
        #expect(records.count == 1)
        #expect(node.log.components(separatedBy: "deferred").count > 2, "several attempts before giving up")
    }

    @Test func anAdministratorDeletesAQueuedMessage() async throws {
        let node = try await MailTestNode()
        defer { node.shutdown() }
        try await node.startServer()
        try await node.createAlias("shop")
        let id = try await send(node)
        #expect(await node.waitUntil { node.log.contains("deferred") })
        let deleted = try await node.cli(["queue", "delete", id])
        #expect(deleted.status == 0, "\(deleted.stderr)")
        // Deferred mail waits in the shared deferred queue (the database); it is deleted there.
        #expect(deleted.stdout.contains("deleted \(id)"))
        #expect(try await !node.cli(["queue", "list"]).stdout.contains(id))
        try await node.startSink()
        _ = try await node.cli(["queue", "flush"])
        try await Task.sleep(for: .seconds(2))
        #expect(node.received().isEmpty)
        let again = try await node.cli(["queue", "delete", id])
        #expect(again.status == 1)
        #expect(again.stderr.contains("no message \(id)"))
        let bad = try await node.cli(["queue", "show", "../etc"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("not a queue id"))
    }

    /// The owner hears of a failed delivery at their default mailbox, once an hour at most.
    @Test func theOwnerIsToldOfAFailedDelivery() async throws {
        let node = try await MailTestNode()
        defer { node.shutdown() }
        let alias = try await start(node, sinkMode: "permfail carol@dest.test")
        let aliasID = try #require(alias["id"] as? String)
        try await node.sql("""
            INSERT INTO recipients (id, user_id, email, email_verified_at, created_at, updated_at)
            SELECT 'r-carol', id, 'carol@dest.test', NOW(6), NOW(6), NOW(6) FROM users
            """)
        let (attached, json) = try await node.api("POST", "/api/v1/alias-recipients",
                                                  body: ["alias_id": aliasID, "recipient_ids": ["r-carol"]])
        #expect(attached == 200, "\(json)")
        func notices() -> [String] {
            node.received().filter { ($0.envelope["rcpt_tos"] as? [String]) == ["alice@dest.test"] }.map(\.message)
        }
        _ = try await send(node, subject: "first")
        #expect(await node.waitUntil { notices().count == 1 }, "\(node.log)")
        let notice = try #require(notices().first)
        #expect(notice.contains("Subject: A message to shop@relay.test could not be delivered"), "\(notice)")
        #expect(notice.contains("550 5.1.1 no such mailbox here"))
        _ = try await send(node, subject: "second")
        #expect(await node.waitUntil { node.log.components(separatedBy: " failed").count > 2 })
        try await Task.sleep(for: .milliseconds(500))
        #expect(notices().count == 1, "one notice an hour")
    }

    /// A message that failed for good is kept 7 days, and `POST /api/v1/failed-deliveries/{id}/resend`
    /// queues it again for the same mailbox.
    @Test func aFailedDeliveryCanBeResent() async throws {
        let node = try await MailTestNode()
        defer { node.shutdown() }
        try await start(node, sinkMode: "permfail")
        _ = try await send(node, subject: "second chance")
        let failures = try await node.failedDeliveries()
        let id = try #require(failures.first?["id"] as? String, "\(node.log)")
        #expect(node.received().isEmpty)

        try node.setSinkMode("ok")
        let (status, body) = try await node.api("POST", "/api/v1/failed-deliveries/\(id)/resend")
        #expect(status == 200, "\(body)")
        #expect((body["data"] as? [String: Any])?["id"] as? String == id)
        #expect(await node.waitUntil { node.received().count == 1 }, "\(node.log)")
        let (envelope, message) = try #require(node.received().first)
        #expect(envelope["rcpt_tos"] as? [String] == ["alice@dest.test"])
        #expect(message.contains("Subject: second chance"))
        #expect((envelope["mail_from"] as? String)?.hasPrefix("SRS0=") == true)

        let (unknown, _) = try await node.api("POST", "/api/v1/failed-deliveries/00000000-0000-0000-0000-000000000000/resend")
        #expect(unknown == 404)
        let (again, againBody) = try await node.api("POST", "/api/v1/failed-deliveries/\(id)/resend")
        #expect(again == 422, "sent again once only: \(againBody)")
    }
}

/// Next hops by MX lookup against a real DNS server (dnsmasq on loopback).
@Suite(.serialized) struct MXDeliveryTests {
    @Test func mailGoesToTheMXOfTheRecipientDomain() async throws {
        // dest.test's MX is mx.dest.test (127.0.0.1); gone.test does not exist.
        let (node, dns) = try await mxLab(["--mx-host=dest.test,mx.dest.test,10", "--host-record=mx.dest.test,127.0.0.1"])
        defer { node.shutdown(); dns.stop() }
        try await node.startSink()
        try await node.startServer()
        try await node.createAlias("shop")
        let (status, output) = try await node.sendMail()
        #expect(status == 0, "\(output)")
        #expect(await node.waitUntil { node.received().count == 1 }, "\(node.log)")
        // The log line follows the sink's reply: wait for it too.
        #expect(await node.waitUntil { node.log.contains("relay=127.0.0.1:\(node.sinkPort)") }, "\(node.log)")
    }

    @Test func aDomainThatDoesNotExistFailsForGood() async throws {
        let dnsPort = try FreePort.find()
        let node = try await MailTestNode(relay: false, extra: "dns: { resolver: \"127.0.0.1:\(dnsPort)\" }")
        defer { node.shutdown() }
        let dns = try Dnsmasq(port: dnsPort, [])
        defer { dns.stop() }
        try await node.startServer()
        try await node.createAlias("shop")
        let (status, _) = try await node.sendMail()
        #expect(status == 0)
        // alice@dest.test: this DNS server says dest.test does not exist, which is permanent.
        #expect(await node.waitUntil { node.log.contains("5.1.2") }, "\(node.log)")
    }

    /// A node that finds next hops by MX lookup, against a dnsmasq on loopback serving `records`
    /// (dnsmasq options); the MX hosts are reached on the sink's port.
    func mxLab(_ records: [String]) async throws -> (MailTestNode, Dnsmasq) {
        try await MailTestNode.withDNS(records, delivery: "first_retry: 1s, max_retry_interval: 2s, max_lifetime: 1h, mx_port: {sink}",
                                       relay: false)
    }

    /// A running node whose recipients' only MX (127.0.0.3) is `oddmx.py` in `mode`, with the alias
    /// `shop`; and the folder where oddmx keeps what it takes.
    func oddMXLab(_ mode: String) async throws -> (MailTestNode, Dnsmasq, Process, String) {
        let (node, dns) = try await mxLab(["--mx-host=dest.test,mx.dest.test,10", "--host-record=mx.dest.test,127.0.0.3"])
        let folder = node.folder + "/odd"
        let oddMX = try await startOddMX(host: "127.0.0.3", port: node.sinkPort, mode: mode, folder: folder)
        try await node.startServer()
        try await node.createAlias("shop")
        return (node, dns, oddMX, folder)
    }

    /// Starts `oddmx.py` (a misbehaving next hop) on HOST:PORT; kill it with SIGKILL when done.
    func startOddMX(host: String, port: UInt16, mode: String, folder: String) async throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", MailTestNode.tool("oddmx.py"), host, "\(port)", mode, folder]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<100 where (try? await MailTestNode.run("bash", ["-c", "exec 3<>/dev/tcp/\(host)/\(port)"]).0) != 0 {
            try await Task.sleep(for: .milliseconds(100))
        }
        return process
    }

    @Test func aHostThatRefusesTheSessionIsSkippedForTheNext() async throws {
        // mx1 (127.0.0.2) greets with 554; mx2 (127.0.0.1) is the sink.
        let (node, dns) = try await mxLab(["--mx-host=dest.test,mx1.dest.test,10", "--mx-host=dest.test,mx2.dest.test,20",
                                              "--host-record=mx1.dest.test,127.0.0.2", "--host-record=mx2.dest.test,127.0.0.1"])
        defer { node.shutdown(); dns.stop() }
        let refuser = try await startOddMX(host: "127.0.0.2", port: node.sinkPort, mode: "greet554", folder: node.folder + "/odd")
        defer { kill(refuser.processIdentifier, SIGKILL) }
        try await node.startSink()
        try await node.startServer()
        try await node.createAlias("shop")
        let (status, output) = try await node.sendMail()
        #expect(status == 0, "\(output)")
        #expect(await node.waitUntil { node.received().count == 1 }, "\(node.log)")
        // The log line follows the sink's 250 by a moment.
        #expect(await node.waitUntil { node.log.contains("relay=127.0.0.1:\(node.sinkPort)") }, "\(node.log)")
        #expect(!node.log.contains("failed"), "\(node.log)")
    }

    @Test func everyHostRefusingForGoodFails() async throws {
        // dest.test: one host, which refuses EHLO and HELO with 550.
        let (node, dns) = try await mxLab(["--mx-host=dest.test,mx.dest.test,10", "--host-record=mx.dest.test,127.0.0.2"])
        defer { node.shutdown(); dns.stop() }
        let refuser = try await startOddMX(host: "127.0.0.2", port: node.sinkPort, mode: "ehlo550", folder: node.folder + "/odd2")
        defer { kill(refuser.processIdentifier, SIGKILL) }
        try await node.startServer()
        try await node.createAlias("shop")
        let (status, output) = try await node.sendMail()
        #expect(status == 0, "\(output)")
        #expect(await node.waitUntil { node.log.contains("failed") && node.log.contains("550 5.7.1 not you") }, "\(node.log)")
        let (code, body) = try await node.api("GET", "/api/v1/failed-deliveries")
        #expect(code == 200 && "\(body)".contains("alice@dest.test"), "\(body)")

    }

    @Test func aBrokenTLSHandshakeFallsBackToClearText() async throws {
        let (node, dns, oddMX, folder) = try await oddMXLab("badtls")
        defer { node.shutdown(); dns.stop(); kill(oddMX.processIdentifier, SIGKILL) }
        let (status, output) = try await node.sendMail()
        #expect(status == 0, "\(output)")
        #expect(await node.waitUntil {
            ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).contains { $0.hasSuffix(".eml") }
        }, "\(node.log)")
        #expect(node.log.contains("TLS failed; trying again without"), "\(node.log)")
        #expect(await node.waitUntil { node.log.contains("delivered") }, "\(node.log)")
    }

    /// A reply nobody asked for (here a 421 after each message, on a connection left open) must not be
    /// taken as the answer to the next command on a pooled connection.
    @Test func anUnaskedReplyRetiresThePooledConnection() async throws {
        let (node, dns, oddMX, folder) = try await oddMXLab("stray")
        defer { node.shutdown(); dns.stop(); kill(oddMX.processIdentifier, SIGKILL) }
        func count() -> Int { ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".eml") }.count }
        for n in 1...3 {
            let (status, output) = try await node.sendMail()
            #expect(status == 0, "\(output)")
            #expect(await node.waitUntil { count() == n }, "\(node.log)")
            try await Task.sleep(for: .milliseconds(300))
        }
        #expect(!node.log.contains("deferred"), "every message went through at once: \(node.log)")
    }
}
