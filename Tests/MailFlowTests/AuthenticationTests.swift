import Foundation
import TestSupport
import Testing

/// What forwarded mail says about its sender: the `Authentication-Results` of the checks Postern ran
/// (against dnsmasq here), and the owner's chosen mark on mail that fails an enforced DMARC policy.
@Suite(.serialized) struct AuthenticationTests {
    @Test func mailFailingAnEnforcedDMARCPolicyIsMarkedAsTheOwnerChose() async throws {
        let (node, dns) = try await MailTestNode.withDNS([
            "--txt-record=bank.test,v=spf1 ip4:192.0.2.1 -all", "--txt-record=_dmarc.bank.test,v=DMARC1; p=reject",
            "--txt-record=evil.test,v=spf1 ip4:127.0.0.1 -all", "--txt-record=shop.test,v=spf1 ip4:127.0.0.1 -all",
        ])
        defer { node.shutdown(); dns.stop() }
        try await node.startSink()
        try await node.startServer()
        try await node.createAlias("shop")

        // A forged bank: DMARC fails and bank.test asks for reject. The default mark is the subject.
        // A claim of this node's verdicts made by the sender is removed.
        _ = try await node.sendMail(from: "mallory@evil.test", [
            "--header", "From: Bank <alerts@bank.test>", "--header", "Subject: verify your account",
            "--add-header", "Authentication-Results: mx.relay.test; dmarc=pass header.from=bank.test",
        ])
        #expect(await node.waitUntil { node.received().count == 1 }, "\(node.log)")
        let forged = try #require(node.received().last?.message)
        #expect(forged.contains("\r\nSubject: [DMARC FAIL] verify your account\r\n"), "\(forged.prefix(900))")
        #expect(forged.hasPrefix("Authentication-Results: mx.relay.test;\r\n\tspf=pass smtp.mailfrom=evil.test;\r\n\tdkim=none;\r\n\tdmarc=fail (p=reject) header.from=bank.test\r\n"),
                "\(forged.prefix(300))")
        #expect(!forged.contains("dmarc=pass"), "the sender's own claim is gone")
        #expect(forged.contains("\r\n\r\nThis is a test mailing"), "the body is where it was")

        // An honest sender with no DMARC record: nothing is marked.
        _ = try await node.sendMail(from: "news@shop.test", ["--header", "From: Shop <news@shop.test>", "--header", "Subject: sale"])
        #expect(await node.waitUntil { node.received().count == 2 }, "\(node.log)")
        let honest = try #require(node.received().last?.message)
        #expect(honest.contains("\r\nSubject: sale\r\n") && honest.contains("spf=pass smtp.mailfrom=shop.test;"))
        #expect(honest.contains("dmarc=none header.from=shop.test"))

        // The owner prefers a warning in the text.
        let (patched, account) = try await node.api("PATCH", "/api/v1/account-details", body: ["dmarc_fail_warning": "banner"])
        #expect(patched == 200 && (account["data"] as? [String: Any])?["dmarc_fail_warning"] as? String == "banner", "\(account)")
        let (refused, _) = try await node.api("PATCH", "/api/v1/account-details", body: ["dmarc_fail_warning": "loud"])
        #expect(refused == 422)
        _ = try await node.sendMail(from: "mallory@evil.test", ["--header", "From: Bank <alerts@bank.test>", "--header", "Subject: again"])
        #expect(await node.waitUntil { node.received().count == 3 }, "\(node.log)")
        let warned = try #require(node.received().last?.message)
        #expect(warned.contains("\r\nSubject: again\r\n"))
        #expect(warned.contains("[DMARC FAIL] This message failed DMARC. The domain it claims to come from (bank.test)"), "\(warned)")

        // Or nothing at all.
        _ = try await node.api("PATCH", "/api/v1/account-details", body: ["dmarc_fail_warning": "off"])
        _ = try await node.sendMail(from: "mallory@evil.test", ["--header", "From: Bank <alerts@bank.test>", "--header", "Subject: third"])
        #expect(await node.waitUntil { node.received().count == 4 }, "\(node.log)")
        let plain = try #require(node.received().last?.message)
        #expect(plain.contains("\r\nSubject: third\r\n") && !plain.contains("This message failed DMARC"))
        #expect(plain.contains("dmarc=fail (p=reject) header.from=bank.test"), "the verdict is still recorded")
    }
}
