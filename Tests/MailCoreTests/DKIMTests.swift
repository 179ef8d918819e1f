import Foundation
import TestSupport
import Testing

@testable import MailCore

@Suite struct DKIMCanonicalizationTests {
    /// RFC 6376 §3.4.5's example.
    @Test func relaxedAsInTheRFC() {
        let message = Array("A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n".utf8)
        let (fields, bodyStart) = HeaderField.split(message)
        #expect(fields.map(\.name) == ["A", "B"])
        #expect(fields.flatMap { DKIMCanonicalization.relaxedHeader($0.raw) } == Array("a:X\r\nb:Y Z\r\n".utf8))
        #expect(DKIMCanonicalization.relaxedBody(message[bodyStart...]) == Array(" C\r\nD E\r\n".utf8))
        #expect(DKIMCanonicalization.relaxedBody([][...]).isEmpty)
        #expect(DKIMCanonicalization.relaxedBody(Array("\r\n\r\n".utf8)[...]).isEmpty)
        #expect(DKIMCanonicalization.relaxedBody(Array("x".utf8)[...]) == Array("x\r\n".utf8))
        // Blank-only lines count as empty and are kept between lines with content; leading blanks become
        // one space; a lone CR or LF is content.
        #expect(DKIMCanonicalization.relaxedBody(Array("\t\r\na  b\r\n \r\n\r\n \tc\r\nd\re\nf \r\n \r\n".utf8)[...])
            == Array("\r\na b\r\n\r\n\r\n c\r\nd\re\nf\r\n".utf8))
    }
}

@Suite struct DKIMSimpleCanonicalizationTests {
    /// RFC 6376 §3.4.5's example, "simple": fields as they are, the body without its trailing empty lines.
    @Test func simpleAsInTheRFC() {
        let message = Array("A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n".utf8)
        let (fields, bodyStart) = HeaderField.split(message)
        #expect(fields.flatMap { DKIMCanonicalization.simpleHeader($0.raw) } == Array("A: X\r\nB : Y\t\r\n\tZ  \r\n".utf8))
        #expect(DKIMCanonicalization.simpleHeader(fields[1].raw, withLineEnd: false) == Array("B : Y\t\r\n\tZ  ".utf8))
        #expect(DKIMCanonicalization.simpleBody(message[bodyStart...]) == Array(" C \r\nD \t E\r\n".utf8))
        // An empty body is one line end (§3.4.3), and a body without a final line end gets one.
        #expect(DKIMCanonicalization.simpleBody([][...]) == [13, 10])
        #expect(DKIMCanonicalization.simpleBody(Array("\r\n\r\n".utf8)[...]) == [13, 10])
        #expect(DKIMCanonicalization.simpleBody(Array("x".utf8)[...]) == Array("x\r\n".utf8))
    }
}

/// Signatures checked by dkimpy, an independent verifier, given the public key as DNS would publish it.
@Suite struct DKIMSigningTests {
    static let message = """
        From: "Bob Example" <bob@sender.test>\r
        To: shop@relay.test\r
        Subject: =?UTF-8?B?w6l0w6k=?= and a folded\r
          subject line\r
        Date: Mon, 23 Nov 2026 10:00:00 +0000\r
        Message-ID: <1@sender.test>\r
        MIME-Version: 1.0\r
        Content-Type: text/plain; charset=utf-8\r
        \r
        Hello  there,   \r
        \r
        .a dot and trailing blanks\t\r
        \r
        \r

        """

    func verify(_ signed: [UInt8], record: String) async throws -> String {
        let file = NSTemporaryDirectory() + "dkim-\(UUID().uuidString).eml"
        try Data(signed).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let (status, output) = try await MailTestNode.run("python3", [MailTestNode.tool("dkim_verify.py"), file, record])
        #expect(status == 0, "\(output)")
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test(arguments: DKIMKey.Algorithm.allCases)
    func signaturesVerifyIndependently(algorithm: DKIMKey.Algorithm) async throws {
        let key = try DKIMKey.generate(algorithm)
        let reloaded = try DKIMKey(pem: key.pemRepresentation)
        #expect(reloaded.dnsRecord == key.dnsRecord, "the PEM file gives back the same key")
        let signer = DKIMSigner(domain: "relay.test", selector: "s1", key: reloaded)
        let message = Array(Self.message.utf8)
        let field = try signer.signatureField(for: message)
        let text = String(decoding: field, as: UTF8.self)
        #expect(text.hasPrefix("DKIM-Signature: v=1; a=\(algorithm.tag); c=relaxed/relaxed; d=relay.test; s=s1;"))
        #expect(text.contains("h=from:from:subject:date:to:message-id:mime-version:content-type;"), "\(text)")
        #expect(try await verify(field + message, record: key.dnsRecord) == "pass")
        // A hop that adds its own trace line and rewrites nothing keeps the signature valid.
        let relayed = Array("Received: from mx.relay.test by mx.dest.test; Mon, 23 Nov 2026 10:00:01 +0000\r\n".utf8) + field + message
        #expect(try await verify(relayed, record: key.dnsRecord) == "pass")
        // A changed body or Subject does not verify.
        var tampered = field + message
        tampered[tampered.count - 10] = UInt8(ascii: "X")
        #expect(try await verify(tampered, record: key.dnsRecord) == "fail")
        let otherKey = try DKIMKey.generate(algorithm)
        #expect(try await verify(field + message, record: otherKey.dnsRecord) == "fail")
    }

    /// RSA signatures come from the system's libcrypto; PKCS #1 v1.5 is deterministic, so they are
    /// the very bytes swift-crypto makes with the same key.
    @Test func libcryptoAndSwiftCryptoSignAlike() throws {
        let key = try DKIMKey(pem: try DKIMKey.generate(.rsa).pemRepresentation)
        #expect(key.usesSystemRSA)
        for size in [0, 1, 100, 5_000] {
            let data = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let fast = try #require(key.systemRSASignature(data), "libcrypto signed")
            #expect(fast.count == 256)
            #expect(fast == (try key.sign(data)))
            #expect(fast == (try key.sign(data, bySwiftCrypto: true)), "size \(size)")
        }
        #expect(try DKIMKey.generate(.rsa).usesSystemRSA, "a generated key too")
        #expect(!(try DKIMKey.generate(.ed25519).usesSystemRSA))
    }

    @Test func badKeysAreRefused() {
        #expect(throws: DKIMKey.Failure.unreadable) { try DKIMKey(pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n") }
        #expect(throws: DKIMKey.Failure.unreadable) { try DKIMKey(pem: "") }
    }
}
