import MailCore
import Testing

/// The rewrite of a message a user sends through a reverse alias, as pure values.
@Suite struct ReplyMessageTests {
    let alias = EmailAddress(localPart: "shop", domain: "relay.test")
    let owner = EmailAddress(localPart: "alice", domain: "dest.test")

    func rewrite(_ text: String, display: String? = nil) -> String {
        let bytes = ReplyMessage.rewrite(Array(text.utf8), alias: alias, displayName: display, hiddenAddresses: [owner],
                                         messageID: "<new@relay.test>")
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func theHeaderIsRebuiltFromTheAllowlist() {
        let out = rewrite("""
            Received: from laptop (192.0.2.9)\r
            Return-Path: <alice@dest.test>\r
            From: Alice <alice@dest.test>\r
            Sender: alice@dest.test\r
            Reply-To: alice@dest.test\r
            To: "bob at sender.test" <shop+bob=sender.test@relay.test>\r
            Cc: team: carol <shop+carol=x.test@relay.test>, alice@dest.test;, dave@elsewhere.test\r
            Subject: Re: hello\r
            Date: Mon, 23 Nov 2026 10:00:00 +0000\r
            Message-ID: <secret@laptop.dest.test>\r
            In-Reply-To: <a@sender.test>\r
            References: <a@sender.test>\r
            X-Mailer: Secret Client\r
            User-Agent: Secret\r
            DKIM-Signature: v=1; d=dest.test\r
            MIME-Version: 1.0\r
            Content-Type: text/plain; charset=utf-8\r
            \r
            Hi Bob,\r
            write to ALICE@dest.test any time.\r
            """, display: "Shop")
        let header = String(out[..<out.range(of: "\r\n\r\n")!.lowerBound])
        #expect(header.hasPrefix("From: \"Shop\" <shop@relay.test>\r\n"))
        #expect(header.contains("\r\nTo: \"bob at sender.test\" <bob@sender.test>\r\n"))
        #expect(header.contains("Cc: team: carol <carol@x.test>, <shop@relay.test>;, dave@elsewhere.test"), "\(header)")
        #expect(header.contains("\r\nMessage-ID: <new@relay.test>"))
        for kept in ["Subject: Re: hello", "Date: Mon, 23 Nov 2026", "In-Reply-To: <a@sender.test>", "References: <a@sender.test>",
                     "MIME-Version: 1.0", "Content-Type: text/plain"] {
            #expect(header.contains(kept), "\(kept)")
        }
        for dropped in ["Received", "Return-Path", "Sender", "\r\nReply-To", "X-Mailer", "User-Agent", "DKIM-Signature", "secret", "alice"] {
            #expect(!header.contains(dropped), "\(dropped) must go: \(header)")
        }
        #expect(out.hasSuffix("\r\n\r\nHi Bob,\r\nwrite to shop@relay.test any time.\r"), "\(out)")
    }

    @Test func quotedPrintableAndHTMLPartsLoseTheRealAddressButAttachmentsAreKept() {
        let out = rewrite("""
            From: alice@dest.test\r
            To: shop+bob=sender.test@relay.test\r
            Content-Type: multipart/mixed; boundary="b"\r
            \r
            --b\r
            Content-Type: text/html; charset=utf-8\r
            Content-Transfer-Encoding: quoted-printable\r
            \r
            <p>From alice@dest.=\r
            test</p>\r
            --b\r
            Content-Type: text/plain\r
            Content-Disposition: attachment; filename=a.txt\r
            \r
            alice@dest.test stays in a file\r
            --b--\r
            """)
        #expect(out.contains("<p>From shop@relay.test</p>"), "\(out)")
        #expect(out.contains("alice@dest.test stays in a file"))
        #expect(out.contains("\r\nDate: "), "a Date is added when the message has none")
    }

    @Test func theOwnersMessageIDsAndBannerLinksDoNotGoBack() {
        let out = rewrite("""
            From: alice@dest.test\r
            To: shop+bob=sender.test@relay.test\r
            In-Reply-To: <b2@sender.test>\r
            References: <b1@sender.test> <a1@dest.test>\r
             <b2@sender.test>\r
            \r
            > This message was sent to shop@relay.test\r
            > Deactivate this alias: http://relay.test/deactivate/6459c516-dfb2-4be5-99cc-03c96a18fdd9?signature=3768c44c172e6a14\r
            """)
        #expect(out.contains("\r\nIn-Reply-To: <b2@sender.test>\r\n"))
        #expect(out.contains("\r\nReferences: <b1@sender.test> <b2@sender.test>\r\n"), "\(out)")
        #expect(!out.contains("a1@dest.test"))
        #expect(out.contains("http://relay.test/deactivate/(link removed)\r") && !out.contains("signature="), "\(out)")
    }
}
