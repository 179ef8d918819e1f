import Foundation
import TestSupport
import Testing

/// Replies and new messages through reverse aliases (SPEC §5), against a real node, swaks, the
/// aiosmtpd sink, and dnsmasq serving the SPF and DMARC records the checks read.
///
/// The owner `alice` has the verified mailbox alice@dest.test. dest.test publishes
/// `v=spf1 ip4:127.0.0.1 -all` and `p=reject`: mail from alice@dest.test through 127.0.0.1 passes
/// DMARC by SPF; mail with `From: alice@dest.test` and another envelope sender does not.
@Suite(.serialized) struct ReplyTests {
    func replyLab(_ records: [String] = []) async throws -> (MailTestNode, Dnsmasq) {
        let (node, dns) = try await MailTestNode.withDNS([
            "--txt-record=dest.test,v=spf1 ip4:127.0.0.1 -all", "--txt-record=_dmarc.dest.test,v=DMARC1; p=reject",
            "--txt-record=evil.test,v=spf1 ip4:127.0.0.1 -all",
        ] + records, extra: "notifications: { from: \"postern@relay.test\" }")
        _ = try await node.generateDKIMKey()
        try await node.startSink()
        try await node.startServer()
        try await node.createAlias("shop")
        return (node, dns)
    }

    @Test func aReplyFromTheOwnersMailboxLeavesFromTheAliasWithOnlyAllowedFields() async throws {
        let (node, dns) = try await replyLab()
        defer { node.shutdown(); dns.stop() }
        try await node.sql("UPDATE aliases SET from_name = 'Shop Alias' WHERE local_part = 'shop'")
        let (status, output) = try await node.sendMail(from: "alice@dest.test", to: "shop+bob=sender.test@relay.test", [
            "--header", "From: Alice Real <alice@dest.test>", "--header", "Subject: Re: your order",
            "--header", "To: \"bob at sender.test\" <shop+bob=sender.test@relay.test>",
            "--header", "Cc: carol <shop+carol=other.test@relay.test>, Alice <alice@dest.test>",
            "--header", "In-Reply-To: <order-42@sender.test>", "--header", "Message-Id: <secret-id@laptop.dest.test>",
            "--header", "X-Mailer: Alice's mail program 1.0", "--add-header", "Received: from laptop (192.0.2.9) by dest.test",
            "--body", "Thanks!\n\nOn Monday Alice <ALICE@dest.test> wrote:\n> the order",
        ])
        #expect(status == 0, "\(output)")
        #expect(await node.waitUntil { node.received().count == 1 }, "\(node.log)")
        let (envelope, message) = try #require(node.received().first)
        #expect(envelope["rcpt_tos"] as? [String] == ["bob@sender.test"], "the reverse alias's destination")
        #expect(envelope["mail_from"] as? String == "shop@relay.test", "the envelope sender is on the alias domain")
        let header = String(message[..<(message.range(of: "\r\n\r\n")?.lowerBound ?? message.endIndex)])
        #expect(header.contains("\r\nFrom: \"Shop Alias\" <shop@relay.test>\r\n") || header.contains("\r\nFrom: Shop Alias <shop@relay.test>\r\n"), "\(header)")
        #expect(header.contains("To: \"bob at sender.test\" <bob@sender.test>"), "\(header)")
        #expect(header.contains("carol <carol@other.test>") && header.contains("<shop@relay.test>"), "\(header)")
        #expect(header.contains("In-Reply-To: <order-42@sender.test>"))
        #expect(header.contains("Message-ID: <") && header.contains("@relay.test>") && !header.contains("secret-id"))
        #expect(!header.lowercased().contains("alice"), "nothing names the real mailbox: \(header)")
        #expect(!header.contains("X-Mailer") && !header.contains("192.0.2.9") && !header.contains("laptop"))
        #expect(header.hasPrefix("DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=relay.test;"))
        #expect(header.contains("\r\nReceived: by mx.relay.test (Postern) with ESMTP id "), "only this node's trace line: \(header)")
        let allowed: Set<String> = ["dkim-signature", "received", "from", "to", "cc", "subject", "date", "message-id", "in-reply-to",
                                    "references", "mime-version", "content-type", "content-transfer-encoding"]
        let names = header.split(separator: "\r\n").filter { !$0.hasPrefix(" ") && !$0.hasPrefix("\t") }
            .compactMap { $0.split(separator: ":").first.map { $0.lowercased() } }
        #expect(Set(names).isSubset(of: allowed), "only allowed fields: \(names)")
        #expect(message.contains("On Monday Alice <shop@relay.test> wrote:"), "the real address is gone from the quote: \(message)")
        #expect(!message.lowercased().contains("alice@dest.test"))

        #expect(try await node.aliasCounter("emails_replied", reaching: 1) == 1)
    }

    @Test func aForgedReplyIsNotSentAndIsRecorded() async throws {
        let (node, dns) = try await replyLab()
        defer { node.shutdown(); dns.stop() }
        // evil.test's SPF passes for 127.0.0.1, but it is not aligned with dest.test, whose DMARC says reject.
        let (status, output) = try await node.sendMail(from: "mallory@evil.test", to: "shop+bob=sender.test@relay.test", [
            "--header", "From: Alice <alice@dest.test>", "--header", "Subject: send me money",
        ])
        #expect(status == 0, "\(output)")
        let records = try await node.failedDeliveries()
        let record = try #require(records.first, "\(node.log)")
        #expect(record["email_type"] as? String == "R")
        #expect(record["alias_id"] is String)
        #expect((record["code"] as? String)?.contains("DMARC") == true, "\(record)")
        // The owner is told (at the default mailbox); nothing reaches bob.
        #expect(await node.waitUntil { node.received().count == 1 }, "\(node.log)")
        try await Task.sleep(for: .seconds(1))
        let received = node.received()
        #expect(received.allSatisfy { ($0.envelope["rcpt_tos"] as? [String]) == ["alice@dest.test"] }, "\(received.map(\.envelope))")
        #expect(received.first?.message.contains("was not sent") == true)
        #expect(node.log.contains("reply not sent"))
    }

