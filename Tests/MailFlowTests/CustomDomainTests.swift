import Foundation
import TestSupport
import Testing

/// A user's own domain: the TXT record to publish, the DNS checks against a real dnsmasq, and mail
/// taken for the domain only once it is proved.
@Suite(.serialized) struct CustomDomainTests {
    @Test func aDomainReceivesMailOnlyOnceItsOwnershipIsProved() async throws {
        let dnsPort = try FreePort.find()
        let node = try await MailTestNode(extra: "dns: { resolver: \"127.0.0.1:\(dnsPort)\" }")
        defer { node.shutdown() }
        let dkimRecord = try await node.generateDKIMKey()
        try await node.startSink()
        try await node.startServer()

        let (created, json) = try await node.api("POST", "/api/v1/domains", body: ["domain": "own.test"])
        #expect(created == 201, "\(json)")
        let domain = try #require(json["data"] as? [String: Any])
        let id = try #require(domain["id"] as? String)
        let record = try #require(domain["verification_record"] as? String)
        #expect(record.hasPrefix("postern-verify=") && record.count == "postern-verify=".count + 40, "\(record)")
        #expect(domain["domain_verified_at"] is NSNull)

        // Not proved yet: no mail for it, and the check says what is missing.
        let (refusedStatus, refused) = try await node.sendMail(to: "hello@own.test")
        #expect(refusedStatus != 0 && refused.contains("<** 554 5.7.1"), "\(refused)")
        let (_, failing) = try await node.api("POST", "/api/v1/domains/\(id)/check")
        let failed = try #require(failing["data"] as? [String: Any])
        let failedChecks = try #require(failed["checks"] as? [String: Any])
        #expect(failedChecks["ownership"] as? Bool == false && failedChecks["mx"] as? Bool == false)
        #expect(((failedChecks["problems"] as? [String: Any])?["ownership"] as? String)?.contains(record) == true, "\(failedChecks)")
        #expect(failed["domain_verified_at"] is NSNull)

        let dns = try Dnsmasq(port: dnsPort, [
            "--txt-record=own.test,v=spf1 a:mx.relay.test -all", "--txt-record=own.test,\(record)",
            "--mx-host=own.test,mx.relay.test,10", "--host-record=mx.relay.test,127.0.0.1",
            "--txt-record=s1._domainkey.own.test,\(dkimRecord)", "--txt-record=_dmarc.own.test,v=DMARC1; p=quarantine",
        ])
        defer { dns.stop() }
        // The node remembers for a second that the resolver did not answer (RFC 2308 §7).
        try await Task.sleep(for: .milliseconds(1200))
        let (checkedStatus, checking) = try await node.api("POST", "/api/v1/domains/\(id)/check")
        #expect(checkedStatus == 200)
        let checked = try #require(checking["data"] as? [String: Any])
        let checks = try #require(checked["checks"] as? [String: Any])
        #expect(checks["ownership"] as? Bool == true && checks["mx"] as? Bool == true && checks["sending"] as? Bool == true,
                "\(checks)")
        #expect(checked["domain_verified_at"] is String && checked["domain_mx_validated_at"] is String
                && checked["domain_sending_verified_at"] is String)

        // Proved: mail to a new address on it creates the alias (catch-all) and is forwarded, signed
        // for the domain with the relay's key.
        let (status, output) = try await node.sendMail(to: "hello@own.test", ["--header", "Subject: to my own domain"])
        #expect(status == 0, "\(output)")
        #expect(await node.waitUntil { node.received().count == 1 }, "\(node.log)")
        let message = try #require(node.received().first?.message)
        #expect(message.contains("X-Postern-Alias: hello@own.test"))
        #expect(message.hasPrefix("DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=own.test; s=s1;"),
                "\(message.prefix(200))")
    }
}
