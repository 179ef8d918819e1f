import MailCore
import Testing

/// The shapes of encrypted copies, as pure values (what is encrypted, and what goes around it).
@Suite struct EncryptedMessageTests {
    static let multipart = Array("""
        From: Bob <shop+bob=sender.test@relay.test>\r
        To: shop@relay.test\r
        Subject: Invoice\r
        Date: Mon, 23 Nov 2026 10:00:00 +0000\r
        Message-ID: <1@sender.test>\r
        MIME-Version: 1.0\r
        Content-Type: multipart/mixed;\r
         boundary="b1"\r
        X-Postern-Alias: shop@relay.test\r
        \r
        --b1\r
        Content-Type: text/plain\r
        \r
        hello\r
        --b1--\r

        """.utf8)

    @Test func pgpMIMEWithProtectedHeadersMovesTheHeaderInsideAndHidesTheSubject() {
        let plan = EncryptedMessage.plan(Self.multipart, inline: true, protectedHeaders: true, boundary: "enc-1")
        let inner = String(decoding: plan.plaintext, as: UTF8.self)
        #expect(inner == """
            From: Bob <shop+bob=sender.test@relay.test>\r
            To: shop@relay.test\r
            Subject: Invoice\r
            Date: Mon, 23 Nov 2026 10:00:00 +0000\r
            Message-ID: <1@sender.test>\r
            Content-Type: multipart/mixed;\r
             boundary="b1"; protected-headers="v1"\r
            \r
            --b1\r
            Content-Type: text/plain\r
            \r
            hello\r
            --b1--\r

            """)
        let outer = String(decoding: plan.assemble(armored: Array("ARMOR\r\n".utf8)), as: UTF8.self)
        #expect(outer.hasPrefix("""
            From: Bob <shop+bob=sender.test@relay.test>\r
            To: shop@relay.test\r
            Subject: ...\r
            Date: Mon, 23 Nov 2026 10:00:00 +0000\r
            Message-ID: <1@sender.test>\r
            X-Postern-Alias: shop@relay.test\r
            MIME-Version: 1.0\r
            Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";\r
             boundary="enc-1"\r
            \r

            """), "\(outer)")
        #expect(outer.contains("\r\n--enc-1\r\nContent-Type: application/pgp-encrypted\r\n"))
        #expect(outer.contains("\r\nVersion: 1\r\n"))
        #expect(outer.hasSuffix("filename=\"encrypted.asc\"\r\n\r\nARMOR\r\n\r\n--enc-1--\r\n"))
        #expect(!outer.contains("Invoice"))
        #expect(!outer.contains("boundary=\"b1\""), "the original content fields are inside only")
    }

    @Test func withoutProtectedHeadersOnlyContentFieldsGoInside() {
        let plan = EncryptedMessage.plan(Self.multipart, inline: false, protectedHeaders: false, boundary: "enc-2")
        let inner = String(decoding: plan.plaintext, as: UTF8.self)
        #expect(inner.hasPrefix("Content-Type: multipart/mixed;\r\n boundary=\"b1\"\r\n\r\n--b1\r\n"))
        #expect(String(decoding: plan.assemble(armored: []), as: UTF8.self).contains("\r\nSubject: Invoice\r\n"))
    }

    @Test func aMessageWithoutContentTypeGetsTheDefaultInside() {
        let message = Array("Subject: hi\r\n\r\nbody\r\n".utf8)
        let plan = EncryptedMessage.plan(message, inline: false, protectedHeaders: true, boundary: "e")
        #expect(String(decoding: plan.plaintext, as: UTF8.self)
            == "Subject: hi\r\nContent-Type: text/plain; charset=us-ascii; protected-headers=\"v1\"\r\n\r\nbody\r\n")
    }

    @Test func inlineEncryptsTheDecodedTextAndKeepsTheHeader() {
        let message = Array("""
            Subject: hi\r
            Content-Type: text/plain; charset=utf-8\r
            Content-Transfer-Encoding: quoted-printable\r
            \r
            Gr=C3=BC=C3=9Fe\r

            """.utf8)
        let plan = EncryptedMessage.plan(message, inline: true, protectedHeaders: true, boundary: "e")
        #expect(String(decoding: plan.plaintext, as: UTF8.self) == "Grüße\r\n")
        #expect(String(decoding: plan.assemble(armored: Array("ARMOR\r\n".utf8)), as: UTF8.self) == """
            Subject: hi\r
            Content-Type: text/plain; charset=utf-8\r
            Content-Transfer-Encoding: 7bit\r
            \r
            ARMOR\r

            """)
    }

    @Test func encryptedMailIsRecognised() {
        #expect(EncryptedMessage.isEncrypted(Array("Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=x\r\n\r\n".utf8)))
        #expect(EncryptedMessage.isEncrypted(Array("Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\r\nMIA=\r\n".utf8)))
        #expect(EncryptedMessage.isEncrypted(Array("Subject: x\r\n\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n\r\nhQ==\r\n-----END PGP MESSAGE-----\r\n".utf8)))
        // Readable text around an armoured block is not "already encrypted"; nor is signed-only S/MIME.
        #expect(!EncryptedMessage.isEncrypted(Array("Subject: x\r\n\r\nHi,\r\n-----BEGIN PGP MESSAGE-----\r\n\r\nhQ==\r\n-----END PGP MESSAGE-----\r\n".utf8)))
        #expect(!EncryptedMessage.isEncrypted(Array("Content-Type: application/pkcs7-mime; smime-type=signed-data\r\n\r\nMIA=\r\n".utf8)))
        // "-----BEGIN PGP MESSAGE-----\n\nhQ==\n-----END PGP MESSAGE-----\n"
        let base64 = "LS0tLS1CRUdJTiBQR1AgTUVTU0FHRS0tLS0tCgpoUT09Ci0tLS0tRU5EIFBHUCBNRVNTQUdFLS0tLS0K"
        #expect(EncryptedMessage.isEncrypted(Array("Content-Transfer-Encoding: base64\r\n\r\n\(base64)\r\n".utf8)))
        #expect(!EncryptedMessage.isEncrypted(Array("Subject: x\r\n\r\nquoting -----BEGIN PGP MESSAGE----- mid-line\r\n".utf8)))
        #expect(!EncryptedMessage.isEncrypted(Self.multipart))
    }
}
