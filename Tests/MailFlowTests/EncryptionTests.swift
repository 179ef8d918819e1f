import Foundation
import Storage
import TestSupport
import Testing

/// Forwarded mail encrypted to the recipient's OpenPGP key, opened at the far end as a mail client
/// would: Python's email package parses it, the gpg command-line tool decrypts it with the secret key.
@Suite(.serialized) struct EncryptionTests {
    /// The node, its DKIM record, alice's default recipient id, and the shared gpg home with its keys.
    static func start() async throws -> (MailTestNode, String, String, GnuPGHome, [GnuPGHome.Kind: GnuPGHome.Key]) {
        let (home, keys) = try await GnuPGHome.shared()
        let node = try await MailTestNode(extra: "notifications: { from: \"hello@relay.test\" }")
        let record = try await node.generateDKIMKey("rsa")
        try await node.startSink()
        try await node.startServer()
        try await node.createAlias("shop")
        let (_, list) = try await node.api("GET", "/api/v1/recipients")
        let recipientID = try #require((list["data"] as? [[String: Any]])?.first?["id"] as? String)
        return (node, record, recipientID, home, keys)
    }

    /// The newest message at the sink, opened by `pgp_open.py`.
    static func open(_ message: String, node: MailTestNode, home: GnuPGHome) async throws -> [String: Any] {
        let file = node.folder + "/encrypted-\(UUID().uuidString).eml"
        try message.write(toFile: file, atomically: true, encoding: .utf8)
        let (status, output) = try await MailTestNode.run("python3", [MailTestNode.tool("pgp_open.py"), file, home.path])
        #expect(status == 0, "\(output)")
        return try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
    }

    static func upload(_ key: GnuPGHome.Key, to recipientID: String, node: MailTestNode) async throws {
        let (status, body) = try await node.api("PATCH", "/api/v1/recipient-keys/\(recipientID)", body: ["key_data": key.publicKey])
        #expect(status == 200, "\(body)")
    }

