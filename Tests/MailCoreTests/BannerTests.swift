import Foundation
import MailCore
import Testing

/// The banner over the corpus: in the right parts, in every transfer encoding and charset, nowhere else.
@Suite struct BannerTests {
    let alias = EmailAddress(localPart: "shop", domain: "relay.test")
    let link = "https://relay.test/deactivate/a1?signature=00ff"

    /// How many parts of each corpus message get the banner (a text/plain and a text/html at most).
    static let expectedTargets: [String: Int] = [
        "alternative-inline.eml": 2, "attachment.eml": 1, "base64-utf8.eml": 1, "eightbit.eml": 1, "encrypted.eml": 0,
        "folded.eml": 1, "html-only.eml": 1, "multi-from.eml": 1, "no-from.eml": 1, "plain.eml": 1, "rfc2047.eml": 1,
        "signed.eml": 0, "utf8-headers.eml": 1,
    ]

    struct Leaf {
        var type: String
        var raw: [UInt8]
        var decoded: [UInt8]
    }

    static func leaves(_ message: [UInt8]) -> [Leaf] {
        MIMEEntity(message: message).allEntities.filter { $0.parts.isEmpty }.map { entity in
            let encoding = TransferEncoding(entity.field("Content-Transfer-Encoding")?.value)
            return Leaf(type: entity.contentType.mimeType, raw: Array(message[entity.bodyRange]),
                        decoded: encoding.decode(message[entity.bodyRange]))
        }
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return needle.isEmpty }
        return (0...(haystack.count - needle.count)).contains { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }

