import Foundation
import TestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Mail Postern writes itself: a new recipient's verification link goes out through the queue, from
/// `notifications.from`, DKIM-signed, and following it verifies the recipient.
@Suite(.serialized) struct NoticeTests {
    @Test func aNewRecipientGetsAVerificationMail() async throws {
        let node = try await MailTestNode(extra: "notifications: { from: \"hello@relay.test\" }")
        defer { node.shutdown() }
        let record = try await node.generateDKIMKey()
        try await node.startSink()
        try await node.startServer()

        let (created, json) = try await node.api("POST", "/api/v1/recipients", body: ["email": "carol@dest.test"])
        #expect(created == 201, "\(json)")
        let recipientID = try #require((json["data"] as? [String: Any])?["id"] as? String)
        #expect(await node.waitUntil { node.received().count == 1 }, "\(node.log)")
        let (envelope, message) = try #require(node.received().first)
        #expect(envelope["mail_from"] as? String == "<>", "the null sender: nothing bounces back to an address someone may own")
        #expect(envelope["rcpt_tos"] as? [String] == ["carol@dest.test"])
        #expect(message.contains("\r\nFrom: Postern <hello@relay.test>\r\n"))
        #expect(message.contains("\r\nAuto-Submitted: auto-generated\r\n"))
        #expect(!message.contains("X-Postern-Alias"), "a notice is not rewritten like forwarded mail")
        #expect(message.hasPrefix("DKIM-Signature: v=1; a=ed25519-sha256;"), "\(message.prefix(200))")
        let file = node.folder + "/notice.eml"
        try message.write(toFile: file, atomically: true, encoding: .utf8)
        let (_, verdict) = try await MailTestNode.run("python3", [MailTestNode.tool("dkim_verify.py"), file, record])
        #expect(verdict.trimmingCharacters(in: .whitespacesAndNewlines) == "pass", "dkimpy: \(verdict)")

        let linkLine = try #require(message.split(separator: "\r\n").first { $0.hasPrefix("http://") }, "\(message)")
        let path = String(linkLine.dropFirst("http://127.0.0.1:\(node.apiPort)".count))
        #expect(path.hasPrefix("/verify/"))
        let (shown, page) = try await node.get(path)
        #expect(shown == 200 && page.contains("<form method=\"post\">"), "GET only asks: \(page)")
        func verified() async throws -> Bool {
            let (_, recipient) = try await node.api("GET", "/api/v1/recipients/\(recipientID)")
            return (recipient["data"] as? [String: Any])?["email_verified_at"] is String
        }
        #expect(try await verified() == false)
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(node.apiPort)" + path)!)
        request.httpMethod = "POST"
        let (_, response) = try await URLSession(configuration: .ephemeral).data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        #expect(try await verified())
        let (again, _) = try await URLSession(configuration: .ephemeral).data(for: request)
        #expect(String(decoding: again, as: UTF8.self).contains("not valid"), "a link works once")

        // A verified recipient gets no new link; an unknown one neither.
        let (resent, _) = try await node.api("POST", "/api/v1/recipients/email/resend", body: ["recipient_id": recipientID])
        #expect(resent == 422)
    }

    @Test func aLostLinkCanBeSentAgain() async throws {
        let node = try await MailTestNode()
        defer { node.shutdown() }
        try await node.startSink()
        try await node.startServer()
        let (_, json) = try await node.api("POST", "/api/v1/recipients", body: ["email": "dave@dest.test"])
        let recipientID = try #require((json["data"] as? [String: Any])?["id"] as? String)
        #expect(await node.waitUntil { node.received().count == 1 })
        let (tooSoon, _) = try await node.api("POST", "/api/v1/recipients/email/resend", body: ["recipient_id": recipientID])
        #expect(tooSoon == 422, "one link a minute")
        try await node.sql("UPDATE recipients SET updated_at = updated_at - INTERVAL 2 MINUTE")
        let (resent, body) = try await node.api("POST", "/api/v1/recipients/email/resend", body: ["recipient_id": recipientID])
        #expect(resent == 200, "\(body)")
        #expect(await node.waitUntil { node.received().count == 2 })
        let links = node.received().compactMap { $0.message.split(separator: "\r\n").first { $0.hasPrefix("http://") } }
        #expect(links.count == 2 && links[0] != links[1], "a new token each time")
        #expect(node.received().allSatisfy { $0.message.contains("From: Postern <postern@relay.test>\r\n") }, "the default sender")
        let (taken, _) = try await node.api("POST", "/api/v1/aliases", body: ["domain": "relay.test", "format": "custom", "local_part": "postern"])
        #expect(taken == 422, "nobody can own the notices' sender address")
    }
}
