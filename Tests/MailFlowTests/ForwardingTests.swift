import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Storage
import TestSupport
import Testing

/// A real node between real SMTP peers: swaks and Postfix's smtp-source send, an aiosmtpd sink receives.
@Suite(.serialized) struct ForwardingTests {
    @Test func mailToAnAliasIsForwardedWithAnSRSSender() async throws {
        let node = try await MailTestNode()
        defer { node.shutdown() }
        try await node.startSink()
        try await node.startServer()
        try await node.createAlias("shop")

        let (status, output) = try await MailTestNode.run("swaks", [
            "--server", "127.0.0.1:\(node.smtpPort)", "--from", "bob@sender.test", "--to", "shop@relay.test",
            "--header", "Subject: order 42", "--body", "Thanks for the order.\n.leading dot stays", "--helo", "client.test",
        ])
        #expect(status == 0, "\(output)")
        #expect(output.contains("250 2.0.0 Ok: queued as "))
        #expect(await node.waitUntil { node.received().count == 1 }, "\(node.log)")
        let (envelope, message) = try #require(node.received().first)
        let sender = try #require(envelope["mail_from"] as? String)
        #expect(sender.hasPrefix("SRS0="), "the envelope sender is rewritten: \(sender)")
        #expect(sender.hasSuffix("=sender.test=bob@relay.test"))
        #expect(envelope["rcpt_tos"] as? [String] == ["alice@dest.test"])
        #expect(message.contains("Subject: order 42"))
        // On top: what the checks found (no DNS answers here: SPF temperror), then the trace line.
        #expect(message.hasPrefix("Authentication-Results: mx.relay.test;\r\n\tspf=temperror smtp.mailfrom=sender.test;\r\n\tdkim=none;\r\n\tdmarc=temperror header.from=sender.test\r\nReceived: from client.test ([127.0.0.1])\r\n\tby mx.relay.test (Postern) with ESMTP id "),
                "\(message.prefix(300))")
        #expect(message.contains("\n.leading dot stays"), "dot-stuffing is undone at the far end")
        // "delivered" is logged once the sink's 250 is read, a moment after the sink has the message.
        #expect(await node.waitUntil(seconds: 10) { node.log.contains("accepted") && node.log.contains("delivered") })