    /// DMARC by DKIM alone: the envelope sender is on another domain, and dest.test's signature (made
    /// by dkimpy) carries it. A signed message the owner once sent to someone else, replayed to a
    /// reverse alias, is refused: its signed To names another recipient.
    @Test func aSignedReplyPassesByDKIMAndAReplayedOneDoesNot() async throws {
        let keys = NSTemporaryDirectory() + "postern-reply-keys-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
        let (made, madeOutput) = try await MailTestNode.run("openssl", ["genpkey", "-algorithm", "ed25519", "-out", keys + "/key.pem"])
        #expect(made == 0, "\(madeOutput)")
        let (_, publicDER) = try await MailTestNode.run("bash", ["-c", "openssl pkey -in \(keys)/key.pem -pubout -outform DER | tail -c 32 | base64"])
        let (node, dns) = try await replyLab([
            "--txt-record=s1._domainkey.dest.test,v=DKIM1; k=ed25519; p=\(publicDER.trimmingCharacters(in: .whitespacesAndNewlines))",
        ])
        defer { node.shutdown(); dns.stop() }
        func signed(to: String, subject: String) async throws -> String {
            let input = keys + "/\(subject).eml", output = keys + "/\(subject).signed.eml"
            let text = "From: Alice <alice@dest.test>\r\nTo: \(to)\r\nSubject: \(subject)\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
                + "Message-ID: <\(subject)@dest.test>\r\n\r\nHello Bob.\r\n"
            try text.write(toFile: input, atomically: true, encoding: .utf8)
            let (status, printed) = try await MailTestNode.run("python3", [
                MailTestNode.tool("dkim_sign.py"), input, output, "dest.test", "s1", keys + "/key.pem", "ed25519-sha256", "relaxed/relaxed",
            ])
            #expect(status == 0, "\(printed)")
            return output
        }
        let reply = try await signed(to: "<shop+bob=sender.test@relay.test>", subject: "signed-reply")
        let (status, output) = try await node.sendMail(from: "bounces@mailer.test", to: "shop+bob=sender.test@relay.test",
                                                       ["--data", reply])
        #expect(status == 0, "\(output)")
        #expect(await node.waitUntil { node.received().count == 1 }, "\(node.log)")
        #expect(node.received().first?.envelope["rcpt_tos"] as? [String] == ["bob@sender.test"])
        #expect(try await node.aliasCounter("emails_sent", reaching: 1) == 1, "no In-Reply-To: a new message, not a reply")

        let old = try await signed(to: "Carol <carol@other.test>", subject: "old-message")
        let (replayed, replayOutput) = try await node.sendMail(from: "mallory@evil.test", to: "shop+bob=sender.test@relay.test",
                                                               ["--data", old])
        #expect(replayed == 0, "\(replayOutput)")
        let records = try await node.failedDeliveries()
        #expect((records.first?["code"] as? String)?.contains("does not cover the reverse alias") == true, "\(records)")
        try await Task.sleep(for: .milliseconds(500))
        #expect(!node.received().contains { ($0.envelope["rcpt_tos"] as? [String]) == ["bob@sender.test"] && $0.message.contains("old-message") })
    }

    @Test func aReplyWhoseAuthorCannotBeCheckedNowIsDeferred() async throws {
        let (node, dns) = try await replyLab()
        defer { node.shutdown() }
        dns.stop()
        let (status, output) = try await node.sendMail(from: "alice@dest.test", to: "shop+bob=sender.test@relay.test", [
            "--header", "From: Alice <alice@dest.test>", "--header", "Subject: Re: order",
        ])
        #expect(status != 0 && output.contains("<** 451 4.7.0"), "the sender tries again later: \(output)")
        try await Task.sleep(for: .milliseconds(500))
        #expect(node.received().isEmpty)
        #expect(try await node.failedDeliveries(seconds: 0).isEmpty, "nothing is recorded as failed")
    }

    @Test func aStrangerWritingToAReverseAliasReachesTheOwnerNotTheVictim() async throws {
        let (node, dns) = try await replyLab()
        defer { node.shutdown(); dns.stop() }
        let (status, output) = try await node.sendMail(from: "mallory@evil.test", to: "shop+victim=example.test@relay.test", [
            "--header", "From: Mallory <mallory@evil.test>", "--header", "Subject: spam for the victim",
        ])
        #expect(status == 0, "\(output)")
        #expect(await node.waitUntil { node.received().count == 1 }, "\(node.log)")
        try await Task.sleep(for: .milliseconds(500))
        let received = node.received()
        #expect(received.count == 1)
        let (envelope, message) = try #require(received.first)
        #expect(envelope["rcpt_tos"] as? [String] == ["alice@dest.test"], "forwarded like mail to the alias")
        #expect((envelope["mail_from"] as? String)?.hasPrefix("SRS0=") == true)
        #expect(message.contains("X-Postern-Alias: shop@relay.test"))
        #expect(message.contains("Authentication-Results: mx.relay.test;"), "\(message.prefix(600))")
        #expect(message.contains("spf=pass smtp.mailfrom=evil.test"), "\(message.prefix(600))")
    }
}