    @Test(arguments: ForwardedMessageTests.names, [ForwardingStyle.BannerLocation.top, .bottom])
    func bannerInEveryTextPartAndNowhereElse(_ name: String, location: ForwardingStyle.BannerLocation) throws {
        let original = try ForwardedMessageTests.load(name)
        let plain = ForwardedMessage.rewrite(original, alias: alias, envelopeSender: nil, style: .init(banner: .off))
        let out = ForwardedMessage.rewrite(original, alias: alias, envelopeSender: nil, style: .init(banner: location),
                                           deactivateLink: link)
        #expect(HeaderField.split(out).fields.map(\.raw).map(Array.init) == HeaderField.split(plain).fields.map(\.raw).map(Array.init),
                "the message header is the same with or without a banner")
        let before = Self.leaves(plain)
        let after = Self.leaves(out)
        #expect(before.count == after.count, "the MIME structure is kept")
        var changed = 0
        for (old, new) in zip(before, after) where old.raw != new.raw {
            changed += 1
            let text = String(decoding: new.decoded, as: UTF8.self)
            #expect(text.contains("This message was sent to") && text.contains("shop@relay.test"), "\(name): \(text.prefix(300))")
            #expect(text.contains("relay.test/deactivate/a1?signature=00ff"))
            #expect(Self.contains(new.decoded, old.decoded) || old.type == "text/html", "the text itself is all there")
            if old.type == "text/html" {
                let html = String(decoding: new.decoded, as: UTF8.self)
                let start = try #require(html.range(of: "<div style="))
                let end = try #require(html.range(of: "</div>", range: start.upperBound..<html.endIndex))
                var without = html
                without.removeSubrange(start.lowerBound..<end.upperBound)
                #expect(without.trimmingCharacters(in: .newlines) == String(decoding: old.decoded, as: UTF8.self).trimmingCharacters(in: .newlines),
                        "only the banner (and a line end) was added to the HTML")
            }
            let encoded = new.raw != new.decoded
            for line in new.raw.split(separator: 10) {
                #expect(line.count <= (encoded ? 77 : 998), "line length: \(String(decoding: line, as: UTF8.self))")
            }
        }
        #expect(changed == Self.expectedTargets[name], "\(name): \(changed) parts changed")
    }

    @Test func placementInHTMLAndPlainText() throws {
        let html = try ForwardedMessageTests.load("html-only.eml")
        let top = ForwardedMessage.rewrite(html, alias: alias, envelopeSender: nil, style: .init(banner: .top))
        let topText = String(decoding: try #require(Self.leaves(top).first).decoded, as: UTF8.self)
        #expect(topText.hasPrefix("<html><body><div style="), "right after <body>: \(topText)")
        #expect(topText.contains("Café sale!"), "the QP-encoded UTF-8 text decodes as before")
        let bottom = ForwardedMessage.rewrite(html, alias: alias, envelopeSender: nil, style: .init(banner: .bottom))
        let bottomText = String(decoding: try #require(Self.leaves(bottom).first).decoded, as: UTF8.self)
        #expect(bottomText.contains("</div></body></html>"), "right before </body>: \(bottomText)")

        let plain = try ForwardedMessageTests.load("plain.eml")
        let plainTop = ForwardedMessage.rewrite(plain, alias: alias, envelopeSender: nil, style: .init(banner: .top))
        let body = String(decoding: try #require(Self.leaves(plainTop).first).decoded, as: UTF8.self)
        #expect(body.hasPrefix("This message was sent to shop@relay.test\r\nfrom bob@example.com, and forwarded by Postern.\r\n\r\nHello,"))
    }

    @Test func charsetsTheBannerCannotUseGetASCII() throws {
        let utf8Sender = EmailAddress(localPart: "jörg", domain: "bücher.example")
        let latin1 = try ForwardedMessageTests.load("eightbit.eml")
        let out = ForwardedMessage.rewrite(latin1, alias: alias, envelopeSender: utf8Sender, style: .init(banner: .top))
        let leaf = try #require(Self.leaves(out).first)
        #expect(leaf.decoded.allSatisfy { $0 < 128 || $0 == 0xE9 || $0 == 0xE8 }, "no UTF-8 in an ISO-8859-1 part")
        #expect(Self.contains(leaf.decoded, [0x43, 0x61, 0x66, 0xE9]), "the Latin-1 text is kept byte for byte")
        let utf8 = try ForwardedMessageTests.load("base64-utf8.eml")
        let b64 = ForwardedMessage.rewrite(utf8, alias: alias, envelopeSender: nil, style: .init(banner: .bottom))
        let text = String(decoding: try #require(Self.leaves(b64).first).decoded, as: UTF8.self)
        #expect(text.hasPrefix("Grüße, Jörg"))
        #expect(text.contains("from joerg@example.de"))
    }

    @Test func transferEncodingsRoundTrip() {
        let samples: [[UInt8]] = [
            Array("plain ascii\r\nline two with = sign and trailing space \r\n".utf8),
            Array("Grüße ".utf8) + [0, 255, 9] + Array(String(repeating: "x", count: 200).utf8),
        ]
        for sample in samples {
            for encoding in [TransferEncoding.quotedPrintable, .base64] {
                let encoded = encoding.encode(sample)
                #expect(encoding.decode(encoded[...]) == sample, "\(encoding)")
                #expect(encoded.split(separator: 10).allSatisfy { $0.count <= 77 })
            }
        }
        #expect(TransferEncoding.quotedPrintable.decode(Array("a=3Db=\r\nc=C3=A9".utf8)[...]) == Array("a=bcé".utf8))
    }

    @Test func deactivationLinksVerifyOnlyForTheirAlias() {
        let made = DeactivationLink.make(base: "https://relay.test/", aliasID: "a1", secret: "s")
        // HMAC-SHA256 keyed "postern-deactivate:s" over "a1", its first 16 octets in hex (Python's hmac).
        #expect(made == "https://relay.test/deactivate/a1?signature=8dc7a8f55b95e62b44737c86fff1aa82")
        #expect(NodeSignature.lowercaseHex([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        let signature = String(made.split(separator: "=").last ?? "")
        #expect(DeactivationLink.verify(aliasID: "a1", signature: signature, secrets: ["new", "s"]))
        #expect(!DeactivationLink.verify(aliasID: "a2", signature: signature, secrets: ["s"]))
        #expect(!DeactivationLink.verify(aliasID: "a1", signature: "00", secrets: ["s"]))
    }
}
