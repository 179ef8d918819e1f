import DNS
import Foundation
import MailAuth
import MailCore
import Testing

/// The checks of signatures and key records, with signatures made by Postern's own signer (relaxed/relaxed,
/// From oversigned) and keys served by a fixed zone.
@Suite struct DKIMVerifierTests {
    static let message = Array("""
        From: ann@relay.test\r
        To: bob@dest.test\r
        Subject: Hello\r
        Date: Mon, 23 Nov 2026 10:00:00 +0000\r
        \r
        Body text.\r

        """.utf8)
    static let signedAt = Date(timeIntervalSince1970: 1_795_000_000)
    static let keyName = "s1._domainkey.relay.test"

    /// A message signed with a new key of `algorithm`, and that key's record.
    static func signed(_ algorithm: DKIMKey.Algorithm = .ed25519) throws -> (message: [UInt8], record: String) {
        let key = try DKIMKey.generate(algorithm)
        let field = try DKIMSigner(domain: "relay.test", selector: "s1", key: key).signatureField(for: message, at: signedAt)
        return (field + message, key.dnsRecord)
    }

    static func verify(_ message: [UInt8], record: String?, now: Date = signedAt) async -> DKIMVerdict? {
        let zone = ZoneDNS(records: record.map { [keyName: [.txt(DKIMExampleTests.splitTXT($0))]] } ?? [:])
        let verdicts = await DKIMVerifier(dns: zone, now: { now }).verify(message)
        #expect(verdicts.count == 1)
        return verdicts.first
    }

    /// `message` with its first occurrence of `old` replaced.
    static func edit(_ message: [UInt8], _ old: String, _ new: String) -> [UInt8] {
        let text = String(decoding: message, as: UTF8.self)
        guard let range = text.range(of: old) else {
            Issue.record("no \(old) in the message")
            return message
        }
        return Array(text.replacingCharacters(in: range, with: new).utf8)
    }

    @Test(arguments: DKIMKey.Algorithm.allCases)
    func ownSignaturesPassAndOversignedFromHolds(_ algorithm: DKIMKey.Algorithm) async throws {
        let (message, record) = try Self.signed(algorithm)
        #expect(await Self.verify(message, record: record) == DKIMVerdict(result: .pass, domain: "relay.test", selector: "s1"))
        // From is in h= once more than it appears: a second From, above or below, breaks the signature.
        let added = Self.edit(message, "To: bob", "From: mallory@evil.test\r\nTo: bob")
        #expect(await Self.verify(added, record: record)?.result == .fail)
        // A field that is not signed may be added.
        let trace = Self.edit(message, "To: bob", "X-Trace: 1\r\nTo: bob")
        #expect(await Self.verify(trace, record: record)?.result == .pass)
    }

    @Test func signatureTagsAreChecked() async throws {
        let (message, record) = try Self.signed()
        let cases: [(String, String, DKIMResult, String)] = [
            ("a=ed25519-sha256", "a=rsa-sha1", .policy, "rsa-sha1"),
            ("a=ed25519-sha256", "a=ed448-sha512", .permerror, "unsupported"),
            ("v=1;", "v=2;", .permerror, "version"),
            ("v=1;", "v=1; i=@other.test;", .permerror, "i="),
            // Accepted tags, but added after signing: the checks let them through to the signature, which breaks.
            ("v=1;", "v=1; i=news@sub.relay.test;", .fail, "does not verify"),
            ("h=from:from:", "h=", .permerror, "From"),
            ("v=1;", "v=1; q=http/well-known;", .permerror, "q="),
            ("c=relaxed/relaxed", "c=relaxed/fancy", .permerror, "canonicalization"),
            ("v=1;", "v=1; s=s2;", .permerror, "tag list"),
            ("v=1;", "v=1; x=1795003600;", .fail, "does not verify"),
            ("v=1;", "v=1; x=1794999000;", .permerror, "x="),
            ("v=1;", "v=1; l=100000;", .fail, "l="),
            ("bh=", "bh=AAAA", .fail, "body hash"),
        ]
        for (old, new, result, reason) in cases {
            let verdict = await Self.verify(Self.edit(message, old, new), record: record)
            #expect(verdict?.result == result, "\(new)")
            if !reason.isEmpty {
                #expect(verdict?.reason.contains(reason) == true, "\(new): \(verdict?.reason ?? "")")
            }
        }
        // Expired by the verification time.
        let expiring = Self.edit(message, "v=1;", "v=1; x=1795003600;")
        #expect(await Self.verify(expiring, record: record, now: Self.signedAt.addingTimeInterval(7200))?.result == .permerror)
    }