    @Test func pgpMIMEWithProtectedHeadersCarriesTheMessageAttachmentsAndBanner() async throws {
        let (node, record, recipientID, home, keys) = try await Self.start()
        defer { node.shutdown() }
        try await node.sql("UPDATE users SET banner_location = 'top'")
        let key = try #require(keys[.rsa3072])
        try await Self.upload(key, to: recipientID, node: node)
        #expect(try await node.api("POST", "/api/v1/protected-headers-recipients", body: ["id": recipientID]).0 == 200)

        let attachment = node.folder + "/invoice.pdf"
        let attachmentBytes = Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try attachmentBytes.write(to: URL(fileURLWithPath: attachment))
        let (status, output) = try await node.sendMail(from: "bob@sender.test", to: "shop@relay.test", [
            "--header", "Subject: Your invoice 77", "--body", "Please find the invoice attached.",
            "--attach-type", "application/pdf", "--attach-name", "invoice.pdf", "--attach", "@\(attachment)",
        ])
        #expect(status == 0, "\(output)")
        #expect(await node.waitUntil { node.received().count == 1 }, "\(node.log)")
        let message = try #require(node.received().first?.message)
        #expect(!message.contains("invoice attached"), "nothing of the body in clear")
        #expect(!message.contains("Your invoice 77"), "the subject is inside only")
        let opened = try await Self.open(message, node: node, home: home)
        #expect(opened["outer_type"] as? String == "multipart/encrypted")
        #expect(opened["outer_protocol"] as? String == "application/pgp-encrypted")
        #expect(opened["version_part"] as? String == "application/pgp-encrypted")
        #expect(opened["version_text"] as? String == "Version: 1")
        #expect(opened["outer_subject"] as? String == "...")
        #expect(opened["inner_type"] as? String == "multipart/mixed")
        #expect(opened["protected_headers"] as? String == "v1")
        #expect(opened["inner_subject"] as? String == "Your invoice 77")
        #expect((opened["inner_from"] as? String)?.contains("shop+bob=sender.test@relay.test") == true, "the rewritten From, inside")
        #expect((opened["inner_to"] as? String)?.contains("shop@relay.test") == true)
        #expect(opened["inner_date"] is String)
        #expect(opened["crlf"] as? Bool == true, "the encrypted entity is in canonical CRLF form")
        let parts = try #require(opened["parts"] as? [[String: Any]])
        let text = try #require(parts.first { $0["type"] as? String == "text/plain" }?["text"] as? String)
        #expect(text.hasPrefix("This message was sent to shop@relay.test"), "the banner is inside: \(text)")
        #expect(text.contains("Please find the invoice attached."))
        let pdf = try #require(parts.first { $0["filename"] as? String == "invoice.pdf" })
        let (_, sum) = try await MailTestNode.run("sha256sum", [attachment])
        #expect(pdf["sha256"] as? String == sum.split(separator: " ").first.map(String.init))

        // The DKIM signature covers the encrypted message as sent.
        #expect(message.hasPrefix("DKIM-Signature: v=1; a=rsa-sha256;"))
        let file = node.folder + "/signed.eml"
        try message.write(toFile: file, atomically: true, encoding: .utf8)
        let (_, verdict) = try await MailTestNode.run("python3", [MailTestNode.tool("dkim_verify.py"), file, record])
        #expect(verdict.trimmingCharacters(in: .whitespacesAndNewlines) == "pass", "dkimpy: \(verdict)")
        // The node keeps the key in a keyring under its spool; a node without it (a new node, or a
        // lost keyring) imports it from the database.
        #expect(FileManager.default.fileExists(atPath: node.folder + "/spool/keyring/pubring.kbx"))
        node.stopServer()
        try FileManager.default.removeItem(atPath: node.folder + "/spool/keyring")
        try await node.startServer()
        try await node.sendMail(["--header", "Subject: after restart", "--body", "still secret"])
        #expect(await node.waitUntil { node.received().count == 2 }, "\(node.log)")
        let again = try await Self.open(try #require(node.received().last?.message), node: node, home: home)
        #expect(again["inner_subject"] as? String == "after restart")
        #expect(FileManager.default.fileExists(atPath: node.folder + "/spool/keyring/pubring.kbx"))
    }

    @Test func inlineForPlainTextPGPMIMEWithoutProtectedHeadersAndEncryptedMailUnchanged() async throws {
        let (node, _, recipientID, home, keys) = try await Self.start()
        defer { node.shutdown() }
        try await Self.upload(try #require(keys[.ed25519]), to: recipientID, node: node)

        // Inline: the text/plain body becomes armoured text; the header stays readable.
        #expect(try await node.api("POST", "/api/v1/inline-encrypted-recipients", body: ["id": recipientID]).0 == 200)
        try await node.sendMail(["--header", "Subject: plain one", "--body", "Grüße aus Köln", "--add-header",
                                 "Content-Type: text/plain; charset=utf-8", "--add-header", "Content-Transfer-Encoding: 8bit"])
        #expect(await node.waitUntil { node.received().count == 1 }, "\(node.log)")
        let inline = try await Self.open(try #require(node.received().last?.message), node: node, home: home)
        #expect(inline["inline"] as? Bool == true)
        #expect(inline["outer_subject"] as? String == "plain one")
        #expect((inline["text"] as? String)?.contains("Grüße aus Köln") == true, "\(inline)")

        // Inline asked, but the body is HTML and text: PGP/MIME, the subject outside (not protected).
        let html = node.folder + "/half.html"
        try "<p>html half</p>".write(toFile: html, atomically: true, encoding: .utf8)
        try await node.sendMail(["--header", "Subject: two parts", "--body", "text half", "--attach-type", "text/html",
                                 "--attach", "@\(html)"])
        #expect(await node.waitUntil { node.received().count == 2 }, "\(node.log)")
        let mime = try await Self.open(try #require(node.received().last?.message), node: node, home: home)
        #expect(mime["outer_type"] as? String == "multipart/encrypted")
        #expect(mime["outer_subject"] as? String == "two parts")
        #expect(mime["protected_headers"] is NSNull || mime["protected_headers"] == nil)
        let texts = (mime["parts"] as? [[String: Any]])?.compactMap { $0["text"] as? String } ?? []
        #expect(texts.contains { $0.contains("text half") } && texts.contains { $0.contains("html half") }, "\(mime)")

        // Mail encrypted by its sender passes as it is: not encrypted twice.
        let armored = node.folder + "/armored.txt"
        try "-----BEGIN PGP MESSAGE-----\n\nhQEMA1234567890\n=abcd\n-----END PGP MESSAGE-----\n"
            .write(toFile: armored, atomically: true, encoding: .utf8)
        let (sent, output) = try await node.sendMail(["--header", "Subject: already", "--body", armored])
        #expect(sent == 0, "\(output)")
        #expect(await node.waitUntil { node.received().count == 3 }, "\(node.log)")
        let already = try #require(node.received().last?.message)
        #expect(already.contains("hQEMA1234567890"))
        #expect(already.components(separatedBy: "BEGIN PGP MESSAGE").count == 2)
    }

    @Test func aKeyThatExpiredIsDeliveredWithAWarningAndEncryptionTurnedOff() async throws {
        let (node, _, recipientID, _, keys) = try await Self.start()
        defer { node.shutdown() }
        // The key expired after it was uploaded (the upload check would refuse it now).
        let key = try #require(keys[.expired])
        try await node.sql("UPDATE recipients SET public_key = ?, fingerprint = ?, should_encrypt = 1 WHERE id = ?",
                           [.text(key.publicKey), .text(key.fingerprint), .text(recipientID)])
        try await node.sendMail(["--header", "Subject: hello", "--body", "the body"])
        #expect(await node.waitUntil { node.received().count == 2 }, "\(node.log)")
        let messages = node.received().map(\.message)
        let forwarded = try #require(messages.first { $0.contains("Subject: hello") })
        #expect(forwarded.contains("[NOT ENCRYPTED] This message could not be encrypted to your OpenPGP key: the key expired on"))
        #expect(forwarded.contains("the body"))
        let notice = try #require(messages.first { $0.contains("Subject: Encryption to alice@dest.test is turned off") }, "\(messages)")
        #expect(notice.contains(key.fingerprint))
        let row = try await node.sql("SELECT should_encrypt FROM recipients WHERE id = ?", [.text(recipientID)])
        #expect(try row.rows.first?.int("should_encrypt") == 0)

        // Encryption is off now: the next message goes as it is, without a second notice.
        try await node.sendMail(["--header", "Subject: second", "--body", "plain now"])
        #expect(await node.waitUntil { node.received().count == 3 }, "\(node.log)")
        #expect(node.received().last?.message.contains("[NOT ENCRYPTED]") == false)
    }

    @Test func aCopyThatWaitedIsEncryptedToTheKeyTheMailboxHasNow() async throws {
        let (node, _, recipientID, home, keys) = try await Self.start()
        defer { node.shutdown() }
        try await Self.upload(try #require(keys[.ed25519]), to: recipientID, node: node)
        try node.setSinkMode("tempfail")
        try await node.sendMail(["--header", "Subject: waited", "--body", "for the new key"])
        #expect(await node.waitUntil { node.log.contains("deferred") }, "\(node.log)")
        // The owner replaces the key while the copy waits; the retry uses the new one.
        let newKey = try #require(keys[.rsa3072])
        try await Self.upload(newKey, to: recipientID, node: node)
        try node.setSinkMode("ok")
        #expect(await node.waitUntil { node.received().count == 1 }, "\(node.log)")
        let onlyNew = try GnuPGHome()
        try await onlyNew.gpg(["--import"], input: Array(try await home.secretKey(newKey.email).utf8))
        let opened = try await Self.open(try #require(node.received().last?.message), node: node, home: onlyNew)
        #expect(opened["inner_subject"] as? String == nil || opened["outer_subject"] as? String == "waited")
        let texts = (opened["parts"] as? [[String: Any]])?.compactMap { $0["text"] as? String } ?? []
        #expect(texts.contains { $0.contains("for the new key") }, "\(opened)")
    }

    @Test func aRevokedKeyHoldsTheMessageAsAFailedDeliveryUntilAGoodKeyIsUploaded() async throws {
        let (node, _, recipientID, home, keys) = try await Self.start()
        defer { node.shutdown() }
        #expect(try await node.api("PATCH", "/api/v1/account-details", body: ["encryption_key_failure": "hold"]).0 == 200)
        let (badSetting, badBody) = try await node.api("PATCH", "/api/v1/account-details", body: ["encryption_key_failure": "drop"])
        #expect(badSetting == 422 && "\(badBody)".contains("deliver, hold"))
        let revoked = try #require(keys[.revoked])
        try await node.sql("UPDATE recipients SET public_key = ?, fingerprint = ?, should_encrypt = 1 WHERE id = ?",
                           [.text(revoked.publicKey), .text(revoked.fingerprint), .text(recipientID)])
        try await node.sendMail(["--header", "Subject: secret plans", "--body", "nobody may read this"])
        let failures = try await node.failedDeliveries()
        #expect(failures.count == 1)
        let failure = try #require(failures.first)
        #expect(failure["status"] as? String == "5.7.0")
        #expect((failure["code"] as? String)?.contains("has been revoked") == true, "\(failure)")
        #expect(await node.waitUntil { node.received().count == 1 }, "\(node.log)")
        let notice = try #require(node.received().first?.message)
        #expect(notice.contains("Subject: Mail to alice@dest.test is held"), "\(notice)")
        #expect(!node.received().contains { $0.message.contains("nobody may read this") })
        let row = try await node.sql("SELECT should_encrypt FROM recipients WHERE id = ?", [.text(recipientID)])
        #expect(try row.rows.first?.int("should_encrypt") == 1, "held, not turned off")

        // A good key, then the held message again: it arrives encrypted to the new key.
        try await Self.upload(try #require(keys[.nistp256]), to: recipientID, node: node)
        let id = try #require(failure["id"] as? String)
        let (resent, body) = try await node.api("POST", "/api/v1/failed-deliveries/\(id)/resend")
        #expect(resent == 200 || resent == 202, "\(body)")
        #expect(await node.waitUntil { node.received().count == 2 }, "\(node.log)")
        let message = try #require(node.received().last?.message)
        #expect(!message.contains("nobody may read this"))
        let opened = try await Self.open(message, node: node, home: home)
        let texts = (opened["parts"] as? [[String: Any]])?.compactMap { $0["text"] as? String } ?? []
        #expect(texts.contains { $0.contains("nobody may read this") }, "\(opened)")
    }
}