        // The alias counts the forward (written within a second or so); /metrics and /health report it.
        #expect(try await node.aliasCounter("emails_forwarded", reaching: 1) == 1)
        let (metricsStatus, metrics) = try await node.get("/metrics")
        #expect(metricsStatus == 200)
        #expect(metrics.contains("postern_messages_accepted_total 1\n"))
        #expect(metrics.contains("postern_deliveries_delivered_total 1\n"))
        let (healthStatus, health) = try await node.get("/health")
        #expect(healthStatus == 200)
        #expect(health.contains("\"database\":\"up\""))
    }

    @Test(arguments: ["rsa", "ed25519"])
    func forwardedMailIsDKIMSignedForTheAliasDomain(algorithm: String) async throws {
        let node = try await MailTestNode()
        defer { node.shutdown() }
        let generated = try await node.cli(["dkim", "generate", "relay.test", "--algorithm", algorithm])
        #expect(generated.status == 0, "\(generated.stderr)")
        let recordLine = try #require(generated.stdoutLines.last)
        #expect(recordLine.hasPrefix("s1._domainkey.relay.test. IN TXT ("))
        // The record as DNS would hand it over: the quoted strings joined.
        let record = recordLine.split(separator: "\"").enumerated().filter { $0.offset % 2 == 1 }.map(\.element).joined()
        #expect(record.hasPrefix("v=DKIM1; k=\(algorithm); p="))
        let again = try await node.cli(["dkim", "generate", "relay.test"])
        #expect(again.status == 1 && again.stderr.contains("--force"), "an existing key is not replaced silently")

        try await node.startSink()
        try await node.startServer()
        try await node.createAlias("shop")
        let (status, output) = try await MailTestNode.run("swaks", [
            "--server", "127.0.0.1:\(node.smtpPort)", "--from", "bob@sender.test", "--to", "shop@relay.test",
            "--header", "Subject: signed",
        ])
        #expect(status == 0, "\(output)")
        #expect(await node.waitUntil { node.received().count == 1 }, "\(node.log)")
        let message = try #require(node.received().first?.message)
        #expect(message.hasPrefix("DKIM-Signature: v=1; a=\(algorithm == "rsa" ? "rsa-sha256" : "ed25519-sha256"); c=relaxed/relaxed; d=relay.test; s=s1;"))
        let file = node.folder + "/received.eml"
        try message.write(toFile: file, atomically: true, encoding: .utf8)
        let (_, verdict) = try await MailTestNode.run("python3", [MailTestNode.tool("dkim_verify.py"), file, record])
        #expect(verdict.trimmingCharacters(in: .whitespacesAndNewlines) == "pass", "dkimpy: \(verdict)")
    }

    /// A real-world-shaped message through the node: the copy at the sink has the addy.io-style header
    /// (per the owner's settings in the database) and the original body.
    @Test func forwardedHeadersFollowTheOwnersStyle() async throws {
        let node = try await MailTestNode()
        defer { node.shutdown() }
        try await node.startSink()
        try await node.startServer()
        try await node.createAlias("shop")
        let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("MailCoreTests/Corpus/folded.eml").path
        func send() async throws {
            let (status, output) = try await MailTestNode.run("swaks", [
                "--server", "127.0.0.1:\(node.smtpPort)", "--from", "frank@example.com", "--to", "shop@relay.test",
                "--data", "@" + corpus,
            ])
            #expect(status == 0, "\(output)")
        }
        try await send()
        #expect(await node.waitUntil { node.received().count == 1 }, "\(node.log)")
        // Compared unfolded: Postern folds the fields it writes at 78 characters.
        let first = try #require(node.received().first?.message).replacingOccurrences(of: "\r\n ", with: " ")
        #expect(first.contains("\r\nFrom: \"Frank Example 'frank at example.com'\" <shop+list=lists.example.com@relay.test>\r\n"), "\(first)")
        #expect(first.contains("\r\nTo: shop@relay.test, \"Grace Hopper\" <shop+grace=navy.example@relay.test>,"), "\(first)")
        #expect(first.contains("\r\nX-Postern-Alias: shop@relay.test\r\n"))
        #expect(!first.contains("forged@relay.test") && !first.contains("Disposition-Notification-To"))
        // The banner (on top by default) names alias and sender and links to deactivation.
        #expect(first.contains("\r\nX-Postern-Alias: shop@relay.test\r\nX-Postern-Reference: "))
        let bodyStart = try #require(first.range(of: "\r\n\r\n")).upperBound
        let body = String(first[bodyStart...])
        #expect(body.hasPrefix("This message was sent to shop@relay.test\r\nfrom frank@example.com, and forwarded by Postern.\r\nDeactivate this alias: http://127.0.0.1:\(node.apiPort)/deactivate/"), "\(body)")
        #expect(body.contains("\r\n\r\nFolded.\r\n"), "the original text follows the banner")
        let link = try #require(body.split(separator: "\r\n").first { $0.hasPrefix("Deactivate this alias: ") }?.dropFirst(23))
        let path = String(link.dropFirst("http://127.0.0.1:\(node.apiPort)".count))
        let (shown, page) = try await node.get(path)
        #expect(shown == 200 && page.contains("shop@relay.test") && page.contains("<form method=\"post\">"),
                "GET only asks (link scanners fetch links): \(page)")
        let (forged, _) = try await node.get(String(path.dropLast(2)) + "00")
        #expect(forged == 403)

        try await node.sql("UPDATE users SET display_from_format = 1, use_reply_to = 1")
        try await send()
        #expect(await node.waitUntil { node.received().count == 2 }, "\(node.log)")
        let second = try #require(node.received().last?.message).replacingOccurrences(of: "\r\n ", with: " ")
        #expect(second.contains("\r\nFrom: \"Frank Example - frank(a)example.com\" <shop@relay.test>\r\nReply-To: <shop+list=lists.example.com@relay.test>\r\n"), "\(second)")

        // An alias can place its banner differently from the account: here, none.
        let (_, aliasList) = try await node.api("GET", "/api/v1/aliases")
        let aliasID = try #require((aliasList["data"] as? [[String: Any]])?.first?["id"] as? String)
        let (badPatch, _) = try await node.api("PATCH", "/api/v1/aliases/\(aliasID)", body: ["banner_location": "sideways"])
        #expect(badPatch == 422)
        let (patched, patchedJSON) = try await node.api("PATCH", "/api/v1/aliases/\(aliasID)", body: ["banner_location": "off"])
        #expect(patched == 200 && (patchedJSON["data"] as? [String: Any])?["banner_location"] as? String == "off", "\(patchedJSON)")
        try await send()
        #expect(await node.waitUntil { node.received().count == 3 }, "\(node.log)")
        let third = try #require(node.received().last?.message)
        let thirdBody = try #require(third.range(of: "\r\n\r\n")).upperBound
        #expect(third[thirdBody...].hasPrefix("Folded."), "no banner: \(third)")

        // The link's POST deactivates the alias: the next message is dropped.
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(node.apiPort)" + path)!)
        request.httpMethod = "POST"
        let (_, response) = try await URLSession(configuration: .ephemeral).data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        let (_, aliases) = try await node.api("GET", "/api/v1/aliases")
        #expect((aliases["data"] as? [[String: Any]])?.first?["active"] as? Bool == false)
    }

    /// Loops: mail from the alias's own mailbox is not sent back to it, and a message that went through
    /// Postern five times already is refused.
    @Test func loopsAreNotForwarded() async throws {
        let node = try await MailTestNode()
        defer { node.shutdown() }
        try await node.startSink()
        try await node.startServer()
        try await node.createAlias("shop")
        let (own, ownOutput) = try await MailTestNode.run("swaks", [
            "--server", "127.0.0.1:\(node.smtpPort)", "--from", "alice@dest.test", "--to", "shop@relay.test",
        ])
        #expect(own == 0, "\(ownOutput)")
        #expect(await node.waitUntil { node.log.contains("nothing to forward") }, "\(node.log)")

        var headers: [String] = []
        for hop in 0..<5 {
            headers += ["--add-header", "Received: from a (b [127.0.0.\(hop)]) by mx\(hop).relay.test (Postern) with ESMTP id \(hop); Mon, 23 Nov 2026 10:00:00 +0000"]
        }
        let (looped, loopedOutput) = try await MailTestNode.run("swaks", [
            "--server", "127.0.0.1:\(node.smtpPort)", "--from", "bob@sender.test", "--to", "shop@relay.test",
        ] + headers)
        #expect(looped != 0)
        #expect(loopedOutput.contains("554 5.4.6"), "\(loopedOutput)")
        let (fine, fineOutput) = try await MailTestNode.run("swaks", [
            "--server", "127.0.0.1:\(node.smtpPort)", "--from", "bob@sender.test", "--to", "shop@relay.test",
        ] + headers.suffix(8))
        #expect(fine == 0, "four passes are still fine: \(fineOutput)")
        #expect(await node.waitUntil { node.received().count == 1 })
        #expect(node.received().allSatisfy { ($0.envelope["mail_from"] as? String)?.contains("sender.test") == true })
    }

    @Test func recipientDecisions() async throws {
        let node = try await MailTestNode()
        defer { node.shutdown() }
        try await node.startSink()
        try await node.startServer()
        try await node.createAlias("shop")
        let off = try await node.createAlias("paused")
        let offID = try #require(off["id"] as? String)
        let (deactivated, _) = try await node.api("DELETE", "/api/v1/active-aliases/\(offID)")
        #expect(deactivated == 204)

        let client = try RawSMTPClient(port: node.smtpPort)
        defer { client.close() }
        try client.send("EHLO client.test\r\n")
        let ehlo = try client.reply()
        #expect(ehlo.code == 250)
        for keyword in ["PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES"] {
            #expect(ehlo.text.contains(keyword))
        }
        try client.send("MAIL FROM:<bob@sender.test>\r\n")
        #expect(try client.reply().code == 250)
        let cases: [(String, String)] = [
            ("nobody@relay.test", "550 5.1.1"), ("someone@foreign.example", "554 5.7.1"), ("paused@relay.test", "250 2.1.5"),
            ("shop+newsletter@relay.test", "250 2.1.5"), ("SHOP@RELAY.TEST", "250 2.1.5"),
            ("SRS0=xxxx=AA=example.com=bob@relay.test", "550 5.1.1"),
        ]
        for (address, expected) in cases {
            try client.send("RCPT TO:<\(address)>\r\n")
            let reply = try client.reply()
            #expect(reply.text.hasPrefix(expected), "RCPT \(address): \(reply.text)")
        }
        try client.send("VRFY shop\r\n")
        #expect(try client.reply().code == 252)
        try client.send("DATA\r\n")
        #expect(try client.reply().code == 354)
        try client.send("Subject: hi\r\n\r\nbody\r\n.\r\n")
        #expect(try client.reply().code == 250)
        #expect(await node.waitUntil { node.received().count == 1 })
        let envelope = try #require(node.received().first?.envelope)
        #expect(envelope["rcpt_tos"] as? [String] == ["alice@dest.test"], "shop, shop+newsletter and SHOP are one alias: one copy")
        try await Task.sleep(for: .milliseconds(500))
        #expect(node.received().count == 1, "nothing for the deactivated alias")
        let (_, paused) = try await node.api("GET", "/api/v1/aliases/\(offID)")
        #expect((paused["data"] as? [String: Any])?["emails_blocked"] as? Int == 1)

        // An owner who wants mail to deactivated aliases refused gets 550 instead.
        try await node.sql("UPDATE users SET reject_deactivated = 1")
        let strict = try RawSMTPClient(port: node.smtpPort)
        defer { strict.close() }
        try strict.send("EHLO client.test\r\nMAIL FROM:<bob@sender.test>\r\nRCPT TO:<paused@relay.test>\r\n")
        let replies = try (0..<3).map { _ in try strict.reply().text }
        #expect(replies.last?.hasPrefix("550 5.1.1") == true, "\(replies)")
    }

    /// SPEC §3 and §4: aliases created on first receipt under a username or a custom domain, the
    /// recipient fallbacks, and the per-user limits that live in the database.
    @Test func catchAllAliasesAndLimits() async throws {
        let node = try await MailTestNode()
        defer { node.shutdown() }
        try await node.startSink()
        try await node.startServer()
        let client = try RawSMTPClient(port: node.smtpPort)
        defer { client.close() }
        try client.send("EHLO client.test\r\nMAIL FROM:<bob@sender.test>\r\n")
        #expect(try client.codes(2) == [250, 250])
        func rcpt(_ address: String) throws -> String {
            try client.send("RCPT TO:<\(address)>\r\n")
            return try client.reply().text
        }
        func expect(_ address: String, _ reply: String, _ comment: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let got = try rcpt(address)
            #expect(got.hasPrefix(reply), "\(comment): RCPT \(address) → \(got)", sourceLocation: sourceLocation)
        }
        // The username's default recipient comes before the user's.
        try await node.sql("""
            INSERT INTO recipients (id, user_id, email, email_verified_at, created_at, updated_at)
            SELECT 'r-username', id, 'carol@dest.test', NOW(6), NOW(6), NOW(6) FROM users
            """)
        try await node.sql("UPDATE usernames SET default_recipient_id = 'r-username'")

        try expect("anything@alice.relay.test", "250", "created on first receipt")
        try expect("Other+tag@alice.relay.test", "250", "created without its extension")
        try expect("x@nobody.relay.test", "550 5.1.1", "no such username")
        let (_, list) = try await node.api("GET", "/api/v1/aliases")
        let emails = Set(((list["data"] as? [[String: Any]]) ?? []).compactMap { $0["email"] as? String })
        #expect(emails == ["anything@alice.relay.test", "Other@alice.relay.test"], "\(emails)")

        try await node.sql("UPDATE usernames SET catch_all = 0")
        try expect("new@alice.relay.test", "550 5.1.1", "catch-all off")
        try expect("anything@alice.relay.test", "250", "an existing alias still works with catch-all off")
        try await node.sql("UPDATE usernames SET catch_all = 1, active = 0")
        try expect("anything@alice.relay.test", "250", "username deactivated: accepted and dropped")
        try await node.sql("UPDATE users SET reject_deactivated = 1")
        try expect("anything@alice.relay.test", "550 5.1.1", "username deactivated: refused, per the owner")
        try expect("brandnew@alice.relay.test", "550 5.1.1", "nothing is created under a deactivated username")
        try await node.sql("UPDATE usernames SET active = 1")
        try await node.sql("UPDATE users SET reject_deactivated = 0, new_aliases_per_hour_limit = 3")
        try expect("third@alice.relay.test", "250", "the third new alias this hour")
        try expect("fourth@alice.relay.test", "450 4.2.1", "over the new-aliases-per-hour limit")

        try await node.sql("UPDATE users SET new_aliases_per_hour_limit = 0")
        try await node.sql("""
            INSERT INTO domains (id, user_id, domain, active, catch_all, domain_verified_at, created_at, updated_at)
            SELECT 'd-custom', id, 'custom.example', 1, 1, NOW(6), NOW(6), NOW(6) FROM users
            """)
        try expect("hello@custom.example", "250", "custom domain catch-all")
        try expect("hello@unproven.example", "554 5.7.1", "a domain nobody proved is foreign")

        try await node.sql("""
            INSERT INTO user_hourly_messages (user_id, hour, messages)
            SELECT id, DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%d %H:00:00'), 200 FROM users
            """)
        try expect("anything@alice.relay.test", "452 4.2.2", "200 messages this hour")
        try await node.sql("DELETE FROM user_hourly_messages")
        try await node.sql("UPDATE users SET bandwidth = 200000000, bandwidth_month = DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m')")
        try expect("anything@alice.relay.test", "552 5.2.2", "over the month's 100 MiB")
        try await node.sql("UPDATE users SET bandwidth_month = '2000-01'")
        try expect("anything@alice.relay.test", "250", "last month's bandwidth does not count")
        try await node.sql("UPDATE users SET bandwidth_month = NULL")
        try expect("anything@alice.relay.test", "250", "bandwidth counted before months were kept does not count")

        // One message to the catch-all alias goes to the username's default recipient, and is counted
        // against the hour.
        try client.send("DATA\r\n")
        #expect(try client.reply().code == 354)
        try client.send("Subject: hi\r\n\r\nbody\r\n.\r\n")
        #expect(try client.reply().code == 250)
        func recipients() -> Set<String> { Set(node.received().flatMap { ($0.envelope["rcpt_tos"] as? [String]) ?? [] }) }
        #expect(await node.waitUntil { recipients().count >= 2 })
        #expect(recipients() == ["carol@dest.test", "alice@dest.test"],
                "username aliases go to carol (the username's default), custom-domain ones to alice: \(recipients())")
        var counted: Int64 = 0
        for _ in 0..<50 where counted == 0 {
            counted = try await node.sql("SELECT CAST(COALESCE(SUM(messages), 0) AS SIGNED) AS n FROM user_hourly_messages").rows.first?.int("n") ?? 0
            if counted == 0 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(counted == 1)

        // The owner was told of each limit, once, at the default mailbox.
        let subjects = ["Too many new aliases this hour", "Your aliases have had too many messages this hour",
                        "Your monthly forwarding bandwidth is used up"]
        func notices() -> [String] {
            node.received().map(\.message).filter { $0.contains("Auto-Submitted: auto-generated") }
        }
        #expect(await node.waitUntil { notices().count >= 3 }, "\(node.log)")
        for subject in subjects {
            #expect(notices().filter { $0.contains("Subject: \(subject)") }.count == 1, "\(subject)")
        }
    }

    /// SPEC §5: a bounce to the SRS address becomes a failed delivery for the alias owner, visible in
    /// the API, and nothing reaches the original sender.
    @Test func bouncesBecomeFailedDeliveries() async throws {
        // dest.test's SPF vouches for auto-replies from alice@dest.test sent through 127.0.0.1.
        let (node, dns) = try await MailTestNode.withDNS(["--txt-record=dest.test,v=spf1 ip4:127.0.0.1 -all"])
        defer { node.shutdown(); dns.stop() }
        try await node.startSink()
        try await node.startServer()
        try await node.createAlias("shop")
        _ = try await MailTestNode.run("swaks", ["--server", "127.0.0.1:\(node.smtpPort)", "--from", "bob@sender.test",
                                           "--to", "shop@relay.test"])
        #expect(await node.waitUntil { node.received().count == 1 })
        let (envelope, forwarded) = try #require(node.received().first)
        let srs = try #require(envelope["mail_from"] as? String)
        // The next hop later gives up on alice@dest.test and returns a report, as Postfix would.
        let copy = node.folder + "/forwarded.eml"
        let dsn = node.folder + "/dsn.eml"
        try forwarded.write(toFile: copy, atomically: true, encoding: .utf8)
        let (made, madeOutput) = try await MailTestNode.run("python3", [
            MailTestNode.tool("make_dsn.py"), copy, srs, "alice@dest.test", "5.1.1",
            "550 5.1.1 <alice@dest.test>: Recipient address rejected: User unknown", dsn,
        ])
        #expect(made == 0, "\(madeOutput)")
        let (status, output) = try await MailTestNode.run("swaks", [
            "--server", "127.0.0.1:\(node.smtpPort)", "--from", "<>", "--to", srs, "--data", "@" + dsn,
        ])
        #expect(status == 0, "\(output)")
        let failures = try await node.failedDeliveries()
        let failure = try #require(failures.first, "\(node.log)")
        #expect(failures.count == 1)
        #expect(failure["alias_email"] as? String == "shop@relay.test")
        #expect(failure["recipient_email"] as? String == "alice@dest.test")
        #expect(failure["status"] as? String == "5.1.1")
        #expect(failure["bounce_type"] as? String == "hard")
        #expect(failure["remote_mta"] as? String == "mailstore.dest.test")
        #expect((failure["code"] as? String)?.contains("User unknown") == true)
        try await Task.sleep(for: .milliseconds(500))
        #expect(node.received().count == 1, "the report is not forwarded anywhere")

        // A report naming the alias without the node's reference is not believed: the failed mailbox
        // still tells whose it is, but the record names no alias.
        let forgedCopy = node.folder + "/forged.eml"
        let forgedDSN = node.folder + "/forged-dsn.eml"
        let stripped = forwarded.split(separator: "\r\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("X-Postern-Reference:") }.joined(separator: "\r\n")
        #expect(stripped != forwarded, "the forwarded copy carries X-Postern-Reference")
        try stripped.write(toFile: forgedCopy, atomically: true, encoding: .utf8)
        _ = try await MailTestNode.run("python3", [
            MailTestNode.tool("make_dsn.py"), forgedCopy, srs, "alice@dest.test", "5.1.1", "550 forged", forgedDSN,
        ])
        let (forgedSent, _) = try await MailTestNode.run("swaks", [
            "--server", "127.0.0.1:\(node.smtpPort)", "--from", "<>", "--to", srs, "--data", "@" + forgedDSN,
        ])
        #expect(forgedSent == 0)
        let after = try await node.failedDeliveries(atLeast: 2)
        #expect(after.count == 2)
        #expect(after.filter { $0["alias_email"] is NSNull || $0["alias_email"] == nil }.count == 1, "\(after)")
        #expect(after.allSatisfy { $0["recipient_email"] as? String == "alice@dest.test" })
        #expect(!node.log.contains("to=bob@sender.test"), "nothing goes back to the original sender")

        // An out-of-office reply from the mailbox goes to the alias owner's default mailbox instead.
        let (auto, autoOutput) = try await MailTestNode.run("swaks", [
            "--server", "127.0.0.1:\(node.smtpPort)", "--from", "alice@dest.test", "--to", srs,
            "--header", "From: Alice <alice@dest.test>", "--header", "Subject: Out of office",
            "--header", "Auto-Submitted: auto-replied", "--body", "I am away until Monday.",
        ])
        #expect(auto == 0, "\(autoOutput)")
        #expect(await node.waitUntil { node.received().count == 2 }, "\(node.log)")
        let (autoEnvelope, autoMessage) = try #require(node.received().last)
        #expect(autoEnvelope["rcpt_tos"] as? [String] == ["alice@dest.test"])
        #expect(autoEnvelope["mail_from"] as? String == "<>")
        #expect(autoMessage.contains("by mx.relay.test (Postern)"), "passed on with a trace line")
        #expect(autoMessage.contains("Subject: Out of office") && autoMessage.contains("I am away until Monday."))
        #expect(!node.log.contains("to=bob@sender.test"), "the auto-reply does not reach the original sender")
        // One that only claims to come from alice@dest.test (another envelope domain, so SPF and
        // DMARC do not vouch for it) is dropped.
        let (madeUp, _) = try await MailTestNode.run("swaks", [
            "--server", "127.0.0.1:\(node.smtpPort)", "--from", "mallory@evil.test", "--to", srs,
            "--header", "From: Alice <alice@dest.test>", "--header", "Subject: Out of office (made up)",
            "--header", "Auto-Submitted: auto-replied",
        ])
        #expect(madeUp == 0)
        #expect(await node.waitUntil { node.log.contains("automatic reply whose author is not authenticated; dropped") }, "\(node.log)")
        #expect(node.received().count == 2)
        let (plain, _) = try await MailTestNode.run("swaks", [
            "--server", "127.0.0.1:\(node.smtpPort)", "--from", "alice@dest.test", "--to", srs,
            "--header", "From: Alice <alice@dest.test>", "--header", "Subject: not automatic",
        ])
        #expect(plain == 0)
        #expect(await node.waitUntil { node.log.contains("no automatic reply; dropped") })
        #expect(node.received().count == 2, "only what says it is an automatic reply is passed on")
        let forged = srs.replacingCharacters(in: srs.index(srs.startIndex, offsetBy: 5)..<srs.index(srs.startIndex, offsetBy: 9), with: "zzzz")
        let (forgedStatus, forgedOutput) = try await MailTestNode.run("swaks", [
            "--server", "127.0.0.1:\(node.smtpPort)", "--from", "<>", "--to", forged,
        ])
        #expect(forgedStatus != 0)
        #expect(forgedOutput.contains("550 5.1.1"))
    }

    @Test func postfixSMTPSourceBurst() async throws {
        let node = try await MailTestNode()
        defer { node.shutdown() }
        try await node.startSink()
        try await node.startServer()
        try await node.createAlias("alias")
        let (status, output) = try await MailTestNode.run("smtp-source", [
            "-s", "5", "-m", "100", "-l", "2000", "-f", "bob@sender.test", "-t", "alias@relay.test", "127.0.0.1:\(node.smtpPort)",
        ])
        #expect(status == 0, "\(output)")
        #expect(await node.waitUntil(seconds: 60) { node.received().count == 100 }, "got \(node.received().count)")
    }
}