    @Test func keyRecordsAreChecked() async throws {
        let (message, record) = try Self.signed()
        let key = record.components(separatedBy: "p=")[1]
        let cases: [(String?, DKIMResult, String)] = [
            (nil, .permerror, "no key"),
            ("k=ed25519; p=\(key)", .pass, ""),
            ("v=DKIM1; k=ed25519; h=sha256:sha1; s=email; t=y:s; p=\(key)", .pass, ""),
            ("v=DKIM1; k=ed25519; p=", .permerror, "revoked"),
            ("v=DKIM1; k=rsa; p=\(key)", .permerror, "k=rsa"),
            ("v=DKIM1; p=\(key)", .permerror, "k=rsa"),
            ("k=ed25519; v=DKIM1; p=\(key)", .permerror, "v="),
            ("v=DKIM2; k=ed25519; p=\(key)", .permerror, "v="),
            ("v=DKIM1; k=ed25519; h=sha1; p=\(key)", .permerror, "h="),
            ("v=DKIM1; k=ed25519; s=tlsrpt; p=\(key)", .permerror, "s="),
            ("v=DKIM1; k=ed25519; p=AAAA", .permerror, "Ed25519"),
            ("v=DKIM1; k=ed25519; p=\(key); p=\(key)", .permerror, "tag list"),
        ]
        for (text, result, reason) in cases {
            let verdict = await Self.verify(message, record: text)
            #expect(verdict?.result == result, "\(text ?? "no record")")
            if !reason.isEmpty {
                #expect(verdict?.reason.contains(reason) == true, "\(text ?? ""): \(verdict?.reason ?? "")")
            }
        }
        // t=s: i= must be d= itself.
        let subdomain = Self.edit(message, "v=1;", "v=1; i=@sub.relay.test;")
        #expect(await Self.verify(subdomain, record: "k=ed25519; t=s; p=\(key)")?.result == .permerror)
        // A lookup that fails is a temporary error.
        let failing = await DKIMVerifier(dns: ZoneDNS(failing: [Self.keyName])).verify(message)
        #expect(failing.map(\.result) == [.temperror])
    }

    @Test func rsaKeysAsSubjectPublicKeyInfoOrPKCS1() async throws {
        let (message, record) = try Self.signed(.rsa)
        #expect(await Self.verify(message, record: record)?.result == .pass)
        // The same key as a PKCS #1 RSAPublicKey: a 2048-bit SubjectPublicKeyInfo is 24 octets of header
        // around it.
        let spki = try #require(Data(base64Encoded: record.components(separatedBy: "p=")[1]))
        let pkcs1 = spki.dropFirst(24)
        #expect(Array(pkcs1.prefix(4)) == [0x30, 0x82, 0x01, 0x0a])
        #expect(await Self.verify(message, record: "v=DKIM1; p=\(pkcs1.base64EncodedString())")?.result == .pass)
        // Another key of the same size: the signature does not verify.
        let other = try DKIMKey.generate(.rsa).dnsRecord
        #expect(await Self.verify(message, record: other)?.result == .fail)
    }

    @Test func shortRSAKeysDoNotPass() async throws {
        let (message, _) = try Self.signed(.rsa)
        let folder = NSTemporaryDirectory() + "dkim-short-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let spki = try await DKIMDnsmasqTests.Lab.makeKey(in: folder, name: "short",
                                                           ["-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:768"])
        let verdict = await Self.verify(message, record: "v=DKIM1; k=rsa; p=\(spki.base64EncodedString())")
        #expect(verdict?.result == .policy)
        #expect(verdict?.reason.contains("768 bits") == true, "\(verdict?.reason ?? "")")
    }

    @Test func signaturesPastTheCapAreIgnored() async throws {
        let (message, record) = try Self.signed()
        let text = String(decoding: message, as: UTF8.self)
        let field = text[..<(try #require(text.range(of: "From: ann")).lowerBound)]
        let twice = Array((field + text).utf8)
        let zone = ZoneDNS(records: [Self.keyName: [.txt(DKIMExampleTests.splitTXT(record))]])
        #expect(await DKIMVerifier(dns: zone, now: { Self.signedAt }).verify(twice).map(\.result) == [.pass, .pass])
        #expect(await DKIMVerifier(dns: zone, now: { Self.signedAt }, maxSignatures: 1).verify(twice).count == 1)
    }
}
